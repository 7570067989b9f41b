"""Fuzzing the zip/XML and PDF extractors with mutated real samples.

Each target runs for a time budget: a few seconds in `make test`, longer
with MIDST_FUZZ_SECONDS set (as `make bench` does). The property: a
mutated file is extracted or fails with an anticipated, one-line reason;
no exception escapes, and the worker process survives or is replaced.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from midst_desktop.classify.extract import extract_file
from midst_desktop.classify.extract.isolation import ExtractorPool, Limits
from tests.support import samples

SECONDS = float(os.environ.get("MIDST_FUZZ_SECONDS", "7"))
EXAMPLES_PER_ROUND = 40
UNEXPECTED = "the extractor failed"

ZIP_SEEDS = {
    "docx": samples.docx(["Paragraph one", "Two"], "Title", "A. Writer"),
    "pptx": samples.pptx([["Slide", "one"], ["two"]], "Talk"),
    "xlsx": samples.xlsx(["A", "B"], ["x", "y"], 10, "C"),
    "odt": samples.odt(["Paragraph one", "Two"], "Notes", "B. Colleague"),
    "odp": samples.odp([["One"], ["Two"]], "Seminar"),
    "ods": samples.ods({"S": [["a", "b"]]}),
    "epub": samples.epub("Book", "Author", ["Chapter one.", "Two."], "9780306406157"),
}
PDF_SEEDS = [
    samples.pdf([samples.PAPER, ["Page two"]], {"Title": "T", "Author": "A"}),
    samples.pdf([["Slide"]] * 3, size=(1024, 768)),
    samples.encrypted_pdf(),
]


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """The seed with a few bytes flipped, cut, inserted or overwritten."""
    mutated = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "overwrite", "repeat"]))
        if not mutated:
            mutated.extend(draw(st.binary(min_size=1, max_size=64)))
            continue
        at = draw(st.integers(0, len(mutated) - 1))
        if kind == "flip":
            mutated[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "cut":
            del mutated[at:]
        elif kind == "insert":
            mutated[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            mutated[at : at + len(chunk)] = chunk
        else:
            length = draw(st.integers(1, 256))
            mutated[at:at] = mutated[at : at + length] * draw(st.integers(2, 50))
    return bytes(mutated)


@st.composite
def zip_cases(draw: st.DrawFn) -> tuple[str, bytes]:
    """A mutated container, or a valid zip holding one mutated XML member."""
    fmt = draw(st.sampled_from(sorted(ZIP_SEEDS)))
    data = ZIP_SEEDS[fmt]
    if draw(st.booleans()):
        return fmt, draw(mutations(data))
    source = zipfile.ZipFile(io.BytesIO(data))
    names = [n for n in source.namelist() if n.endswith((".xml", ".opf", ".xhtml"))]
    target = draw(st.sampled_from(names))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in source.namelist():
            content = source.read(name)
            if name == target:
                content = draw(mutations(content))
            archive.writestr(name, content)
    return fmt, out.getvalue()


def run_for(seconds: float, test: Callable[[], None]) -> int:
    """Run a Hypothesis test in rounds of fresh seeds until the budget is spent."""
    deadline = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < deadline:
        seed(rounds)(test)()
        rounds += 1
    return rounds


FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_ROUND,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_mutated_office_and_ebook_files_fail_only_in_anticipated_ways(
    workdir: Path,
) -> None:
    seen = {"ok": 0, "failed": 0}

    @FUZZ_SETTINGS
    @given(zip_cases())
    def extract_one(case: tuple[str, bytes]) -> None:
        fmt, data = case
        path = workdir / f"fuzzed.{fmt}"
        path.write_bytes(data)
        result = extract_file(path)
        if result.failed:
            assert result.error is not None
            assert not result.error.startswith(UNEXPECTED), result.error
            assert "\n" not in result.error
            seen["failed"] += 1
        else:
            seen["ok"] += 1

    assert run_for(SECONDS, extract_one) >= 1
    # Both outcomes occur: the mutations reach past the zip's checksums.
    assert seen["ok"] > 0 and seen["failed"] > 0


def test_mutated_pdfs_cost_one_file_each_and_the_worker_survives(
    workdir: Path,
) -> None:
    seen = {"ok": 0, "failed": 0}
    with ExtractorPool(Limits(timeout_seconds=10)) as pool:

        @FUZZ_SETTINGS
        @given(st.sampled_from(PDF_SEEDS).flatmap(mutations))
        def extract_one(data: bytes) -> None:
            path = workdir / "fuzzed.pdf"
            path.write_bytes(data)
            result = pool.extract(path)
            if result.failed:
                assert result.error is not None
                assert not result.error.startswith(UNEXPECTED), result.error
                seen["failed"] += 1
            else:
                seen["ok"] += 1

        assert run_for(SECONDS, extract_one) >= 1
        # Whatever PDFium made of them, the pool still serves a good file.
        good = workdir / "good.pdf"
        good.write_bytes(samples.pdf([["fine"]]))
        assert pool.extract(good).text == "fine"
    assert seen["ok"] > 0 and seen["failed"] > 0


def test_mutated_media_and_images_fail_only_in_anticipated_ways(
    workdir: Path,
) -> None:
    seeds = {
        "jpg": samples.photo_jpeg(64, 48),
        "png": samples.png(32, 32),
        "webm": samples.webm(title="T"),
        "avi": samples.avi(),
        "wav": samples.wav(0.05),
    }

    @FUZZ_SETTINGS
    @given(
        st.sampled_from(sorted(seeds)).flatmap(
            lambda fmt: st.tuples(st.just(fmt), mutations(seeds[fmt]))
        )
    )
    def extract_one(case: tuple[str, bytes]) -> None:
        fmt, data = case
        path = workdir / f"fuzzed.{fmt}"
        path.write_bytes(data)
        result = extract_file(path)
        if result.failed:
            assert result.error is not None
            assert not result.error.startswith(UNEXPECTED), result.error

    assert run_for(SECONDS / 2, extract_one) >= 1
