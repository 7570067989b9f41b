"""Rules classifier: sniffed format, extension, and whole words in the name and path.

The confidences are first estimates per rule; issue 3's evaluation corpus
replaces them with measured ones.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import filetype

from midst_desktop.store.models import ArtifactType as T

SNIFF_BYTES = 8192
GENERIC_MIME = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Classification:
    artifact_type: str
    confidence: float
    mime_type: str
    rule: str


# Formats that say what the work is, whatever it is called.
EXTENSION_TYPES: dict[str, tuple[T, float]] = {}


def _register(artifact_type: T, confidence: float, extensions: str) -> None:
    for extension in extensions.split():
        EXTENSION_TYPES[extension] = (artifact_type, confidence)


_register(T.VIDEO, 0.92, "mp4 m4v mov mkv avi webm wmv flv mpg mpeg 3gp ogv mts")
_register(T.AUDIO, 0.92, "mp3 wav flac ogg oga m4a aac aif aiff opus wma mid midi alac")
_register(T.PRESENTATION, 0.93, "pptx ppt pps ppsx key odp")
_register(T.VISUAL_ART, 0.8, "psd ai kra xcf procreate clip sai")
_register(T.VISUAL_ART, 0.72, "jpg jpeg png gif tif tiff webp heic heif bmp svg")
_register(T.VISUAL_ART, 0.75, "cr2 cr3 nef arw dng orf raf rw2")
_register(T.DATASET, 0.85, "csv tsv parquet feather arrow h5 hdf5 nc sav dta rds")
_register(T.DATASET, 0.8, "xlsx xls ods jsonl ndjson sqlite sqlite3 db")
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
_register(T.CREATIVE_WRITING, 0.5, "md markdown txt")

# Containers whose type depends on what the words around them say.
AMBIGUOUS = {"pdf", "epub", "json", "xml", "html", "htm", "zip"}

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

TOKEN_RE = re.compile(r"[^\W_]+")
CAMEL_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# What a sniffed MIME type says when the name says nothing.
MIME_PREFIX_TYPES: dict[str, tuple[T, float]] = {
    "video/": (T.VIDEO, 0.9),
    "audio/": (T.AUDIO, 0.9),
    "image/": (T.VISUAL_ART, 0.7),
}
MIME_EXTENSION = {
    "application/pdf": "pdf",
    "application/epub+zip": "epub",
    "application/zip": "zip",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.presentation": "odp",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/x-sqlite3": "sqlite",
    "application/rtf": "rtf",
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
    if not head:
        return None
    kind = filetype.guess(head)
    return str(kind.mime) if kind is not None else None


def guess_mime(name: str) -> str:
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or GENERIC_MIME


def _extension(name: str) -> str:
    suffix = PurePosixPath(name).suffix
    return suffix[1:].lower() if suffix else ""


def _vote_by_words(name: str, folder: str) -> tuple[T, float] | None:
    """Name words count twice as much as folder words."""
    scores: dict[T, float] = {}
    for word in words_of(PurePosixPath(name).stem):
        if word in WORD_TYPES:
            scores[WORD_TYPES[word]] = scores.get(WORD_TYPES[word], 0.0) + 2.0
    for word in words_of(folder):
        if word in WORD_TYPES:
            scores[WORD_TYPES[word]] = scores.get(WORD_TYPES[word], 0.0) + 1.0
    if not scores:
        return None
    best = max(scores, key=lambda key: scores[key])
    total = sum(scores.values())
    return best, scores[best] / total


def classify(
    name: str, path: str = "", mime_type: str | None = None, head: bytes = b""
) -> Classification:
    """Classify one file from its name, its folder path and its first bytes."""
    folder = str(PurePosixPath(path).parent) if path else ""
    sniffed = sniff_mime(head) if head else None
    extension = _extension(name)
    if sniffed and (not extension or extension not in EXTENSION_TYPES):
        extension = MIME_EXTENSION.get(sniffed, extension)
    mime = sniffed or mime_type or guess_mime(name)
    words = _vote_by_words(name, folder)

    if extension in EXTENSION_TYPES:
        artifact_type, confidence = EXTENSION_TYPES[extension]
        if words is not None and words[0] == artifact_type:
            confidence = round(min(0.97, confidence + 0.05 * words[1] + 0.02), 3)
        elif words is not None and confidence < 0.75 and words[1] >= 0.6:
            # A .docx called "thesis" is a paper, not creative writing.
            return Classification(
                words[0], round(0.55 + 0.1 * words[1], 3), mime, "words"
            )
        return Classification(artifact_type, confidence, mime, "extension")

    if extension == "pdf":
        if words is not None:
            return Classification(words[0], round(0.6 + 0.2 * words[1], 3), mime, "pdf")
        return Classification(T.ACADEMIC_PAPER, 0.45, mime, "pdf")
    if extension == "epub":
        return Classification(T.CREATIVE_WRITING, 0.6, mime, "epub")
    if extension in {"json", "xml"}:
        return Classification(T.DATASET, 0.55, mime, "structured")

    for prefix, (artifact_type, confidence) in MIME_PREFIX_TYPES.items():
        if mime.startswith(prefix):
            return Classification(artifact_type, confidence, mime, "mime")
    if words is not None:
        return Classification(words[0], round(0.35 + 0.2 * words[1], 3), mime, "words")
    return Classification(T.OTHER, 0.3, mime, "fallback")
