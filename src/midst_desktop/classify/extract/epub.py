"""EPUB: the package document's metadata and the text of the first chapters."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote

from midst_desktop.classify.extract.base import (
    MAX_TEXT_CHARS,
    ExtractError,
    Extraction,
    clean,
    clip,
    parse_date,
)
from midst_desktop.classify.extract.identifiers import isbn_is_valid
from midst_desktop.classify.extract.safezip import SafeZip, local
from midst_desktop.classify.extract.text import html_text

MAX_CHAPTERS = 8


def extract_epub(archive: SafeZip) -> Extraction:
    if not archive.has("META-INF/container.xml"):
        raise ExtractError("the book has no META-INF/container.xml")
    container = archive.xml("META-INF/container.xml")
    package_path = next(
        (
            str(element.get("full-path"))
            for element in container.iter()
            if local(element.tag) == "rootfile" and element.get("full-path")
        ),
        None,
    )
    if package_path is None or not archive.has(package_path):
        raise ExtractError("the book names no package document")
    package = archive.xml(package_path)
    result = Extraction(format="epub")

    manifest: dict[str, str] = {}
    spine: list[str] = []
    for element in package.iter():
        name = local(element.tag)
        text = clean(element.text)
        if name == "title" and text and result.title is None:
            result.title = text
        elif name == "creator" and text:
            result.authors.append(text)
        elif name == "subject" and text:
            result.keywords.append(text)
        elif name == "date" and text and result.captured is None:
            result.captured = parse_date(text)
        elif name == "language" and text:
            result.metadata["language"] = text
        elif name == "identifier" and text:
            digits = re.sub(r"[^\dXx]", "", text.removeprefix("urn:isbn:"))
            if isbn_is_valid(digits.upper()):
                result.metadata["isbn"] = digits.upper()
        elif name == "item" and element.get("id") and element.get("href"):
            manifest[str(element.get("id"))] = str(element.get("href"))
        elif name == "itemref" and element.get("idref"):
            spine.append(str(element.get("idref")))

    base = posixpath.dirname(package_path)
    parts: list[str] = []
    size = 0
    for idref in spine[:MAX_CHAPTERS]:
        href = manifest.get(idref)
        if href is None:
            continue
        # Manifest hrefs may carry a #fragment and percent-escapes.
        member = posixpath.normpath(posixpath.join(base, unquote(href.split("#")[0])))
        if not archive.has(member):
            continue
        chapter = html_text(archive.read(member))
        parts.append(chapter)
        size += len(chapter)
        if size >= MAX_TEXT_CHARS:
            break
    result.text = clip("\n\n".join(parts))
    return result
