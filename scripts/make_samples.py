"""Write a small folder of valid sample files: PDF, DOCX, PNG, WAV and Python.

Standard library only, so the package test can run it before anything is
installed. Usage: python3 scripts/make_samples.py DIR
"""

from __future__ import annotations

import io
import math
import struct
import sys
import wave
import zipfile
import zlib
from pathlib import Path

PAPER_LINES = [
    "On the Stability of Layered Sediments",
    "A. Researcher and B. Colleague",
    "Abstract",
    "We measure the stability of layered sediments under cyclic load.",
    "1 Introduction",
    "Layered sediments are common in river deltas.",
    "doi:10.1234/sediments.2021.042",
    "References",
    "[1] C. Author. Soil Mechanics. 1998.",
]


def pdf_bytes(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 whose text can be extracted, with a correct xref table."""
    text_ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        text_ops.append(f"({escaped}) Tj T*")
    text_ops.append("ET")
    stream = "\n".join(text_ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (On the Stability of Layered Sediments) /Author (A. Researcher) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        % (len(objects) + 1, xref)
    )
    return out.getvalue()


def docx_bytes(paragraphs: list[str]) -> bytes:
    """A minimal WordprocessingML document as word processors write it."""
    body = "".join(
        f'<w:p><w:r><w:t xml:space="preserve">{p}</w:t></w:r></w:p>' for p in paragraphs
    )
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types">'
            '<Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            "vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
            '"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
            'relationships"><Relationship Id="rId1" Type="http://schemas.'
            "openxmlformats.org/officeDocument/2006/relationships/officeDocument"
            '" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body>'
            f"{body}</w:body></w:document>"
        ),
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def png_bytes(width: int, height: int) -> bytes:
    """An RGB gradient as a valid PNG."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes((x * 255 // width, y * 255 // height, 160))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
        + chunk(b"IEND", b"")
    )


def wav_bytes(seconds: float, rate: int = 8000) -> bytes:
    """A mono 440 Hz tone."""
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            sample = int(12000 * math.sin(2 * math.pi * 440 * i / rate))
            frames += struct.pack("<h", sample)
        sound.writeframes(bytes(frames))
    return out.getvalue()


CODE = '''"""Fit a line to points by least squares."""


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
        (x - mean_x) ** 2 for x, _ in points
    )
    return slope, mean_y - slope * mean_x


if __name__ == "__main__":
    print(fit_line([(0, 1), (1, 3), (2, 5)]))
'''

STORY = [
    "The Lighthouse Keeper",
    "Chapter One",
    "The storm came in from the west the night my father left. I remember the",
    "lamp swinging, the smell of salt and paraffin, and my mother singing to",
    "herself in the kitchen as if nothing at all had changed.",
]

# File name -> the type a working classifier gives it.
EXPECTED = {
    "sediments-paper.pdf": "academic_paper",
    "lighthouse-story.docx": "creative_writing",
    "sunset-gradient.png": "visual_art",
    "tone.wav": "audio",
    "fit_line.py": "code_sample",
}


def make_samples(folder: Path) -> dict[str, str]:
    """Write the samples into folder; return file name -> expected type."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sediments-paper.pdf").write_bytes(pdf_bytes(PAPER_LINES))
    (folder / "lighthouse-story.docx").write_bytes(docx_bytes(STORY))
    (folder / "sunset-gradient.png").write_bytes(png_bytes(320, 240))
    (folder / "tone.wav").write_bytes(wav_bytes(1.5))
    (folder / "fit_line.py").write_text(CODE)
    return dict(EXPECTED)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: make_samples.py DIR")
    for name, kind in make_samples(Path(sys.argv[1])).items():
        print(f"{name}\t{kind}")
