"""The original In-Midst heuristic, re-implemented from its description, as a baseline.

It follows the research notes on the original classifier (origin.md, section
4.1) rule by rule: the inputs are lower-cased; tier 1 needs an extension of
2 to 6 letters or digits and then checks extension or MIME type in a fixed
order; tier 2 matches the file name against keyword patterns; tier 3 matches
the path; the fallback is `other` at 0.5. The first match wins and every
tier has a fixed confidence. Patterns are substrings, as in the original,
so "art" matches inside "smart". The local provider passes the relative path
(file name included) as the folder path and a MIME type guessed from a short
list of extensions; `local_mime` reproduces that list.

Where the notes elide part of a pattern (the video and audio keyword lists
end in "..."), only the words they show are used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXTENSION_RE = re.compile(r"\.([a-z0-9]{2,6})$")

# The local and Dropbox providers' extension-to-MIME map.
LOCAL_MIMES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "txt": "text/plain",
    "md": "text/markdown",
    "json": "application/json",
    "xml": "application/xml",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "svg": "image/svg+xml",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "webm": "video/webm",
}


@dataclass(frozen=True, slots=True)
class Heuristic:
    artifact_type: str
    confidence: float
    reasoning: str


def local_mime(filename: str) -> str:
    match = EXTENSION_RE.search(filename.lower())
    extension = match.group(1) if match else ""
    return LOCAL_MIMES.get(extension, "application/octet-stream")


def _extension_tier(extension: str, mime: str) -> Heuristic | None:
    def has(*words: str) -> bool:
        return any(word in mime for word in words)

    if extension == "pdf" or has("pdf"):
        return Heuristic("academic_paper", 0.7, "PDF file extension")
    if extension in {"docx", "doc"} or has("word", "document"):
        return Heuristic("creative_writing", 0.65, "Word document (.docx)")
    if extension in {"pptx", "ppt", "key", "odp"} or has("presentation", "slideshow"):
        return Heuristic("presentation", 0.8, "Presentation file")
    images = {"jpg", "jpeg", "png", "gif", "webp", "bmp", "svg", "tiff"}
    if extension in images or mime.startswith("image/"):
        return Heuristic("visual_art", 0.75, "Image file")
    videos = {"mp4", "mov", "avi", "mkv", "webm", "m4v", "flv"}
    if extension in videos or mime.startswith("video/"):
        return Heuristic("video", 0.8, "Video file")
    audios = {"mp3", "wav", "flac", "aac", "ogg", "m4a", "wma"}
    if extension in audios or mime.startswith("audio/"):
        return Heuristic("audio", 0.8, "Audio file")
    code = {"js", "ts", "py", "java", "cpp", "c", "go", "rs", "rb", "php"}
    if extension in code or has("text/x-", "application/x-"):
        return Heuristic("code_sample", 0.75, "Source code file")
    data = {"csv", "tsv", "xlsx", "xls", "json", "xml"}
    if extension in data or has("spreadsheet", "sheet"):
        return Heuristic("dataset", 0.7, "Data file")
    return None


NAME_PATTERNS: list[tuple[str, list[str], float]] = [
    (
        "academic_paper",
        [
            r"dissertation|thesis|paper|research|study|analysis|survey|conference"
            r"|proceedings",
            r"arxiv|doi|^[a-z0-9]{10,}$",
            r"_paper_|_research_|_thesis_",
        ],
        0.72,
    ),
    (
        "creative_writing",
        [r"story|essay|novel|fiction|poem|memoir|narrative|chapter|book|draft"],
        0.7,
    ),
    ("presentation", [r"talk|presentation|slide|keynote|lecture|speech|demo"], 0.75),
    (
        "visual_art",
        [r"painting|illustration|art|design|graphic|sketch|drawing|photo|image"],
        0.68,
    ),
    ("video", [r"video|recording|performance"], 0.75),
    ("audio", [r"audio|podcast|recording|interview|speech_audio|music"], 0.75),
    (
        "code_sample",
        [r"code|repo|project|script|algorithm|library|module|package"],
        0.7,
    ),
    ("dataset", [r"data|dataset|collection|archive|database|records|catalog"], 0.7),
]

FOLDER_PATTERNS: list[tuple[str, str, float]] = [
    (
        "academic_paper",
        r"academic|research|papers|dissertations|theses|conference|publications"
        r"|scholarly",
        0.68,
    ),
    (
        "creative_writing",
        r"writing|stories|fiction|novels|essays|poetry|prose|memoir",
        0.68,
    ),
    (
        "visual_art",
        r"art|images|photos|paintings|designs|graphics|illustrations",
        0.7,
    ),
    ("presentation", r"presentations|talks|slides|keynotes|lectures", 0.75),
    ("video", r"videos|recordings", 0.75),
    ("audio", r"audio|podcasts|music|interviews|recordings", 0.75),
    ("code_sample", r"code|repos|github|projects|src|libraries|scripts", 0.7),
    ("dataset", r"data|datasets|archives|collections|databases", 0.7),
]


def classify_by_heuristics(
    filename: str, folder_path: str, mime_type: str
) -> Heuristic:
    """Type, fixed confidence and reason, exactly as the original tiers decide."""
    name = filename.lower()
    folder = folder_path.lower()
    mime = mime_type.lower()

    match = EXTENSION_RE.search(name)
    if match:
        found = _extension_tier(match.group(1), mime)
        if found is not None:
            return found

    for artifact_type, patterns, confidence in NAME_PATTERNS:
        if any(re.search(pattern, name) for pattern in patterns):
            return Heuristic(artifact_type, confidence, "Filename pattern")

    for artifact_type, pattern, confidence in FOLDER_PATTERNS:
        if re.search(pattern, folder):
            return Heuristic(artifact_type, confidence, "Folder path pattern")

    return Heuristic(
        "other", 0.5, "No heuristic patterns matched; requires LLM analysis"
    )


def classify_local(relative_path: str) -> Heuristic:
    """What the original gives a file from a local folder at this relative path."""
    filename = relative_path.rsplit("/", 1)[-1]
    return classify_by_heuristics(filename, relative_path, local_mime(filename))
