"""Content sniffing: the format from the bytes, whatever the name says."""

from __future__ import annotations

import pytest

from midst_desktop.classify.sniff import decode_text, is_text, sniff
from tests.support import samples


@pytest.mark.parametrize(
    ("content", "fmt", "mime"),
    [
        (samples.pdf([["x"]]), "pdf", "application/pdf"),
        (samples.png(), "png", "image/png"),
        (samples.photo_jpeg(), "jpg", "image/jpeg"),
        (samples.wav(0.1), "wav", "audio/x-wav"),
        (samples.webm(), "webm", "video/webm"),
        (samples.avi(), "avi", "video/x-msvideo"),
        (samples.parquet_like(), "parquet", "application/vnd.apache.parquet"),
    ],
)
def test_binary_formats_are_known_by_their_magic(
    content: bytes, fmt: str, mime: str
) -> None:
    sniffed = sniff(content[:8192])
    assert (sniffed.format, sniffed.mime_type) == (fmt, mime)
    assert not sniffed.is_text


@pytest.mark.parametrize(
    ("content", "fmt"),
    [
        (samples.docx(["Hello"]), "docx"),
        (samples.pptx([["Hello"]]), "pptx"),
        (samples.xlsx(["S"], ["a"], 2, "B"), "xlsx"),
        (samples.odt(["Hello"]), "odt"),
        (samples.odp([["Hello"]]), "odp"),
        (samples.ods({"S": [["a"]]}), "ods"),
        (samples.epub("T", "A", ["x"]), "epub"),
    ],
)
def test_zip_containers_are_told_apart(content: bytes, fmt: str) -> None:
    assert sniff(content[:8192]).format == fmt


def test_a_plain_zip_stays_a_zip() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("photos/a.txt", "x")
    assert sniff(out.getvalue()).format == "zip"


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (samples.POEM, "text"),
        (samples.csv_text(10), "csv"),
        (samples.csv_text(10).replace(",", "\t"), "tsv"),
        (samples.json_records(3), "json"),
        ("\\documentclass{article}\n\\begin{document}\nx\n\\end{document}\n", "latex"),
        ("# Title\n\nSome text.\n\n- a point\n- another\n", "markdown"),
        ("<!DOCTYPE html>\n<html><body>x</body></html>", "html"),
        ("#!/bin/sh\necho hello\n", "code"),
        ("{\\rtf1\\ansi Hello}", "rtf"),
    ],
)
def test_text_formats_are_known_by_their_shape(text: str, fmt: str) -> None:
    sniffed = sniff(text.encode())
    assert sniffed.format == fmt
    assert sniffed.is_text


def test_a_shebang_names_the_interpreter() -> None:
    assert sniff(b"#!/usr/bin/env python3\nprint(1)\n").interpreter == "python3"
    assert sniff(b"#!/bin/bash -e\necho\n").interpreter == "bash"


def test_prose_with_commas_is_not_a_table() -> None:
    prose = "Well, I said, it is late.\nYes, she said.\n"
    assert sniff(prose.encode()).format == "text"


def test_text_and_binary_are_told_apart() -> None:
    assert is_text("Grüße aus Köln\n".encode())
    assert is_text("Schöne Grüße aus der Heimat, bis bald.\n".encode("cp1252"))
    assert is_text("\ufeffHello".encode("utf-16"))
    assert not is_text(b"\x00\x01\x02binary")
    assert not is_text(bytes(range(256)))
    assert not is_text(b"")


def test_a_head_cut_inside_a_character_is_still_utf8() -> None:
    head = ("a" * 100 + "é").encode()[:-1]
    assert is_text(head)
    assert decode_text(head) == "a" * 100


def test_empty_and_unknown_bytes_say_nothing() -> None:
    assert sniff(b"").format is None
    assert sniff(bytes(range(256)) * 4).format is None


def test_an_encrypted_office_file_is_recognised() -> None:
    # Encrypted OOXML is an OLE2 compound file with an EncryptedPackage stream.
    head = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 2000)
    name = "EncryptedPackage".encode("utf-16-le")
    head[1024 : 1024 + len(name)] = name
    assert sniff(bytes(head)).format == "encrypted-office"


def test_quoted_fields_and_numeric_columns_are_tables() -> None:
    quoted = 'site,stage,depth\nS1,"Adult, 1 Egg",0.5\nS2,"Chick, fed",0.7\nS3,x,1\n'
    assert sniff(quoted.encode()).format == "csv"
    spaced = "Weight Waist Pulse\n" + "".join(
        f"{150 + i} {30 + i % 7} {50 + i}\n" for i in range(10)
    )
    assert sniff(spaced.encode()).format == "tsv"
    verse = "".join(f"the {w} rain falls\n" for w in ("cold", "grey", "slow", "old"))
    assert sniff((verse * 2).encode()).format == "text"


def test_an_svg_with_a_long_preamble_is_still_svg() -> None:
    head = '<?xml version="1.0"?>\n<!-- ' + "x" * 400 + " -->\n<svg></svg>"
    assert sniff(head.encode()).format == "svg"
