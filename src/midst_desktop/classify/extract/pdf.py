"""PDF with PDFium: text of the first pages, page count, size and the info dict."""

from __future__ import annotations

from pathlib import Path

import pypdfium2  # type: ignore[import-untyped]

from midst_desktop.classify.extract.base import (
    MAX_TEXT_CHARS,
    ExtractError,
    Extraction,
    clean,
    clip,
    parse_date,
    split_keywords,
    split_people,
)

# Text is read from the first pages and the last one, where a paper's
# references end; about 15 ms a page.
TEXT_PAGES = 2
# Slides are landscape: wider than 1.2 times their height (4:3 is 1.33).
LANDSCAPE_RATIO = 1.2
# Exceptions PDFium's binding raises on malformed input, besides PdfiumError.
PDF_ERRORS = (pypdfium2.PdfiumError, OSError, ValueError, RuntimeError, KeyError)


def extract_pdf(path: Path) -> Extraction:
    try:
        document = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as error:
        message = str(error)
        if "password" in message.lower():
            raise ExtractError("the PDF is encrypted with a password") from None
        raise ExtractError(f"not a readable PDF ({_short(message)})") from None
    except PDF_ERRORS as error:
        raise ExtractError(f"not a readable PDF ({_short(str(error))})") from None
    try:
        return _read(document)
    except PDF_ERRORS as error:
        raise ExtractError(f"the PDF is damaged ({_short(str(error))})") from None
    finally:
        document.close()


def _read(document: pypdfium2.PdfDocument) -> Extraction:
    result = Extraction(format="pdf")
    pages = len(document)
    result.metadata["pages"] = pages
    info = document.get_metadata_dict(skip_empty=True)
    result.title = clean(info.get("Title"), 300)
    result.authors = split_people(clean(info.get("Author")))
    result.keywords = split_keywords(clean(info.get("Keywords")))
    subject = clean(info.get("Subject"))
    if subject:
        result.metadata["subject"] = subject
    application = clean(info.get("Creator") or info.get("Producer"), 100)
    if application:
        result.metadata["application"] = application
    result.captured = parse_date(info.get("CreationDate"))

    parts: list[str] = []
    size = 0
    indexes = list(range(min(pages, TEXT_PAGES)))
    if pages > TEXT_PAGES:
        indexes.append(pages - 1)
    for index in indexes:
        page = document[index]
        try:
            if index == 0:
                # PDFium gives the size as shown, with /Rotate already applied.
                width, height = page.get_size()
                result.metadata["width"] = round(width)
                result.metadata["height"] = round(height)
                result.metadata["landscape"] = width > height * LANDSCAPE_RATIO
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_bounded()
            finally:
                textpage.close()
        finally:
            page.close()
        parts.append(text)
        size += len(text)
        if size >= MAX_TEXT_CHARS:
            break
    result.text = clip("\n".join(parts).replace("\r\n", "\n").replace("\r", "\n"))
    return result


def _short(message: str) -> str:
    return message.splitlines()[0][:160] if message else "unknown error"
