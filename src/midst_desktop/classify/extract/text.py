"""Plain text, Markdown, LaTeX, HTML, XML and source code."""

from __future__ import annotations

import functools
import re
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

from pygments.lexers import get_lexer_by_name, get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]

from midst_desktop.classify.extract.base import (
    MAX_TEXT_BYTES,
    MAX_TEXT_CHARS,
    ExtractError,
    Extraction,
    clean,
    clip,
    split_people,
)
from midst_desktop.classify.sniff import decode_text, is_text

MARKDOWN_TITLE_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)
LATEX_COMMAND_RE = {
    name: re.compile(r"\\" + name + r"\s*(?:\[[^\]]*\])?\s*\{((?:[^{}]|\{[^{}]*\})*)\}")
    for name in ("title", "author", "documentclass")
}
LATEX_MARKUP_RE = re.compile(r"\\[a-zA-Z]+\*?|[{}~]|\\\\")
# Characters that are frequent in program text and rare in prose.
CODE_CHARS = frozenset("(){}[]=<>;+*/&|!$@\\_#")
CODE_PROBE_CHARS = 4096
INTERPRETER_LEXERS = {"node": "javascript", "python3": "python", "sh": "bash"}


# Prose and code are read this far; tables (tabular.py) further, to count rows.
TEXT_READ_BYTES = 512 * 1024


def read_text(path: Path, limit: int = MAX_TEXT_BYTES) -> str:
    with path.open("rb") as handle:
        data = handle.read(limit)
    if data and not is_text(data[:8192]):
        raise ExtractError("the file is binary, not text")
    return decode_text(data)


def extract_text(path: Path, fmt: str, name: str) -> Extraction:
    """Text formats; fmt is the sniffed or named family (text, markdown, latex...)."""
    raw = read_text(path, TEXT_READ_BYTES)
    if fmt == "html":
        return Extraction(format="html", text=clip(html_text(raw.encode())))
    result = Extraction(format=fmt, text=clip(raw))
    words = len(raw.split())
    size = path.stat().st_size
    if size > TEXT_READ_BYTES and raw:
        words = int(words * size / len(raw.encode()))  # the rest, estimated
    result.metadata["words"] = words
    if fmt == "markdown":
        match = MARKDOWN_TITLE_RE.search(raw[:MAX_TEXT_CHARS])
        if match:
            result.title = clean(match.group(1), 200)
    elif fmt == "latex":
        _latex(raw, result)
    elif fmt == "code":
        _code(raw, name, result)
    elif fmt == "text":
        # A program saved without its extension (a download) shows by this.
        result.metadata["code_score"] = code_score(raw)
    return result


def _latex(raw: str, result: Extraction) -> None:
    found = {
        key: pattern.search(raw[:MAX_TEXT_CHARS])
        for key, pattern in LATEX_COMMAND_RE.items()
    }
    if found["title"]:
        result.title = clean(LATEX_MARKUP_RE.sub(" ", found["title"].group(1)), 200)
    if found["author"]:
        people = LATEX_MARKUP_RE.sub(
            " ", found["author"].group(1).replace(r"\and", ";")
        )
        result.authors = split_people(people)
    if found["documentclass"]:
        result.metadata["subject"] = found["documentclass"].group(1).strip()


def code_score(text: str) -> float:
    """Share of program punctuation among the visible characters of a text."""
    probe = "".join(text[:CODE_PROBE_CHARS].split())
    if not probe:
        return 0.0
    return round(sum(map(probe.count, CODE_CHARS)) / len(probe), 3)


def lexer_name(name: str, interpreter: str | None = None) -> str | None:
    """The Pygments language for a file name, or for a #! interpreter."""
    suffix = PurePosixPath(name).suffix.lower()
    language = _lexer_for_filename(f"x{suffix}" if suffix else name)
    if language is not None:
        return language
    if interpreter:
        alias = INTERPRETER_LEXERS.get(interpreter, interpreter.rstrip("0123456789."))
        try:
            return str(get_lexer_by_name(alias).name)
        except ClassNotFound:
            return None
    return None


def _code(raw: str, name: str, result: Extraction) -> None:
    interpreter = None
    if raw.startswith("#!"):
        first = raw.split("\n", 1)[0][2:].split()
        if first:
            interpreter = first[0].rsplit("/", 1)[-1]
            if interpreter == "env" and len(first) > 1:
                interpreter = first[1]
    language = lexer_name(name, interpreter)
    if language:
        result.metadata["language"] = language
    result.metadata["code_score"] = code_score(raw)
    result.metadata["rows"] = raw.count("\n") + 1


@functools.lru_cache(maxsize=512)
def _lexer_for_filename(name: str) -> str | None:
    # Pygments matches every lexer's patterns in turn: about 10 ms a call.
    try:
        return str(get_lexer_for_filename(name).name)
    except ClassNotFound:
        return None


class _TextOfHtml(HTMLParser):
    SKIPPED = frozenset({"script", "style", "head"})
    BLOCKS = frozenset({"p", "div", "br", "li", "h1", "h2", "h3", "h4", "tr", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.size = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in self.SKIPPED:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping and self.size < MAX_TEXT_CHARS:
            self.parts.append(data)
            self.size += len(data)


def html_text(data: bytes) -> str:
    """Visible text of an (X)HTML document; scripts and styles left out."""
    parser = _TextOfHtml()
    try:
        parser.feed(decode_text(data[:MAX_TEXT_BYTES]))
        parser.close()
    except AssertionError:
        # html.parser asserts on some malformed markup (a marked section with
        # an unknown keyword); the text read so far is still good.
        pass
    return clip("".join(parser.parts))
