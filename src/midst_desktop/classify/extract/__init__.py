"""Extractors per format family: text and metadata of a file, bounded and isolated.

`extract_file` runs an extractor in this process; `ExtractorPool`
(isolation.py) runs it in a worker process with memory and time limits,
which is what the sync engine and the CLI use.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath

from midst_desktop.classify.extract.base import (
    MEMORY_MESSAGE,
    ExtractError,
    Extraction,
    Metadata,
    failure,
)
from midst_desktop.classify.extract.identifiers import (
    find_arxiv_id,
    find_doi,
    find_isbn,
)
from midst_desktop.classify.extract.probes import (
    PROBE_FORMATS,
    probes_enabled,
    run_probe,
)
from midst_desktop.classify.sniff import SNIFF_BYTES, Sniffed, sniff

__all__ = [
    "ExtractError",
    "Extraction",
    "Metadata",
    "extract_file",
    "extraction_format",
]

log = logging.getLogger(__name__)

# Bump when extractors change what they return, so stored results can be redone.
EXTRACTOR_VERSION = 2

IMAGE_FORMATS = frozenset(
    [
        "jpg",
        "jpeg",
        "png",
        "gif",
        "webp",
        "tif",
        "tiff",
        "bmp",
        "ico",
        "psd",
        "apng",
        "jpx",
        "heic",
        "avif",
    ]
)
AUDIO_FORMATS = frozenset(
    [
        "mp3",
        "m4a",
        "ogg",
        "oga",
        "opus",
        "flac",
        "wav",
        "aiff",
        "aif",
        "aac",
        "wma",
        "mpc",
        "ape",
        "wv",
        "dsf",
    ]
)
VIDEO_FORMATS = frozenset(
    [
        "mp4",
        "m4v",
        "mov",
        "mkv",
        "webm",
        "avi",
        "wmv",
        "mpg",
        "mpeg",
        "flv",
        "3gp",
        "ogv",
    ]
)
OFFICE_FORMATS = frozenset(
    ["docx", "pptx", "xlsx", "odt", "odp", "ods", "odg", "ott", "otp", "ots"]
)
# XML is read as its text, tags and all: the rules tell a marked-up document
# from marked-up records by how much prose sits between the tags.
TEXT_FORMATS = frozenset(["text", "markdown", "latex", "code", "html", "xml"])
TABLE_FORMATS = frozenset(["csv", "tsv", "json", "jsonl", "parquet"])
# An OOXML document saved with a password: an OLE2 file holding the encrypted
# zip. Nothing in it can be read, and saying so makes it a recorded skip.
ENCRYPTED_OFFICE = "encrypted-office"
TEXT_EXTENSIONS = {
    "txt": "text",
    "text": "text",
    "md": "markdown",
    "markdown": "markdown",
    "rst": "text",
    "tex": "latex",
    "ltx": "latex",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "csv": "csv",
    "tsv": "tsv",
    "tab": "tsv",
    "json": "json",
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "parquet": "parquet",
}
CODE_EXTENSIONS = frozenset(
    [
        "py",
        "pyi",
        "js",
        "mjs",
        "cjs",
        "ts",
        "tsx",
        "jsx",
        "go",
        "rs",
        "c",
        "h",
        "cc",
        "cpp",
        "hpp",
        "cxx",
        "java",
        "kt",
        "kts",
        "scala",
        "rb",
        "php",
        "swift",
        "m",
        "mm",
        "cs",
        "fs",
        "hs",
        "lua",
        "pl",
        "r",
        "jl",
        "sh",
        "bash",
        "zsh",
        "ps1",
        "sql",
        "dart",
        "ex",
        "exs",
        "erl",
        "clj",
        "elm",
        "ml",
        "vue",
        "svelte",
        "asm",
        "zig",
        "nim",
        "css",
        "scss",
        "toml",
        "yaml",
        "yml",
        "ini",
        "cfg",
    ]
)
EXTENSION_ALIASES = {"jpeg": "jpg", "tiff": "tif", "aif": "aiff", "oga": "ogg"}

ABSTRACT_RE = re.compile(r"^\s*(?:\d+\.?\s*)?abstract\b", re.IGNORECASE | re.MULTILINE)
# Numbered entries of a reference list: "[12] A. Author. Title. 1998."
REFERENCE_ENTRY_RE = re.compile(
    r"^\s*\[\d{1,3}\]\s+\S.*\b(?:19|20)\d\d\b", re.MULTILINE
)
REFERENCES_RE = re.compile(
    r"^\s*(?:\d+\.?\s*)?(?:references|bibliography|works cited)\s*$",
    re.IGNORECASE | re.MULTILINE,
)


def extension_of(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    return suffix[1:].lower() if suffix else ""


def extraction_format(name: str, sniffed: Sniffed) -> str | None:
    """The format to extract as, from the bytes first and the name second.

    None when no extractor reads the file.
    """
    extension = extension_of(name)
    if extension in PROBE_FORMATS and probes_enabled():
        return extension
    named = TEXT_EXTENSIONS.get(extension)
    if named is None and extension in CODE_EXTENSIONS:
        named = "code"
    if named is None:
        named = EXTENSION_ALIASES.get(extension, extension) or None
    fmt = sniffed.format
    if fmt is None:
        # Bytes that say nothing: a broken file, or an empty one; the name decides,
        # and the extractor finds out which.
        return named if named is not None and _extractable(named) else None
    if sniffed.is_text and named == "text" and fmt != "text" and _extractable(fmt):
        return fmt  # a .txt holding a table, JSON or LaTeX is read as that
    if sniffed.is_text and named in TEXT_FORMATS | TABLE_FORMATS:
        return named  # .py sniffed as plain text is code; .csv stays CSV
    if fmt == "zip" and named in OFFICE_FORMATS | {"epub"}:
        return named  # the zip's directory, read later, says whether it is one
    return fmt if _extractable(fmt) else None


def _extractable(fmt: str) -> bool:
    return (
        fmt in {"pdf", "epub", "zip", ENCRYPTED_OFFICE}
        or fmt in OFFICE_FORMATS
        or fmt in TEXT_FORMATS
        or fmt in TABLE_FORMATS
        or fmt in IMAGE_FORMATS
        or fmt in AUDIO_FORMATS
        or fmt in VIDEO_FORMATS
    )


def read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(SNIFF_BYTES)


def extract_file(
    path: Path, name: str | None = None, fmt: str | None = None
) -> Extraction:
    """Extract one file in this process. Never raises for a bad file: the
    result's error says what was wrong. Use ExtractorPool for untrusted files.
    """
    name = name or path.name
    try:
        if fmt is None:
            fmt = extraction_format(name, sniff(read_head(path)))
        if fmt is None:
            return Extraction(format="unknown")
        result = _dispatch(path, name, fmt)
    except ExtractError as error:
        return failure(fmt or "unknown", str(error))
    except MemoryError:
        return failure(fmt or "unknown", MEMORY_MESSAGE)
    except RecursionError:
        return failure(fmt or "unknown", "nested too deeply to read")
    except OSError as error:
        return failure(fmt or "unknown", f"cannot read the file ({error.strerror})")
    except Exception as error:  # a parser bug must cost this file only
        log.warning("Extractor for %s failed: %s", fmt, type(error).__name__)
        return failure(
            fmt or "unknown", f"the extractor failed ({type(error).__name__})"
        )
    _find_signals(result)
    return result


def _dispatch(path: Path, name: str, fmt: str) -> Extraction:
    if fmt in PROBE_FORMATS and probes_enabled():
        return run_probe(fmt)
    if fmt == ENCRYPTED_OFFICE:
        raise ExtractError("the Office document is encrypted with a password")
    if fmt == "pdf":
        from midst_desktop.classify.extract.pdf import extract_pdf

        return extract_pdf(path)
    if fmt in OFFICE_FORMATS or fmt in {"epub", "zip"}:
        return _zip_family(path, fmt)
    if fmt in TABLE_FORMATS:
        from midst_desktop.classify.extract.tabular import extract_table

        return extract_table(path, fmt)
    if fmt in TEXT_FORMATS:
        from midst_desktop.classify.extract.text import extract_text

        return extract_text(path, fmt, name)
    if fmt in IMAGE_FORMATS:
        from midst_desktop.classify.extract.image import extract_image

        return extract_image(path)
    if fmt in AUDIO_FORMATS or fmt in VIDEO_FORMATS:
        from midst_desktop.classify.extract.media import extract_media

        return extract_media(path, fmt)
    return Extraction(format=fmt)


def _zip_family(path: Path, fmt: str) -> Extraction:
    from midst_desktop.classify.extract.epub import extract_epub
    from midst_desktop.classify.extract.office import container_format, extract_office
    from midst_desktop.classify.extract.safezip import SafeZip

    with SafeZip(path) as archive:
        real = container_format(archive)
        if real == "epub":
            return extract_epub(archive)
        if real in OFFICE_FORMATS:
            return extract_office(path, archive, real)
        if fmt in OFFICE_FORMATS:
            raise ExtractError(f"a zip archive, but not a {fmt.upper()} document")
        return Extraction(format="zip")


def _find_signals(result: Extraction) -> None:
    """Identifiers and section headings in the text, for review and the rules."""
    text = result.text
    if not text:
        return
    doi = find_doi(text)
    if doi:
        result.metadata["doi"] = doi
    arxiv_id = find_arxiv_id(text)
    if arxiv_id:
        result.metadata["arxiv_id"] = arxiv_id
    if "isbn" not in result.metadata:
        isbn = find_isbn(text)
        if isbn:
            result.metadata["isbn"] = isbn
    sections = []
    if ABSTRACT_RE.search(text) or "\\begin{abstract}" in text:
        sections.append("abstract")
    if (
        REFERENCES_RE.search(text)
        or len(REFERENCE_ENTRY_RE.findall(text)) >= 3
        or "\\begin{thebibliography}" in text
    ):
        sections.append("references")
    if sections:
        result.metadata["sections"] = sections
