"""Content signals the rules read from extracted text.

Each is a count or a share measured on the text alone, cheap enough to run on
every file (regular expressions over the at most 32,000 characters an
extraction keeps). The rules decide what a signal means; the thresholds here
only say what counts as one line, one citation or one field.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter

# How far each signal reads: the head of a text says what kind it is.
PROBE_CHARS = 16_000
PROBE_LINES = 400

# Lines that only a program has: an import, a definition, an assignment
# at the margin, a call on a dotted name. Prose and verse do not start so.
STATEMENT_RE = re.compile(
    r"""^\s*(?:
        (?:import|from)\s+[\w.]+(?:\s+import\b|\s*$|\s+as\s+\w+\s*$|\s*;)
      | (?:async\s+)?def\s+\w+\s*\(
      | class\s+\w+\s*[(:{<]
      | \#\s*include\s*[<"]
      | package\s+[\w.]+\s*;?\s*$
      | func\s+(?:\(\w[^)]*\)\s*)?\w+\s*\(
      | (?:pub(?:\([\w ]+\))?\s+)?(?:fn|struct|enum|impl|trait|mod)\s+\w+
      | (?:public|private|protected|static|final)\s+[\w<>\[\]]+\s+\w+
      | (?:const|let|var)\s+\w+\s*(?::[^=]+)?=
      | (?:require|module|use)\s*[(\s][\w'":./]+[)\s;]*$
      | [A-Za-z_]\w*(?:\.\w+)*\s*(?:=(?!=)|\+=|-=)\s*\S
      | [A-Za-z_]\w*(?:\.\w+)+\(
      | (?:return|raise|throw)\b[^.!?]*$
      | end\s*$
      | .*\{\s*$
      | \}[\s;,)]*$
    )""",
    re.MULTILINE | re.VERBOSE,
)

# A citation in running text: "(Smith 2004)", "Smith and Jones (2004)",
# "2004a)", "et al.".
CITATION_RE = re.compile(
    r"\bet al\.|\b(?:19|20)\d\d[a-z]?\)|"
    r"\(\s*[A-Z][\w'-]+(?:\s+(?:and|&)\s+[A-Z][\w'-]+)?,?\s+(?:19|20)\d\d"
)
# A TeX control word left in the text of a document about TeX: "\newcommand".
MACRO_RE = re.compile(r"\\[A-Za-z@]{2,}")
# A numbered subsection heading: "2.1 Motivation", "4.1.2. Options".
NUMBERED_HEADING_RE = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})+\.?\s+\w", re.MULTILINE)
# Blanks a template asks the person to fill: "<Name>", "#subject#", "[Date]".
PLACEHOLDER_RE = re.compile(
    r"<[A-Za-z][\w -]{1,30}>|#[A-Za-z][\w.-]{1,30}#|\[[A-Z][\w ]{1,30}\]|_{6,}"
)
# Markup: an opening, closing or empty tag with a name.
TAG_RE = re.compile(r"</?[A-Za-z][\w.:-]*(?:\s[^<>]*)?/?>")
# A value a data table holds: a number, a code point or range, a short code.
VALUE_RE = re.compile(
    r"[-+]?\d[\d.,:/eE+-]*%?|(?:U\+|0x)?[0-9A-F]{4,6}(?:\.\.[0-9A-F]{4,6})?"
)
# Comments, processing instructions (<?xml ...?>) and doctypes.
COMMENT_RE = re.compile(r"<!--.*?(?:-->|$)|<\?.*?(?:\?>|$)|<!DOCTYPE[^>]*>", re.DOTALL)
# The local name of an opening or empty tag.
TAG_NAME_RE = re.compile(r"<(?:[\w.-]+:)?([A-Za-z][\w.-]*)")
DOCUMENT_TAGS = frozenset(
    [
        "p",
        "para",
        "simpara",
        "title",
        "subtitle",
        "desc",
        "section",
        "sect1",
        "sect2",
        "chapter",
        "article",
        "book",
        "page",
        "topic",
        "body",
        "div",
        "span",
        "h1",
        "h2",
        "h3",
        "em",
        "emphasis",
        "link",
        "xref",
        "ulink",
        "note",
        "item",
        "list",
        "listitem",
        "itemizedlist",
        "steps",
        "figure",
        "media",
        "code",
        "screen",
        "cmd",
        "gui",
        "guiseq",
        "key",
        "keyseq",
        "info",
        "credit",
        "revision",
        "name",
        "email",
        "years",
        "license",
    ]
)
WORD_RE = re.compile(r"[^\W\d_]{2,}")
RUN_BREAK_RE = re.compile(r"\n\s*\n|[.!?:;]\s")
TABLE_DELIMITERS = (";", "\t", "|", ",")
COMMENT_PREFIXES = ("#", "%", "//", "@", "--", ";")
TRAILING_COMMENT_RE = re.compile(r"\s*#.*$")


def _lines(text: str) -> list[str]:
    lines = [line for line in text[:PROBE_CHARS].splitlines() if line.strip()]
    return lines[:PROBE_LINES]


def statement_lines(text: str) -> int:
    """Lines that read as program statements."""
    return len(STATEMENT_RE.findall(text[:PROBE_CHARS]))


def citations(text: str) -> int:
    return len(CITATION_RE.findall(text))


def macros(text: str) -> int:
    return len(MACRO_RE.findall(text))


def numbered_headings(text: str) -> int:
    return len(NUMBERED_HEADING_RE.findall(text))


def placeholders(text: str) -> int:
    return len(PLACEHOLDER_RE.findall(text[:PROBE_CHARS]))


def drawing_share(text: str) -> float:
    """Share of lines drawn in characters: mostly symbols, few letters.

    ASCII art lines are at least half punctuation; code lines rarely are,
    prose and verse never.
    """
    lines = [line for line in _lines(text) if len(line.strip()) >= 4]
    if len(lines) < 5:
        return 0.0
    drawn = 0
    for line in lines:
        visible = "".join(line.split())
        symbols = sum(1 for char in visible if not char.isalnum())
        if symbols >= len(visible) * 0.6:
            drawn += 1
    return drawn / len(lines)


def record_share(text: str) -> float:
    """Share of the text's lines that are records of one table.

    Comment lines (#, %, //) are skipped and a trailing "# comment" is cut.
    A record has the same number of fields as most others under one
    delimiter, with fields that are values or names rather than phrases; or,
    split on blanks, it is mostly numbers and code points.
    """
    lines = _lines(text)
    data = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith(COMMENT_PREFIXES):
            continue
        data.append(TRAILING_COMMENT_RE.sub("", stripped))
    data = [line for line in data if line]
    if len(data) < 8:
        return 0.0
    best = 0.0
    for delimiter in TABLE_DELIMITERS:
        rows = [line.split(delimiter) for line in data]
        widths = Counter(len(row) for row in rows if len(row) >= 2)
        if not widths:
            continue
        width, _ = widths.most_common(1)[0]
        records = [row for row in rows if len(row) == width]
        fields = [field.strip() for row in records for field in row]
        atomic = sum(1 for field in fields if _atomic(field))
        if fields and atomic >= len(fields) * 0.5:
            best = max(best, len(records) / len(data))
    numeric = 0
    for line in data:
        tokens = line.split()
        values = sum(1 for token in tokens if VALUE_RE.fullmatch(token))
        signs = sum(1 for token in tokens if len(token) == 1 and not token.isalnum())
        if (
            tokens
            and values >= min(2, len(tokens))
            and values + signs >= len(tokens) * 0.8
        ):
            numeric += 1
    return max(best, numeric / len(data))


def _atomic(field: str) -> bool:
    """A field that is one value or name, or a run of values."""
    words = field.split()
    return len(words) <= 1 or all(VALUE_RE.fullmatch(word) for word in words)


def markup_tags(text: str) -> int:
    """Tags in a text that opens with one (or an XML declaration); else 0."""
    probe = text[:PROBE_CHARS]
    if not probe.lstrip("\ufeff \t\r\n").startswith("<"):
        return 0
    return len(TAG_RE.findall(COMMENT_RE.sub(" ", probe)))


def document_tag_share(text: str) -> float:
    """Share of a marked-up text's tags that are document structure.

    Paragraphs, titles, sections and links are what DocBook, Mallard, DITA,
    TEI and XHTML are made of; records use names of their own.
    """
    probe = COMMENT_RE.sub(" ", text[:PROBE_CHARS])
    names = [name.lower() for name in TAG_NAME_RE.findall(probe)]
    if not names:
        return 0.0
    return sum(1 for name in names if name in DOCUMENT_TAGS) / len(names)


def visible_text(markup: str) -> str:
    """The text between the tags of a marked-up document, a block per tag.

    Comments, the declaration and the doctype are not part of it.
    """
    return TAG_RE.sub("\n\n", COMMENT_RE.sub("\n\n", markup[:PROBE_CHARS]))


def prose_share(text: str) -> float:
    """Share of words that sit in sentences: runs of eight words or more.

    Only words of letters count; numbers and codes are not prose.
    """
    runs = [len(WORD_RE.findall(run)) for run in RUN_BREAK_RE.split(text)]
    words = sum(runs)
    if not words:
        return 0.0
    return sum(length for length in runs if length >= 8) / words


def median_line_words(text: str) -> float:
    lines = _lines(text)
    if not lines:
        return 0.0
    return statistics.median(len(line.split()) for line in lines)
