"""OOXML (docx, pptx, xlsx) and ODF (odt, odp, ods) read straight from the zip."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

from midst_desktop.classify.extract.base import (
    MAX_TEXT_CHARS,
    ExtractError,
    Extraction,
    Metadata,
    clean,
    clip,
    parse_date,
    split_keywords,
    split_people,
)
from midst_desktop.classify.extract.safezip import SafeZip, local, texts
from midst_desktop.classify.sniff import MIME_FORMATS

OOXML_MAIN = {
    "word/document.xml": "docx",
    "ppt/presentation.xml": "pptx",
    "xl/workbook.xml": "xlsx",
}
SLIDE_RE = re.compile(r"^ppt/slides/slide(\d+)\.xml$")
ODF_FORMATS = {"odt", "odp", "ods", "odg", "ott", "otp", "ots"}
# Reading stops after this many slides' worth of text.
MAX_SLIDES_READ = 200


def container_format(archive: SafeZip) -> str:
    """The real format of a zip: docx, pptx, xlsx, an ODF kind, epub, or zip."""
    if archive.has("mimetype"):
        declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
        if declared == "application/epub+zip":
            return "epub"
        fmt = MIME_FORMATS.get(declared)
        if fmt in ODF_FORMATS:
            return fmt
    if archive.has("[Content_Types].xml"):
        for part, fmt in OOXML_MAIN.items():
            if archive.has(part):
                return fmt
    if archive.has("META-INF/container.xml"):
        return "epub"
    if archive.has("content.xml") and archive.has("meta.xml"):
        return "odt"
    return "zip"


def extract_office(path: Path, archive: SafeZip, fmt: str) -> Extraction:
    if fmt in {"docx", "pptx", "xlsx"}:
        return _ooxml(archive, fmt)
    return _odf(archive, fmt)


# -- OOXML ------------------------------------------------------------------


def _ooxml(archive: SafeZip, fmt: str) -> Extraction:
    result = Extraction(format=fmt)
    if archive.has("docProps/core.xml"):
        _core_properties(archive.xml("docProps/core.xml"), result)
    if archive.has("docProps/app.xml"):
        _app_properties(archive.xml("docProps/app.xml"), result.metadata)
    if fmt == "docx":
        result.text = clip(
            texts(
                archive.iter_xml("word/document.xml"),
                frozenset({"t"}),
                frozenset({"p"}),
                MAX_TEXT_CHARS,
            )
        )
    elif fmt == "pptx":
        _pptx(archive, result)
    else:
        _xlsx(archive, result)
    return result


def _core_properties(root: Element, result: Extraction) -> None:
    values = {local(child.tag): (child.text or "") for child in root}
    result.title = clean(values.get("title"))
    result.authors = split_people(clean(values.get("creator")))
    result.keywords = split_keywords(clean(values.get("keywords")))
    subject = clean(values.get("subject"))
    if subject:
        result.metadata["subject"] = subject
    result.captured = parse_date(values.get("created"))


def _app_properties(root: Element, metadata: Metadata) -> None:
    values = {local(child.tag): (child.text or "").strip() for child in root}
    for key, name in (("Pages", "pages"), ("Slides", "slides"), ("Words", "words")):
        if values.get(key, "").isdigit():
            metadata[name] = int(values[key])  # type: ignore[literal-required]
    application = clean(values.get("Application"), 100)
    if application:
        metadata["application"] = application


def _pptx(archive: SafeZip, result: Extraction) -> None:
    slides = sorted(
        (int(match.group(1)), name)
        for name in archive.names()
        if (match := SLIDE_RE.match(name))
    )
    result.metadata["slides"] = len(slides)
    parts: list[str] = []
    size = 0
    for _, name in slides[:MAX_SLIDES_READ]:
        text = texts(
            archive.iter_xml(name),
            frozenset({"t"}),
            frozenset({"p"}),
            MAX_TEXT_CHARS - size,
        )
        parts.append(text)
        size += len(text)
        if size >= MAX_TEXT_CHARS:
            break
    result.text = clip("\n".join(parts))
    if result.title is None and parts:
        first = next((line for line in parts[0].splitlines() if line.strip()), "")
        result.title = clean(first, 200)


def _xlsx(archive: SafeZip, result: Extraction) -> None:
    workbook = archive.xml("xl/workbook.xml")
    names = [
        str(element.get("name"))
        for element in workbook.iter()
        if local(element.tag) == "sheet" and element.get("name")
    ]
    result.metadata["sheets"] = len(names)
    result.metadata["sheet_names"] = names[:50]
    rows = _first_sheet_rows(archive)
    if rows is not None:
        result.metadata["rows"], result.metadata["columns"] = rows
    if archive.has("xl/sharedStrings.xml"):
        result.text = clip(
            texts(
                archive.iter_xml("xl/sharedStrings.xml"),
                frozenset({"t"}),
                frozenset({"si"}),
                MAX_TEXT_CHARS,
            )
        )


DIMENSION_RE = re.compile(rb'<(?:\w+:)?dimension ref="[A-Z]+(\d+)(?::([A-Z]+)(\d+))?"')


def _first_sheet_rows(archive: SafeZip) -> tuple[int, int] | None:
    """Rows and columns of the first sheet, from its declared dimension."""
    name = "xl/worksheets/sheet1.xml"
    if not archive.has(name):
        return None
    # A corrupt stream fails here as anywhere else (found by fuzzing).
    head = archive.read_start(name, 4096)
    match = DIMENSION_RE.search(head)
    if match is None or match.group(2) is None:
        return None
    columns = 0
    for letter in match.group(2).decode():
        columns = columns * 26 + ord(letter) - ord("A") + 1
    return int(match.group(3)), columns


# -- ODF --------------------------------------------------------------------

ODF_PARAGRAPHS = frozenset({"p", "h"})


def _odf(archive: SafeZip, fmt: str) -> Extraction:
    result = Extraction(format=fmt)
    if archive.has("meta.xml"):
        _odf_meta(archive.xml("meta.xml"), result)
    if not archive.has("content.xml"):
        raise ExtractError("the document has no content.xml")
    pages = tables = 0
    parts: list[str] = []
    size = 0
    names: list[str] = []
    depth = 0
    for event, element in archive.iter_xml("content.xml"):
        name = local(element.tag)
        if name in ODF_PARAGRAPHS:
            depth += 1 if event == "start" else -1
        if event == "start":
            if name == "page":
                pages += 1
            elif name == "table" and depth == 0:
                tables += 1
                table_name = element.get(
                    "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}name"
                )
                if table_name:
                    names.append(table_name)
            continue
        if name in ODF_PARAGRAPHS and depth == 0 and size < MAX_TEXT_CHARS:
            paragraph = "".join(element.itertext())
            parts.append(paragraph)
            size += len(paragraph)
            element.clear()
    if fmt in {"odp", "otp", "odg"}:
        result.metadata["slides"] = pages
    if fmt in {"ods", "ots"}:
        result.metadata["sheets"] = tables
        result.metadata["sheet_names"] = names[:50]
    result.text = clip("\n".join(parts))
    if result.title is None and fmt in {"odp", "otp"} and parts:
        result.title = clean(parts[0], 200)
    return result


def _odf_meta(root: Element, result: Extraction) -> None:
    creator = initial = None
    for element in root.iter():
        name = local(element.tag)
        text = clean(element.text)
        if name == "title" and text:
            result.title = text
        elif name == "initial-creator" and text:
            initial = text
        elif name == "creator" and text:
            creator = text
        elif name == "keyword" and text:
            result.keywords.append(text)
        elif name == "subject" and text:
            result.metadata["subject"] = text
        elif name == "creation-date" and text:
            result.captured = parse_date(text)
        elif name == "generator" and text:
            result.metadata["application"] = text[:100]
        elif name == "document-statistic":
            for key, value in element.attrib.items():
                field = local(key)
                if value.isdigit() and field in {"page-count", "word-count"}:
                    result.metadata["pages" if field == "page-count" else "words"] = (
                        int(value)
                    )
    person = initial or creator
    result.authors = split_people(person)
