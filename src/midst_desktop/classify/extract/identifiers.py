"""Scholarly identifiers in free text: DOI, arXiv id and ISBN (checksum-validated)."""

from __future__ import annotations

import re

# A DOI's prefix is 10.NNNN; its suffix runs to whitespace or a quote, and
# trailing punctuation belongs to the sentence, not to the DOI.
DOI_RE = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)
DOI_TRAILING = ".,;:)]}"
ARXIV_RE = re.compile(
    r"\barXiv\s*:\s*(\d{4}\.\d{4,5}(?:v\d+)?|[a-z\-]+(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)"
    r"|\barxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5}(?:v\d+)?)",
    re.IGNORECASE,
)
ISBN_RE = re.compile(
    r"\bISBN(?:-1[03])?\s*:?\s*((?:97[89][\s\-]?)?\d{1,5}[\s\-]?\d{1,7}[\s\-]?"
    r"\d{1,7}[\s\-]?[\dX])\b",
    re.IGNORECASE,
)


def find_doi(text: str) -> str | None:
    if "10." not in text:
        return None
    for match in DOI_RE.finditer(text):
        doi = match.group(1)
        while doi and doi[-1] in DOI_TRAILING:
            # Keep a closing bracket that closes one opened inside the DOI.
            if doi[-1] == ")" and doi.count("(") >= doi.count(")"):
                break
            doi = doi[:-1]
        if "/" in doi and len(doi.split("/", 1)[1]) >= 2:
            return doi
    return None


def find_arxiv_id(text: str) -> str | None:
    if "arxiv" not in text.lower():
        return None
    match = ARXIV_RE.search(text)
    if match is None:
        return None
    return match.group(1) or match.group(2)


def isbn_is_valid(digits: str) -> bool:
    if len(digits) == 10:
        if not digits[:9].isdigit():
            return False
        total = sum((10 - i) * int(d) for i, d in enumerate(digits[:9]))
        check = 10 if digits[9] in "Xx" else int(digits[9])
        return (total + check) % 11 == 0
    if len(digits) == 13 and digits.isdigit():
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits))
        return total % 10 == 0
    return False


def find_isbn(text: str) -> str | None:
    if "isbn" not in text.lower():
        return None
    for match in ISBN_RE.finditer(text):
        digits = re.sub(r"[\s\-]", "", match.group(1)).upper()
        if isbn_is_valid(digits):
            return digits
    return None
