"""Rules classifier: sniffed format, content signals, whole words of name and path.

Each verdict names the rule that fired (`rule`, stable, used to calibrate
confidences per rule) and says why in words for the review pane (`reason`).
The confidences here are per-rule starting points; calibration measures
them on the evaluation corpus, except for the guesses in GUESS_RULES, which
only a person's reviews can measure. Content signals are in signals.py.
"""

from __future__ import annotations

import functools
import mimetypes
import re
import statistics
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from midst_desktop.classify import names, signals
from midst_desktop.classify.sniff import FORMAT_MIMES, SNIFF_BYTES, Sniffed, sniff
from midst_desktop.store.models import ArtifactType as T

if TYPE_CHECKING:
    from midst_desktop.classify.extract.base import Extraction

__all__ = [
    "EXTENSION_TYPES",
    "GENERIC_MIME",
    "GUESS_RULES",
    "SNIFF_BYTES",
    "Classification",
    "classify",
    "guess_mime",
    "sniff_mime",
    "words_of",
]

GENERIC_MIME = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Classification:
    artifact_type: str
    confidence: float
    mime_type: str
    rule: str
    reason: str = ""
    # The extraction the verdict read, for the engine to store.
    content: Extraction | None = None
    # rules, or model where the person's learned model overruled them.
    classified_by: str = "rules"


# Formats that say what the work is, whatever it is called.
EXTENSION_TYPES: dict[str, tuple[T, float]] = {}


def _register(artifact_type: T, confidence: float, extensions: str) -> None:
    for extension in extensions.split():
        EXTENSION_TYPES[extension] = (artifact_type, confidence)


_register(T.VIDEO, 0.92, "mp4 m4v mov mkv avi webm wmv flv mpg mpeg 3gp ogv mts")
_register(T.AUDIO, 0.92, "mp3 wav flac ogg oga m4a aac aif aiff opus wma mid midi alac")
_register(T.PRESENTATION, 0.93, "pptx ppt pps ppsx key odp otp")
_register(T.VISUAL_ART, 0.8, "psd ai kra xcf procreate clip sai")
_register(T.VISUAL_ART, 0.72, "jpg jpeg png gif tif tiff webp heic heif bmp svg avif")
_register(T.VISUAL_ART, 0.75, "cr2 cr3 nef arw dng orf raf rw2")
_register(T.DATASET, 0.85, "csv tsv parquet feather arrow h5 hdf5 nc sav dta rds")
_register(T.DATASET, 0.8, "xlsx xls ods ots jsonl ndjson sqlite sqlite3 db")
_register(T.DATASET, 0.85, "rda rdata")
_register(
    T.CODE_SAMPLE,
    0.88,
    "py pyi ipynb js mjs ts tsx jsx go rs c h cc cpp hpp cxx java kt kts scala "
    "rb php swift m mm cs fs hs lua pl r jl sh bash zsh ps1 sql dart ex exs erl "
    "clj elm ml vue svelte asm zig nim",
)
_register(T.ACADEMIC_PAPER, 0.8, "tex bib ris")
_register(T.CREATIVE_WRITING, 0.7, "fountain fdx scriv")
_register(T.CREATIVE_WRITING, 0.6, "docx doc odt rtf pages")
# A text document's template is a form to fill in, not a work.
_register(T.OTHER, 0.7, "ott dotx dotm dot")
_register(T.CREATIVE_WRITING, 0.5, "md markdown txt")

# Verdicts that are a default for a container of many kinds (a plain text, a
# document, a PDF, an e-book with no sign of its kind, or nothing at all), or
# that rest on name and folder words alone. How often they are right depends
# on whose files they are and how that person names folders; the evaluation
# corpus (Debian's folders) cannot say it, so the shipped calibration leaves
# them at their raw figure and the person's reviews calibrate them.
GUESS_RULES = frozenset(
    ["extension-guess", "pdf", "epub", "fallback", "words", "pdf-words", "epub-words"]
)

# Sniffed formats, for names that have no extension or a wrong one.
FORMAT_EXTENSIONS = {
    "jpg": "jpg",
    "tif": "tif",
    "encrypted-office": "",
    "ole2": "",
    "text": "txt",
    "markdown": "md",
    "latex": "tex",
    "code": "py",
}
DOCUMENT_FORMATS = frozenset(
    [
        "pdf",
        "docx",
        "doc",
        "odt",
        "ott",
        "dotx",
        "dot",
        "rtf",
        "epub",
        "txt",
        "md",
        "markdown",
        "html",
        "htm",
        "pages",
        "text",
        "latex",
        "tex",
    ]
)
TEXT_FAMILY = frozenset(
    [
        "text",
        "code",
        "markdown",
        "latex",
        "csv",
        "tsv",
        "json",
        "jsonl",
        "html",
        "xml",
        "svg",
        "rtf",
    ]
)
TEXTUAL_EXTENSIONS = frozenset(
    [ext for ext, (kind, _) in EXTENSION_TYPES.items() if kind == T.CODE_SAMPLE]
    + ["txt", "md", "markdown", "tex", "bib", "ris", "csv", "tsv", "json", "jsonl"]
    + ["ndjson", "xml", "html", "htm", "svg", "rtf", "fountain", "rst"]
)
ZIPPED_EXTENSIONS = frozenset(["docx", "pptx", "xlsx", "odt", "odp", "ods", "epub"])
# Formats whose text the document rules read, whatever the name says.
TEXT_READ_AS_DOCUMENT = frozenset(["latex", "markdown", "text", "code"])
# Program punctuation per visible character: code scores 0.1-0.3, prose 0.01.
CODE_SCORE = 0.04
# Without a code extension to go by, more is asked of the text.
CODE_SCORE_UNNAMED = 0.06

# Whole words in a name or folder; "smart" never matches "art".
WORD_TYPES: dict[str, T] = {}


def _words(artifact_type: T, words: str) -> None:
    for word in words.split():
        WORD_TYPES[word] = artifact_type


_words(
    T.ACADEMIC_PAPER,
    "paper papers thesis dissertation journal proceedings preprint arxiv "
    "conference symposium abstract manuscript publication publications research "
    "article articles study review doi phd msc",
)
_words(
    T.CREATIVE_WRITING,
    "poem poems poetry story stories novel novella chapter fiction essay essays "
    "memoir screenplay script sonnet haiku verse prose draft drafts writing short",
)
_words(
    T.VISUAL_ART,
    "art artwork artworks painting paintings drawing drawings sketch sketches "
    "illustration illustrations portfolio photo photos photography gallery canvas "
    "design designs comic comics",
)
_words(
    T.PRESENTATION,
    "slides slide deck talk talks keynote lecture lectures presentation "
    "presentations seminar webinar pitch",
)
_words(T.VIDEO, "video videos film films footage clip clips recording trailer")
_words(T.AUDIO, "audio podcast podcasts music song songs album track tracks demo mix")
_words(
    T.DATASET,
    "data dataset datasets survey measurements results export samples table tables",
)
_words(T.CODE_SAMPLE, "code src script scripts notebook notebooks repo algorithm")
_words(
    T.OTHER,
    "manual manuals handbook guide guides documentation howto faq readme help "
    "cheatsheet quickref template templates invoice receipt agenda minutes fax",
)

TOKEN_RE = re.compile(r"[^\W_]+")
CAMEL_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
CHAPTER_RE = re.compile(
    r"^\s*chapter\s+(?:\d+|[ivxlc]+|one|two|three|four|five)\b",
    re.IGNORECASE | re.MULTILINE,
)
DIALOGUE_RE = re.compile(r"^\s*[\"\u201c\u00ab\u201e\u2018]\S", re.MULTILINE)
SLIDE_APPLICATIONS = ("beamer", "powerpoint", "impress", "keynote")
TEMPLATE_FORMATS = frozenset(["ott", "dotx", "dotm", "dot"])
# Title words of a manual, a guide or a reference card.
MANUAL_WORDS = frozenset(
    [
        "manual",
        "handbook",
        "guide",
        "userguide",
        "documentation",
        "faq",
        "cheatsheet",
        "howto",
        "tutorial",
        "readme",
        "quickref",
    ]
)
# Signal thresholds (signals.py measures them). A text is a table when most
# of its lines are records; ASCII art when most lines are drawn in symbols.
RECORD_SHARE = 0.6
DRAWING_SHARE = 0.7
# Unnamed text needs this many program statements besides its punctuation.
STATEMENTS_UNNAMED = 3
# A text that opens with a tag and holds this many is marked up.
MARKUP_TAGS = 10
PROSE_SHARE = 0.3
# Or this share of its tags are paragraphs, titles, sections and links.
DOCUMENT_TAG_SHARE = 0.5
# TeX control words per 1,000 characters of a typeset document: documentation
# of TeX itself. Typeset papers show none.
MACRO_DENSITY = 2.0
MIN_MACROS = 5
# A table of contents: this many numbered subsection headings in the first pages.
NUMBERED_HEADINGS = 12
# Citations in running text that make sections read as a paper's.
MIN_CITATIONS = 2
# Blanks to fill in a short document: a form or template.
MIN_PLACEHOLDERS = 3
FORM_WORDS = 300

# What a sniffed MIME type says when the name says nothing.
MIME_PREFIX_TYPES: dict[str, tuple[T, float]] = {
    "video/": (T.VIDEO, 0.9),
    "audio/": (T.AUDIO, 0.9),
    "image/": (T.VISUAL_ART, 0.7),
}


def words_of(text: str) -> list[str]:
    """Lower-case words of a name or path: each token, and its camelCase parts."""
    words: list[str] = []
    for token in TOKEN_RE.findall(text):
        parts = [part.lower() for part in CAMEL_RE.findall(token)]
        if len(parts) > 1:
            words.append(token.lower())
        words.extend(parts or [token.lower()])
    return words


def sniff_mime(head: bytes) -> str | None:
    """The MIME type the first bytes of a file declare, if they declare one."""
    return sniff(head).mime_type


def guess_mime(name: str) -> str:
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or GENERIC_MIME


def _extension(name: str) -> str:
    suffix = names.suffix(name)
    return suffix[1:].lower() if suffix else ""


@functools.lru_cache(maxsize=1024)
def _folder_words(folder: str) -> tuple[str, ...]:
    """words_of(folder), worked out once per folder: a sync asks file by file."""
    return tuple(words_of(folder))


def _vote_by_words(name: str, folder: str) -> tuple[T, float, list[str]] | None:
    """Name words count twice as much as folder words."""
    scores: dict[T, float] = {}
    matched: list[str] = []
    for word in words_of(names.stem(name)):
        if word in WORD_TYPES:
            scores[WORD_TYPES[word]] = scores.get(WORD_TYPES[word], 0.0) + 2.0
            matched.append(word)
    for word in _folder_words(folder):
        if word in WORD_TYPES:
            scores[WORD_TYPES[word]] = scores.get(WORD_TYPES[word], 0.0) + 1.0
            matched.append(word)
    if not scores:
        return None
    best = max(scores, key=lambda key: scores[key])
    total = sum(scores.values())
    words = [word for word in dict.fromkeys(matched) if WORD_TYPES[word] == best]
    return best, scores[best] / total, words


def verse_shaped(text: str) -> bool:
    """Short lines in stanzas with few digits: how poems and lyrics look."""
    sample = text[:4000]
    lines = [line.strip() for line in sample.splitlines() if line.strip()]
    if len(lines) < 6:
        return False
    lengths = [len(line) for line in lines]
    letters = sum(map(str.isalpha, sample))
    digits = sum(map(str.isdigit, sample))
    if letters == 0 or digits / letters > 0.03:
        return False
    mean = statistics.fmean(lengths)
    long_lines = sum(1 for length in lengths if length > 70)
    stanzas = sample.count("\n\n") + sample.count("\n \n")
    return (
        12 <= mean <= 55
        and long_lines <= len(lines) // 10
        and (stanzas >= 1 or len(lines) >= 10)
    )


def _verdict(
    artifact_type: T | str, confidence: float, mime: str, rule: str, reason: str
) -> Classification:
    return Classification(
        str(artifact_type),
        round(min(max(confidence, 0.01), 0.99), 3),
        mime,
        rule,
        reason,
    )


def _format_of(name: str, sniffed: Sniffed, extraction: Extraction | None) -> str:
    """The extension that stands for the real format: the name's, unless the
    bytes say otherwise."""
    extension = _extension(name)
    real = sniffed.format
    if extraction is not None and not extraction.failed:
        real = extraction.format if extraction.format != "unknown" else real
    if real is None:
        return extension
    if real in TEXT_FAMILY and extension in TEXTUAL_EXTENSIONS:
        return extension  # text whose name says its kind: .py, .md, .csv, .tex
    if real == "zip" and extension in ZIPPED_EXTENSIONS:
        return extension  # an OOXML file whose first bytes did not show it
    return FORMAT_EXTENSIONS.get(real, real)


def classify(
    name: str,
    path: str = "",
    mime_type: str | None = None,
    head: bytes = b"",
    extraction: Extraction | None = None,
) -> Classification:
    """Classify a file by its name, folder path, first bytes and extracted content."""
    folder = names.parent(path) if path else ""
    sniffed = sniff(head, _extension(name)) if head else Sniffed(None, None)
    fmt = _format_of(name, sniffed, extraction)
    mime = (
        sniffed.mime_type
        or FORMAT_MIMES.get(extraction.format if extraction else "", "")
        or mime_type
        or guess_mime(name)
    )
    words = _vote_by_words(name, folder)
    content = extraction if extraction is not None and not extraction.failed else None

    named = bool(_extension(name))
    template = fmt in TEMPLATE_FORMATS or _extension(name) in TEMPLATE_FORMATS
    verdict = _by_content(fmt, content, mime, named, template) or _by_name(
        fmt, mime, words
    )
    if extraction is None:
        return verdict
    return replace(verdict, content=extraction)


def _by_content(
    fmt: str,
    content: Extraction | None,
    mime: str,
    named: bool = True,
    template: bool = False,
) -> Classification | None:
    """Rules that read what is inside the file."""
    if content is None:
        return None
    meta = content.metadata
    text = content.text

    if fmt in {"pptx", "odp", "otp", "ppt", "key"}:
        slides = meta.get("slides")
        counted = f", {slides} slides" if slides else ""
        return _verdict(
            T.PRESENTATION, 0.96, mime, "format-slides", f"Slide deck (.{fmt}{counted})"
        )
    if fmt in {"xlsx", "ods", "ots", "xls"}:
        sheets = meta.get("sheets")
        counted = f", {sheets} sheets" if sheets else ""
        return _verdict(
            T.DATASET, 0.92, mime, "format-sheet", f"Spreadsheet (.{fmt}{counted})"
        )
    if meta.get("has_video") is False and fmt in {"webm", "mkv", "mp4", "ogg"}:
        return _verdict(
            T.AUDIO, 0.9, mime, "media-audio-only", "Media file with no video track"
        )
    if meta.get("camera") and meta.get("width"):
        return _verdict(
            T.VISUAL_ART,
            0.9,
            mime,
            "image-camera",
            f"Photo taken with {meta['camera']}",
        )
    width, height = meta.get("width", 0), meta.get("height", 0)
    if fmt not in {"pdf"} and 0 < max(width, height) <= 64:
        return _verdict(
            T.OTHER, 0.6, mime, "image-icon", f"Icon-sized image ({width}x{height})"
        )

    if content.format == "code":
        score = meta.get("code_score", 0.0)
        language = meta.get("language", "source code")
        if score >= CODE_SCORE:
            return _verdict(
                T.CODE_SAMPLE, 0.94, mime, "code-syntax", f"{language} with code syntax"
            )
        statements = signals.statement_lines(text)
        if statements >= 2:
            # Well-documented code is mostly words, but its lines still
            # import, define and assign.
            return _verdict(
                T.CODE_SAMPLE,
                0.9,
                mime,
                "code-statements",
                f"{language} with {statements} program statements",
            )
        # A poem saved as .py is still a poem: fall through to the text rules.
    plain = content.format in {"text", "markdown"}
    if plain and signals.drawing_share(text) >= DRAWING_SHARE:
        return _verdict(
            T.VISUAL_ART, 0.8, mime, "text-drawing", "Pictures drawn in characters"
        )
    if (
        content.format == "text"
        and not named
        and meta.get("code_score", 0.0) >= CODE_SCORE_UNNAMED
        and signals.statement_lines(text) >= STATEMENTS_UNNAMED
    ):
        return _verdict(
            T.CODE_SAMPLE, 0.75, mime, "text-code-syntax", "Text with code syntax"
        )
    marked_up = content.format in {"text", "markdown", "xml"}
    if marked_up and signals.markup_tags(text) >= MARKUP_TAGS:
        if (
            signals.prose_share(signals.visible_text(text)) >= PROSE_SHARE
            or signals.document_tag_share(text) >= DOCUMENT_TAG_SHARE
        ):
            return _verdict(
                T.OTHER,
                0.8,
                mime,
                "markup-document",
                "Marked-up document (help page or article source)",
            )
        return _verdict(
            T.DATASET, 0.55, mime, "markup-data", "Marked-up records, not prose"
        )
    if plain and signals.record_share(text) >= RECORD_SHARE:
        return _verdict(
            T.DATASET,
            0.85,
            mime,
            "text-records",
            "Lines of delimited fields, as a data table",
        )
    if content.format in {"csv", "tsv"} and meta.get("columns", 0) >= 2:
        return _verdict(
            T.DATASET,
            0.9,
            mime,
            "content-table",
            f"Table of {meta.get('rows', 0)} rows and {meta['columns']} columns",
        )
    if content.format in {"json", "jsonl"} and meta.get("rows", 0) >= 2:
        return _verdict(
            T.DATASET, 0.85, mime, "content-records", f"{meta['rows']} JSON records"
        )
    if content.format == "latex":
        document_class = meta.get("subject", "")
        if "beamer" in document_class:
            return _verdict(
                T.PRESENTATION, 0.92, mime, "latex-beamer", "LaTeX slides (beamer)"
            )

    return _document_signals(fmt, content, mime, text, template)


def _document_signals(
    fmt: str,
    content: Extraction,
    mime: str,
    text: str,
    template: bool = False,
) -> Classification | None:
    meta = content.metadata
    if fmt not in DOCUMENT_FORMATS and content.format not in TEXT_READ_AS_DOCUMENT:
        return None
    if template:
        return _verdict(
            T.OTHER,
            0.85,
            mime,
            "document-template",
            f"Document template (.{fmt}), a form to fill in",
        )
    typeset = content.format not in TEXT_READ_AS_DOCUMENT
    if (
        typeset
        and signals.placeholders(text) >= MIN_PLACEHOLDERS
        and meta.get("words", len(text.split())) <= FORM_WORDS
    ):
        return _verdict(
            T.OTHER, 0.75, mime, "text-form", "Short text with blanks to fill in"
        )
    sections = set(meta.get("sections", []))
    identifier = (
        "DOI" if meta.get("doi") else "arXiv id" if meta.get("arxiv_id") else ""
    )
    if identifier and sections:
        found = " and ".join(sorted(sections))
        return _verdict(
            T.ACADEMIC_PAPER,
            0.96,
            mime,
            "paper-identifier-sections",
            f"{identifier} and {found} section found",
        )
    application = meta.get("application", "").lower()
    pages = meta.get("pages", 0)
    if fmt == "pdf" and any(word in application for word in SLIDE_APPLICATIONS):
        return _verdict(
            T.PRESENTATION,
            0.9,
            mime,
            "pdf-slides-app",
            "PDF made by a slides application",
        )
    if fmt == "pdf" and meta.get("landscape") and pages >= 3:
        return _verdict(
            T.PRESENTATION,
            0.85,
            mime,
            "pdf-landscape",
            f"Landscape PDF of {pages} pages",
        )
    found_macros = signals.macros(text) if typeset else 0
    if found_macros >= MIN_MACROS and found_macros * 1000 >= MACRO_DENSITY * len(text):
        return _verdict(
            T.OTHER,
            0.8,
            mime,
            "text-tex-macros",
            f"{found_macros} TeX commands in the text, as package documentation",
        )
    title_words = set(words_of(content.title or ""))
    manual = sorted(title_words & MANUAL_WORDS)
    if manual and not identifier:
        return _verdict(
            T.OTHER,
            0.8,
            mime,
            "title-manual",
            f"Title of a manual or guide ({', '.join(manual)})",
        )
    cited = signals.citations(text)
    if signals.numbered_headings(text) >= NUMBERED_HEADINGS and cited < MIN_CITATIONS:
        return _verdict(
            T.OTHER,
            0.75,
            mime,
            "text-numbered-sections",
            "Many numbered sections and no citations, as a manual",
        )
    if {"abstract", "references"} <= sections:
        return _verdict(
            T.ACADEMIC_PAPER,
            0.92,
            mime,
            "paper-sections",
            "Abstract and References sections",
        )
    if identifier:
        return _verdict(
            T.ACADEMIC_PAPER, 0.82, mime, "paper-identifier", f"{identifier} found"
        )
    if content.format == "latex" and sections:
        return _verdict(
            T.ACADEMIC_PAPER,
            0.85,
            mime,
            "latex-paper",
            "LaTeX article with an abstract",
        )
    if text and verse_shaped(text):
        return _verdict(
            T.CREATIVE_WRITING,
            0.8,
            mime,
            "text-verse",
            "Short lines in stanzas, as verse",
        )
    if text and (CHAPTER_RE.search(text) or len(DIALOGUE_RE.findall(text)) >= 4):
        return _verdict(
            T.CREATIVE_WRITING,
            0.78,
            mime,
            "text-fiction",
            "Chapters or dialogue, as fiction",
        )
    if sections and pages <= 60 and cited >= MIN_CITATIONS:
        return _verdict(
            T.ACADEMIC_PAPER,
            0.75,
            mime,
            "paper-one-section",
            f"{next(iter(sections)).title()} section and {cited} citations found",
        )
    if fmt == "pdf" and 4 <= pages <= 60 and cited >= 2 * MIN_CITATIONS:
        return _verdict(
            T.ACADEMIC_PAPER,
            0.6,
            mime,
            "paper-citations",
            f"{cited} citations in the text",
        )
    return None


def _by_name(
    fmt: str, mime: str, words: tuple[T, float, list[str]] | None
) -> Classification:
    """Rules that read only the format and the words of the name and path."""
    said = f" ({', '.join(words[2][:3])})" if words is not None else ""
    if fmt in EXTENSION_TYPES:
        artifact_type, confidence = EXTENSION_TYPES[fmt]
        if words is not None and words[0] == artifact_type:
            confidence = min(0.97, confidence + 0.05 * words[1] + 0.02)
            return _verdict(
                artifact_type, confidence, mime, "extension-words", f".{fmt} file{said}"
            )
        if (
            words is not None
            and artifact_type == T.CREATIVE_WRITING
            and words[1] >= 0.6
        ):
            # A .docx called "thesis" is a paper, not creative writing; a
            # picture in a folder called "data" is still a picture.
            return _verdict(
                words[0],
                0.55 + 0.1 * words[1],
                mime,
                "words",
                f"Name and folder words{said}",
            )
        if artifact_type == T.CREATIVE_WRITING:
            # A document or a text with no sign of its kind: writing is a guess.
            return _verdict(
                artifact_type, confidence, mime, "extension-guess", f".{fmt} file"
            )
        return _verdict(artifact_type, confidence, mime, "extension", f".{fmt} file")

    if fmt == "pdf":
        if words is not None:
            return _verdict(
                words[0], 0.6 + 0.2 * words[1], mime, "pdf-words", f"PDF{said}"
            )
        return _verdict(T.OTHER, 0.4, mime, "pdf", "PDF with no sign of its kind")
    if fmt == "epub":
        if words is not None:
            return _verdict(
                words[0], 0.55 + 0.2 * words[1], mime, "epub-words", f"E-book{said}"
            )
        return _verdict(T.CREATIVE_WRITING, 0.55, mime, "epub", "E-book")
    if fmt in {"json", "xml"}:
        return _verdict(
            T.DATASET, 0.55, mime, "structured", f"Structured data (.{fmt})"
        )
    if fmt == "encrypted-office":
        return _verdict(T.OTHER, 0.3, mime, "encrypted", "Encrypted Office document")

    for prefix, (artifact_type, confidence) in MIME_PREFIX_TYPES.items():
        if mime.startswith(prefix):
            return _verdict(artifact_type, confidence, mime, "mime", f"{mime} content")
    if words is not None:
        return _verdict(
            words[0],
            0.35 + 0.2 * words[1],
            mime,
            "words",
            f"Name and folder words{said}",
        )
    return _verdict(T.OTHER, 0.3, mime, "fallback", "Nothing points to a kind of work")
