"""Writing reviewed artifacts out: JSON for scripts, BibTeX for reference managers.

BibTeX entry types follow what the metadata says: a journal makes an
@article, a conference or proceedings title an @inproceedings, a thesis an
@phdthesis or @mastersthesis; a paper known only by its arXiv id is an
@misc with `eprint` and `archivePrefix`, as arXiv itself exports it; every
other artifact is an @misc. Values are escaped for LaTeX (the ten special
characters), braces inside values stay balanced, and names are written
"Last, First" so that BibTeX splits them as the person meant. Source paths
are private and never exported.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from midst_desktop.store.models import Artifact, ArtifactType
from midst_desktop.store.queries import artifact_json

LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
SPECIALS_RE = re.compile("|".join(re.escape(c) for c in LATEX_SPECIALS))
# Words whose capitals must survive a bibliography style that lower-cases titles.
CAPITALS_RE = re.compile(r"\b(\w*[A-Z]\w*[A-Z0-9]\w*|\w+[A-Z]\w*)\b")
THESIS_RE = re.compile(r"\b(phd|ph\.d|doctoral|dissertation|doktorarbeit)\b", re.I)
MASTERS_RE = re.compile(r"\b(master'?s? thesis|msc thesis|diplomarbeit)\b", re.I)
VENUE_RE = re.compile(r"\b(proceedings|conference|symposium|workshop)\b", re.I)
NAME_PARTICLES = {"van", "von", "de", "der", "den", "da", "di", "du", "la", "le"}


def to_json(artifacts: Iterable[Artifact]) -> str:
    return json.dumps(
        [artifact_json(a) for a in artifacts], indent=2, ensure_ascii=False
    )


def escape(text: str) -> str:
    """Text as a BibTeX value: LaTeX specials escaped, whitespace folded."""
    text = " ".join(text.split())
    return SPECIALS_RE.sub(lambda match: LATEX_SPECIALS[match.group(0)], text)


def _title(text: str) -> str:
    return CAPITALS_RE.sub(lambda match: "{" + match.group(0) + "}", escape(text))


def bibtex_name(name: str) -> str:
    """One person as "Last, First"; one word or an organisation is braced whole."""
    name = " ".join(name.split())
    if "," in name:
        return escape(name)
    parts = name.split(" ")
    if len(parts) == 1 or " and " in f" {name.lower()} ":
        return "{" + escape(name) + "}"
    # "Ludwig van Beethoven" -> "van Beethoven, Ludwig".
    first_last = len(parts) - 1
    while first_last > 1 and parts[first_last - 1].lower() in NAME_PARTICLES:
        first_last -= 1
    last = " ".join(parts[first_last:])
    return escape(f"{last}, {' '.join(parts[:first_last])}")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]", "", folded)


def _key(artifact: Artifact, year: str, used: set[str]) -> str:
    author = artifact.authors[0] if artifact.authors else ""
    last = author.split(",")[0] if "," in author else (author.split() or [""])[-1]
    words = [
        w for w in re.findall(r"\w+", artifact.title or artifact.name) if len(w) > 3
    ]
    base = (
        (_ascii(last).lower() or "anon")
        + year
        + (_ascii(words[0]).lower() if words else "")
    )
    key, number = base, 1
    while key in used:
        number += 1
        key = (
            f"{base}{chr(ord('a') + number - 2)}" if number <= 27 else f"{base}{number}"
        )
    used.add(key)
    return key


def _year(artifact: Artifact, meta: dict[str, Any]) -> str:
    value = meta.get("year")
    if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
        return str(value)
    captured: datetime | None = artifact.captured_date
    return str(captured.year) if captured is not None else ""


def entry_type(artifact: Artifact, meta: dict[str, Any]) -> str:
    """The BibTeX entry type the metadata supports."""
    if artifact.artifact_type != ArtifactType.ACADEMIC_PAPER:
        return "misc"
    if meta.get("journal"):
        return "article"
    if meta.get("booktitle") or VENUE_RE.search(str(meta.get("venue") or "")):
        return "inproceedings"
    described = " ".join(
        str(part)
        for part in (
            artifact.title,
            artifact.name,
            meta.get("subject"),
            meta.get("thesis"),
        )
        if part
    )
    if MASTERS_RE.search(described):
        return "mastersthesis"
    if THESIS_RE.search(described):
        return "phdthesis"
    return "misc"


def _fields(artifact: Artifact, kind: str, year: str) -> dict[str, str]:
    meta = artifact.meta or {}
    fields = {"title": _title(artifact.title or artifact.name)}
    if artifact.authors:
        fields["author"] = " and ".join(bibtex_name(a) for a in artifact.authors)
    if year:
        fields["year"] = year
    if kind == "article":
        fields["journal"] = escape(str(meta["journal"]))
    if kind == "inproceedings":
        fields["booktitle"] = escape(str(meta.get("booktitle") or meta.get("venue")))
    if kind in {"phdthesis", "mastersthesis"} and meta.get("school"):
        fields["school"] = escape(str(meta["school"]))
    for name in ("volume", "number", "pages", "publisher"):
        if meta.get(name) and kind in {"article", "inproceedings"}:
            fields[name] = escape(str(meta[name]))
    if meta.get("doi"):
        fields["doi"] = escape(str(meta["doi"]))
    if meta.get("arxiv_id"):
        fields["eprint"] = escape(str(meta["arxiv_id"]))
        fields["archiveprefix"] = "arXiv"
    if meta.get("isbn"):
        fields["isbn"] = escape(str(meta["isbn"]))
    if artifact.keywords:
        fields["keywords"] = escape(", ".join(artifact.keywords))
    if kind == "misc" and artifact.artifact_type != ArtifactType.ACADEMIC_PAPER:
        fields["howpublished"] = escape(artifact.artifact_type.replace("_", " "))
    if artifact.description:
        fields["abstract"] = escape(artifact.description)
    return fields


def to_bibtex(artifacts: Iterable[Artifact]) -> str:
    """One entry per artifact, in the order given."""
    used: set[str] = set()
    entries = []
    for artifact in artifacts:
        meta = artifact.meta or {}
        kind = entry_type(artifact, meta)
        year = _year(artifact, meta)
        fields = _fields(artifact, kind, year)
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields.items())
        entries.append(f"@{kind}{{{_key(artifact, year, used)},\n{body}\n}}\n")
    return "\n".join(entries)
