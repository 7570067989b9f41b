"""Hostile and broken files: each costs one recorded failure, never the process."""

from __future__ import annotations

import os
import signal
import struct
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from midst_desktop.classify.extract import extract_file
from midst_desktop.classify.extract.base import MEMORY_MESSAGE
from midst_desktop.classify.extract.isolation import ExtractorPool, Limits
from midst_desktop.classify.extract.probes import PROBES_VARIABLE
from tests.support import samples


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractorPool]:
    with ExtractorPool(Limits(timeout_seconds=5, memory_mb=1024)) as shared:
        yield shared


def write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def cut(data: bytes) -> bytes:
    return data[: len(data) // 2]


def assert_still_serving(pool: ExtractorPool, tmp_path: Path) -> None:
    good = pool.extract(write(tmp_path, "good.pdf", samples.pdf([["fine"]])))
    assert good.error is None
    assert "fine" in good.text


def _plain_zip() -> bytes:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return out.getvalue()


def _replaced(data: bytes, member: str, content: bytes) -> bytes:
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in source.namelist():
            archive.writestr(name, content if name == member else source.read(name))
    return out.getvalue()


def _corrupt_member(data: bytes, member: str) -> bytes:
    """The archive with one member's deflate stream made invalid."""
    import io
    import zipfile

    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    patched = bytearray(data)
    patched[start : start + info.compress_size] = b"\xff" * info.compress_size
    return bytes(patched)


def _mp3_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "song.mp3"
        samples.mp3(path, title="Tide", artist="Someone")
        return path.read_bytes()


def _flac_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "song.flac"
        samples.flac(path, title="Tide", artist="Someone")
        return path.read_bytes()


def _odd_encoding() -> bytes:
    xml = b'<?xml version="1.0" encoding="no-such-codec"?><w:document/>'
    return _replaced(samples.docx(["x"]), "word/document.xml", xml)


def _odd_meta() -> bytes:
    xml = b'<?xml version="1.0" encoding="x-unknown"?><office:document-meta/>'
    return _replaced(samples.odt(["x"]), "meta.xml", xml)


HOSTILE: dict[str, tuple[str, Callable[[], bytes], str]] = {
    # case: (file name, content, words the one-line reason must contain)
    "truncated pdf": ("a.pdf", lambda: cut(samples.pdf([samples.PAPER])), "PDF"),
    "truncated docx": ("a.docx", lambda: cut(samples.docx(["x"] * 50)), "zip"),
    "truncated pptx": ("a.pptx", lambda: cut(samples.pptx([["x"]] * 20)), "zip"),
    "truncated xlsx": (
        "a.xlsx",
        lambda: cut(samples.xlsx(["S"], ["a"], 2, "B")),
        "zip",
    ),
    "truncated odt": ("a.odt", lambda: cut(samples.odt(["x"] * 50)), "zip"),
    "truncated ods": (
        "a.ods",
        lambda: cut(samples.ods({"Counts": [["site", "n"], ["S1", "4"]] * 40})),
        "zip",
    ),
    "truncated odp": ("a.odp", lambda: cut(samples.odp([["x"]] * 30)), "zip"),
    "truncated epub": (
        "a.epub",
        lambda: cut(samples.epub("T", "A", ["x" * 900])),
        "zip",
    ),
    "truncated jpeg": ("a.jpg", lambda: cut(samples.photo_jpeg()), "image"),
    "truncated png": ("a.png", lambda: cut(samples.png(300, 300)), "image"),
    "truncated webm": ("a.webm", lambda: samples.webm()[:30], "Matroska"),
    "truncated mp3 tag": ("a.mp3", lambda: _mp3_bytes()[:200], "cut off"),
    "truncated flac": ("a.flac", lambda: _flac_bytes()[:60], "media"),
    "truncated ogg": ("a.ogg", lambda: samples.ogg_vorbis()[:90], "media"),
    "truncated avi": ("a.avi", lambda: samples.avi()[:20], "AVI"),
    "truncated json": ("a.json", lambda: cut(samples.json_records(50)), "JSON"),
    "truncated parquet": ("a.parquet", lambda: b"PAR1\x15\x00\x15", "Parquet"),
    "encrypted pdf": ("secret.pdf", samples.encrypted_pdf, "encrypted"),
    "encrypted zip": ("secret.docx", samples.encrypted_zip_docx, "encrypted"),
    "encrypted ooxml": ("locked.xlsx", samples.encrypted_ooxml, "encrypted"),
    "zip bomb": ("bomb.docx", lambda: samples.zip_bomb(40), "zip bomb"),
    "zip bomb declaring too much": ("bomb.xlsx", samples.zip_bomb, "more than 64 MiB"),
    "lying zip header": ("liar.docx", samples.lying_zip, "document.xml"),
    "billion laughs": ("laughs.docx", samples.billion_laughs_docx, "entities"),
    "billion laughs in odt": ("laughs.odt", samples.billion_laughs_odt, "entities"),
    "billion laughs in epub": (
        "laughs.epub",
        samples.billion_laughs_epub,
        "entities",
    ),
    "corrupt sheet stream": (
        "sheet.xlsx",
        lambda: _corrupt_member(
            samples.xlsx(["S"], ["a"], 2, "B"), "xl/worksheets/sheet1.xml"
        ),
        "cannot read",
    ),
    "corrupt chapter stream": (
        "book.epub",
        lambda: _corrupt_member(
            samples.epub("T", "A", ["x" * 500]), "OEBPS/text/ch0.xhtml"
        ),
        "cannot read",
    ),
    "unknown xml encoding": ("enc.docx", _odd_encoding, "unknown encoding"),
    "unknown encoding in meta": ("enc.odt", _odd_meta, "unknown encoding"),
    "decompression bomb": ("huge.png", samples.png_bomb, "decompression bomb"),
    "jpeg decompression bomb": ("huge.jpg", samples.jpeg_bomb, "decompression bomb"),
    "empty pdf": ("empty.pdf", lambda: b"", "PDF"),
    "empty docx": ("empty.docx", lambda: b"", "zip"),
    "empty jpeg": ("empty.jpg", lambda: b"", "image"),
    "empty mp3": ("empty.mp3", lambda: b"", "media"),
    "empty epub": ("empty.epub", lambda: b"", "zip"),
    "garbage named docx": ("report.docx", lambda: os.urandom(4096), "zip"),
    "garbage named pdf": ("report.pdf", lambda: os.urandom(4096), "PDF"),
    "garbage named mp3": ("song.mp3", lambda: b"\x01" * 4096, "media"),
    "zip that is no document": ("thesis.docx", _plain_zip, "not a DOCX"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_file_is_one_recorded_failure(
    case: str, pool: ExtractorPool, tmp_path: Path
) -> None:
    name, make, reason = HOSTILE[case]
    path = write(tmp_path, name, make())

    result = pool.extract(path)

    assert result.failed, f"{case}: extracted as {result.format}"
    assert result.error is not None
    assert reason.lower() in result.error.lower()
    assert "\n" not in result.error
    assert_still_serving(pool, tmp_path)


def test_the_zip_bomb_is_refused_before_it_is_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "bomb.docx", samples.zip_bomb(60))
    opened: list[str] = []
    expanded: list[int] = []
    real_open = zipfile.ZipFile.open
    real_read = zipfile.ZipExtFile.read

    def recording_open(self: zipfile.ZipFile, name: Any, *args: Any, **kw: Any) -> Any:
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kw)

    def counting_read(self: zipfile.ZipExtFile, size: int = -1) -> bytes:
        data = real_read(self, size)
        expanded.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipFile, "open", recording_open)
    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)

    result = extract_file(path)

    assert result.error is not None and "zip bomb" in result.error
    # The directory alone condemns it: the 60 MiB member is never opened.
    assert "word/document.xml" not in opened
    assert sum(expanded) < 64 * 1024


def test_an_empty_text_file_is_empty_not_broken(tmp_path: Path) -> None:
    for name in ("empty.txt", "empty.md", "empty.csv", "empty.py"):
        result = extract_file(write(tmp_path, name, b""))
        assert result.error is None
        assert result.text == ""


def test_a_wrong_extension_is_read_as_what_the_bytes_are(tmp_path: Path) -> None:
    photo = extract_file(write(tmp_path, "paper.pdf", samples.photo_jpeg()))
    assert photo.error is None
    assert photo.format == "jpeg"
    assert photo.metadata["camera"] == "Canon EOS 350D DIGITAL"
    text = extract_file(write(tmp_path, "slides.pptx", samples.POEM))
    assert text.error is None
    assert text.format == "text"
    paper = extract_file(write(tmp_path, "photo.jpg", samples.pdf([samples.PAPER])))
    assert paper.format == "pdf"
    assert paper.metadata["doi"] == "10.1234/sed.2021.042"


def test_a_file_that_blocks_the_worker_times_out_and_the_next_one_works(
    tmp_path: Path,
) -> None:
    fifo = tmp_path / "swapped-in.pdf"
    os.mkfifo(fifo)  # opening it blocks until a writer comes, which never does
    with ExtractorPool(Limits(timeout_seconds=1)) as pool:
        pool.extract(write(tmp_path, "ok.txt", "fine"))
        first_pid = pool.pid
        result = pool.extract(fifo)
        assert result.error == "extraction took longer than 1 s"
        assert pool.restarts == 1
        assert_still_serving(pool, tmp_path)
        assert pool.pid != first_pid


def test_a_worker_that_dies_mid_file_costs_that_file_only(tmp_path: Path) -> None:
    fifo = tmp_path / "stuck.pdf"
    os.mkfifo(fifo)
    with ExtractorPool(Limits(timeout_seconds=20)) as pool:
        pool.extract(write(tmp_path, "ok.txt", "fine"))
        victim = pool.pid
        assert victim is not None
        killer = threading.Timer(0.5, os.kill, (victim, signal.SIGSEGV))
        killer.start()
        result = pool.extract(fifo)
        killer.join()
        assert result.error == "the extractor crashed (SIGSEGV)"
        assert_still_serving(pool, tmp_path)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_worker_runs_under_the_memory_and_cpu_limits(tmp_path: Path) -> None:
    with ExtractorPool(Limits(timeout_seconds=7, memory_mb=768)) as pool:
        pool.extract(write(tmp_path, "ok.txt", "fine"))
        limits = Path(f"/proc/{pool.pid}/limits").read_text().splitlines()
    address = next(line for line in limits if line.startswith("Max address space"))
    assert address.split()[3] == str(768 * 1024 * 1024)
    cpu = next(line for line in limits if line.startswith("Max cpu time"))
    assert cpu.split()[3] != "unlimited"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS")
def test_a_file_that_exhausts_the_memory_limit_costs_that_file_and_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROBES_VARIABLE, "1")
    with ExtractorPool(Limits(timeout_seconds=120, memory_mb=768)) as pool:
        pool.extract(write(tmp_path, "ok.txt", "fine"))
        first_pid = pool.pid

        result = pool.extract(write(tmp_path, "hungry.midst-probe-memory", "x"))

        assert result.error == MEMORY_MESSAGE
        assert pool.restarts == 1
        assert_still_serving(pool, tmp_path)
        assert pool.pid != first_pid


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_CPU")
def test_a_file_that_exhausts_the_cpu_limit_costs_that_file_and_its_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PROBES_VARIABLE, "1")
    # The clock allows far more than the CPU limit: only the limit can stop it.
    with ExtractorPool(Limits(timeout_seconds=300, cpu_seconds=1)) as pool:
        pool.extract(write(tmp_path, "ok.txt", "fine"))
        first_pid = pool.pid

        result = pool.extract(write(tmp_path, "busy.midst-probe-cpu", "x"))

        assert result.error == "extraction used more than 1 s of CPU"
        assert pool.restarts == 1
        assert_still_serving(pool, tmp_path)
        assert pool.pid != first_pid


def test_the_limit_probes_are_plain_files_unless_the_tests_ask_for_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PROBES_VARIABLE, raising=False)
    for name in ("hungry.midst-probe-memory", "busy.midst-probe-cpu"):
        result = extract_file(write(tmp_path, name, "just some words"))
        assert result.error is None
        assert (result.format, result.text) == ("text", "just some words")


def test_a_broken_file_never_raises_from_extract_file(tmp_path: Path) -> None:
    for name, make, _ in HOSTILE.values():
        result = extract_file(write(tmp_path, name, make()))
        assert result.failed
