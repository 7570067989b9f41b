"""The result every extractor returns, the error it raises, and shared helpers."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypedDict

# Extracted text kept per artifact: the first pages of a paper, for search
# and for the classifier; a whole book would only bloat the store.
MAX_TEXT_CHARS = 32_000
# Extractors stop reading text sources after this much input.
MAX_TEXT_BYTES = 4 * 1024 * 1024


MEMORY_MESSAGE = "needed more memory than extraction may use"


class ExtractError(Exception):
    """A file could not be extracted; the message is one line for the person."""


class Metadata(TypedDict, total=False):
    """What review shows about a file; every key is optional."""

    pages: int
    slides: int
    sheets: int
    sheet_names: list[str]
    words: int
    width: int
    height: int
    landscape: bool
    camera: str
    gps: bool
    duration_seconds: float
    doi: str
    arxiv_id: str
    isbn: str
    subject: str
    application: str
    language: str
    rows: int
    columns: int
    column_names: list[str]
    encrypted: bool
    artist: str
    album: str
    has_video: bool
    sections: list[str]
    code_score: float


@dataclass(slots=True)
class Extraction:
    """Text and metadata of one file; error is set when extraction failed."""

    format: str
    text: str = ""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    captured: datetime | None = None
    metadata: Metadata = field(default_factory=Metadata)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def metadata_json(self) -> dict[str, Any]:
        """The artifact's metadata column: the format and every known field."""
        values: dict[str, Any] = {"format": self.format}
        values.update({k: v for k, v in self.metadata.items() if v not in ("", [])})
        if self.captured is not None:
            values["captured"] = self.captured.isoformat()
        return values

    def to_wire(self) -> dict[str, Any]:
        """A JSON-able form, for the worker process to send back."""
        values = asdict(self)
        values["captured"] = self.captured.isoformat() if self.captured else None
        return values

    @classmethod
    def from_wire(cls, values: dict[str, Any]) -> Extraction:
        captured = values.get("captured")
        return cls(
            format=str(values.get("format") or "unknown"),
            text=str(values.get("text") or ""),
            title=values.get("title"),
            authors=[str(a) for a in values.get("authors") or []],
            keywords=[str(k) for k in values.get("keywords") or []],
            captured=datetime.fromisoformat(captured) if captured else None,
            metadata=Metadata(**values.get("metadata") or {}),  # type: ignore[typeddict-item]
            error=values.get("error"),
        )


def failure(fmt: str, reason: str) -> Extraction:
    return Extraction(format=fmt, error=reason)


def clip(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Text cut to the limit, with runs of blank space squeezed."""
    # Cut first: squeezing blank runs of a whole book would cost more than it.
    text = WHITESPACE_RUN_RE.sub("\n\n", text[: limit * 2].replace("\x00", ""))
    return text[:limit].strip()


WHITESPACE_RUN_RE = re.compile(r"[ \t]*\n(?:[ \t]*\n)+")


def clean(value: object, limit: int = 500) -> str | None:
    """A one-line property value, or None when it is empty."""
    if value is None:
        return None
    text = " ".join(str(value).split())[:limit]
    return text or None


def split_people(value: str | None) -> list[str]:
    """Authors from a property: 'A; B', 'A and B', 'A, B' (two full names)."""
    if not value:
        return []
    parts = re.split(r"\s*;\s*|\s+and\s+|\s*&\s*", value)
    if len(parts) == 1 and value.count(",") >= 1 and " " in value.split(",")[0]:
        parts = value.split(",")
    people = [" ".join(part.split()) for part in parts]
    return [person for person in people if person][:20]


def split_keywords(value: str | None) -> list[str]:
    if not value:
        return []
    words = [" ".join(word.split()) for word in re.split(r"[,;]", value)]
    return [word for word in words if word][:20]


def parse_date(value: str | None) -> datetime | None:
    """An ISO 8601, EXIF or PDF date as UTC; None when it is not a sane date."""
    if not value:
        return None
    text = value.strip()
    match = PDF_DATE_RE.match(text)
    if match is not None:
        year, month, day = (int(part) if part else 1 for part in match.groups()[:3])
        hour, minute, second = (
            int(part) if part else 0 for part in match.groups()[3:6]
        )
        try:
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            return None
        return moment if 1900 <= moment.year <= 2200 else None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment if 1900 <= moment.year <= 2200 else None


# PDF "D:20210314152233+01'00'", EXIF "2021:03:14 15:22:33", a bare year.
PDF_DATE_RE = re.compile(
    r"^(?:D:)?(\d{4})(?:[:\-]?(\d{2}))?(?:[:\-]?(\d{2}))?"
    r"(?:[ T]?(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?)?(?:[^\d].*)?$"
)
