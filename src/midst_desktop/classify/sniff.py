"""Content sniffing: the real format of a file from its first bytes, not its name."""

from __future__ import annotations

import codecs
import csv
import re
import struct
from dataclasses import dataclass

import filetype

SNIFF_BYTES = 8192

# Short format names, one per family an extractor or a rule knows.
MIME_FORMATS: dict[str, str] = {
    "application/pdf": "pdf",
    "application/epub+zip": "epub",
    "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.graphics": "odg",
    "application/vnd.oasis.opendocument.text-template": "ott",
    "application/vnd.oasis.opendocument.presentation-template": "otp",
    "application/vnd.oasis.opendocument.spreadsheet-template": "ots",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
    "application/rtf": "rtf",
    "application/x-sqlite3": "sqlite",
    "application/vnd.apache.parquet": "parquet",
}
FORMAT_MIMES = {value: key for key, value in MIME_FORMATS.items()}
FORMAT_MIMES.update(
    {
        "text": "text/plain",
        "markdown": "text/markdown",
        "latex": "text/x-tex",
        "csv": "text/csv",
        "tsv": "text/tab-separated-values",
        "json": "application/json",
        "html": "text/html",
        "xml": "application/xml",
        "svg": "image/svg+xml",
        "code": "text/x-source",
    }
)

# The ODF and EPUB `mimetype` member, stored first and uncompressed.
ZIP_MIMETYPE_RE = re.compile(rb"^PK\x03\x04.{26}mimetype", re.DOTALL)
# Member names in the first local headers of an OOXML package.
OOXML_PARTS = ((b"word/", "docx"), (b"ppt/", "pptx"), (b"xl/", "xlsx"))
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FILETYPE_BYTES = 1024
PARQUET_MAGIC = b"PAR1"
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
TEXT_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
# Bytes that never appear in text: controls other than tab, newlines, FF, ESC.
BINARY_BYTES = bytes(set(range(32)) - {8, 9, 10, 12, 13, 27})
MARKDOWN_RE = re.compile(
    r"^(#{1,6} \S|[-*] \S.*|\d+\. \S|```|> \S)|\]\([^)]+\)", re.MULTILINE
)
LATEX_RE = re.compile(r"\\(documentclass|begin\{document\}|section\{|usepackage)")
NUMBER_RE = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NA|NaN")
SHEBANG_RE = re.compile(rb"^#![ \t]*(\S+)(?:[ \t]+(\S+))?")


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What the bytes say a file is: a short format name and its MIME type."""

    format: str | None
    mime_type: str | None
    is_text: bool = False
    interpreter: str | None = None


NOTHING = Sniffed(None, None)


def is_text(head: bytes) -> bool:
    """Whether the first bytes look like text in any common encoding."""
    if not head:
        return False
    if head.startswith(TEXT_BOMS):
        return True
    if b"\x00" in head:
        return False
    controls = len(head) - len(head.translate(None, BINARY_BYTES))
    if controls > len(head) // 100:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as error:
        # A multi-byte character cut off at the end of the head is still text.
        if error.start >= len(head) - 3 and error.reason == "unexpected end of data":
            return True
    # Legacy 8-bit encodings: mostly printable ASCII with some high bytes.
    high = sum(1 for byte in head if byte >= 0x80)
    return high < len(head) // 4


def decode_text(data: bytes) -> str:
    """Text from bytes: UTF-8 or UTF-16 with a BOM, else UTF-8, else cp1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[3:].decode("utf-8", "replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(data) - 3:
            return data[: error.start].decode("utf-8")
    return data.decode("cp1252", "replace")


def _zip_format(head: bytes) -> str:
    """ODF, EPUB or OOXML from a zip's first local headers, else plain zip."""
    if ZIP_MIMETYPE_RE.match(head):
        name_length, extra_length = struct.unpack_from("<HH", head, 26)
        start = 30 + name_length + extra_length
        declared = head[start : start + 80].split(b"PK", 1)[0].strip()
        mime = declared.decode("ascii", "replace")
        if mime in MIME_FORMATS:
            return MIME_FORMATS[mime]
    if b"[Content_Types].xml" in head:
        for marker, fmt in OOXML_PARTS:
            if marker in head:
                return fmt
    return "zip"


def _text_format(head: bytes) -> Sniffed:
    text = decode_text(head).lstrip("\ufeff")
    stripped = text.lstrip()
    shebang = SHEBANG_RE.match(head)
    if shebang is not None:
        program = shebang.group(1).rsplit(b"/", 1)[-1]
        if program == b"env" and shebang.group(2):
            program = shebang.group(2)
        interpreter = program.decode("ascii", "replace")
        return Sniffed("code", FORMAT_MIMES["code"], True, interpreter)
    lowered = stripped[:200].lower()
    if lowered.startswith("{\\rtf"):
        return Sniffed("rtf", "application/rtf", True)
    if lowered.startswith(("<!doctype html", "<html")):
        return Sniffed("html", FORMAT_MIMES["html"], True)
    if lowered.startswith(("<?xml", "<svg", "<!doctype svg", "<!--")) and (
        "<svg" in stripped[:2000].lower()
    ):
        return Sniffed("svg", FORMAT_MIMES["svg"], True)
    if lowered.startswith("<?xml"):
        return Sniffed("xml", FORMAT_MIMES["xml"], True)
    if stripped[:1] in {"{", "["} and _looks_like_json(stripped):
        return Sniffed("json", FORMAT_MIMES["json"], True)
    if LATEX_RE.search(text):
        return Sniffed("latex", FORMAT_MIMES["latex"], True)
    delimiter = table_delimiter(text)
    if delimiter is not None:
        fmt = "tsv" if delimiter in {"\t", " "} else "csv"
        return Sniffed(fmt, FORMAT_MIMES[fmt], True)
    if len(MARKDOWN_RE.findall(text)) >= 2:
        return Sniffed("markdown", FORMAT_MIMES["markdown"], True)
    return Sniffed("text", FORMAT_MIMES["text"], True)


def _looks_like_json(text: str) -> bool:
    opening = text[:1]
    rest = text[1:].lstrip()[:1]
    if opening == "{":
        return rest in {'"', "}"}
    return rest in set('{["-0123456789tfn]')


def table_delimiter(text: str) -> str | None:
    """The delimiter of lines that are rows of a table, if they are.

    Rows have the same number of fields (quoted fields may hold the
    delimiter); whitespace-separated rows must also be mostly numbers.
    """
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return None
    if len(text) >= SNIFF_BYTES // 2 and len(lines) > 2:
        lines = lines[:-1]  # the last line of a head may be cut off
    for delimiter in ("\t", ",", ";", "|"):
        if not all(delimiter in line for line in lines):
            continue
        try:
            counts = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(counts) != 1 or min(counts) < 2:
            continue
        # Prose has commas too, but not the same number on every line.
        if delimiter == "," and min(counts) < 3 and len(lines) < 4:
            continue
        return delimiter
    return " " if _numeric_columns(lines) else None


def _numeric_columns(lines: list[str]) -> bool:
    rows = [line.split() for line in lines]
    if len(rows) < 5 or len({len(row) for row in rows[1:]}) != 1 or len(rows[1]) < 2:
        return False
    cells = [cell for row in rows[1:] for cell in row]
    numbers = sum(1 for cell in cells if NUMBER_RE.fullmatch(cell))
    return numbers >= len(cells) // 2


# filetype's kinds by extension, the first of its list for each, as it tries them.
FILETYPE_BY_EXTENSION = {
    kind.extension: kind for kind in reversed(filetype.types) if kind.extension
}
FILETYPE_BY_EXTENSION.update({"jpeg": FILETYPE_BY_EXTENSION["jpg"]})


def _named_kind(head: bytes, extension: str) -> filetype.Type | None:
    """filetype's kind for the format the name claims, when the bytes agree.

    Most files are what their names say: asking that one format first spares
    trying each of filetype's eighty on every file.
    """
    claimed = FILETYPE_BY_EXTENSION.get(extension)
    if claimed is not None and claimed.match(head):
        return claimed
    return None


def sniff(head: bytes, extension: str = "") -> Sniffed:
    """The format the first bytes of a file declare; NOTHING when they say nothing.

    `extension` (lower case, no dot) is the format the file's name claims;
    it is tried first and believed only when the bytes agree.
    """
    if not head:
        return NOTHING
    if head.startswith(PARQUET_MAGIC):
        return Sniffed("parquet", FORMAT_MIMES["parquet"])
    if head.startswith(OLE2_MAGIC):
        return _ole2(head)
    if head.startswith(EBML_MAGIC):
        # The DocType sits in the EBML header; filetype expects it at one offset.
        if b"webm" in head[:64]:
            return Sniffed("webm", "video/webm")
        if b"matroska" in head[:64]:
            return Sniffed("mkv", "video/x-matroska")
    # filetype needs the first bytes only; its OOXML checks scan all it gets,
    # and the zip containers are told apart below from the whole head.
    start = head[:FILETYPE_BYTES]
    kind = _named_kind(start, extension) or filetype.guess(start)
    if kind is not None:
        mime = str(kind.mime)
        fmt = MIME_FORMATS.get(mime) or str(kind.extension)
        if fmt in {"zip", "docx", "xlsx", "pptx", "odt", "ods", "odp", "epub"}:
            fmt = _zip_format(head)
            mime = FORMAT_MIMES.get(fmt, "application/zip")
        return Sniffed(fmt, mime, is_text=fmt == "rtf")
    if head.startswith(b"PK\x03\x04"):
        fmt = _zip_format(head)
        return Sniffed(fmt, FORMAT_MIMES.get(fmt, "application/zip"))
    if is_text(head):
        return _text_format(head)
    return NOTHING


def _ole2(head: bytes) -> Sniffed:
    """Legacy Office files share one container; an encrypted OOXML file uses it too."""
    kind = filetype.guess(head)
    if kind is not None and str(kind.mime) in MIME_FORMATS:
        return Sniffed(MIME_FORMATS[str(kind.mime)], str(kind.mime))
    wide = head.decode("latin-1")
    if "E\x00n\x00c\x00r\x00y\x00p\x00t\x00e\x00d\x00P\x00a\x00c\x00k\x00a" in wide:
        return Sniffed("encrypted-office", "application/x-ms-encrypted-package")
    return Sniffed("ole2", "application/x-ole-storage")
