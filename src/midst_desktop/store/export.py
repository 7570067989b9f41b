"""Writing reviewed artifacts out: JSON for scripts, BibTeX for papers and CVs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from midst_desktop.store.models import Artifact, ArtifactType
from midst_desktop.store.queries import artifact_json

BIBTEX_SPECIALS = re.compile(r"([&%$#_{}])")


def to_json(artifacts: Iterable[Artifact]) -> str:
    return json.dumps(
        [artifact_json(a) for a in artifacts], indent=2, ensure_ascii=False
    )


def _bibtex_value(text: str) -> str:
    text = text.replace("\\", r"\textbackslash{}")
    text = BIBTEX_SPECIALS.sub(r"\\\1", text)
    return text.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")


def _bibtex_key(artifact: Artifact, used: set[str]) -> str:
    author = artifact.authors[0].split()[-1] if artifact.authors else "anon"
    words = (artifact.title or artifact.name).split()
    first = words[0] if words else "item"
    year = str(artifact.captured_date.year) if artifact.captured_date else ""
    base = re.sub(r"[^A-Za-z0-9]", "", author + year + first) or "item"
    key, number = base, 1
    while key in used:
        number += 1
        key = f"{base}{number}"
    used.add(key)
    return key


def to_bibtex(artifacts: Iterable[Artifact]) -> str:
    """Papers as @article, everything else as @misc, from the stored metadata."""
    used: set[str] = set()
    entries = []
    for artifact in artifacts:
        meta = artifact.meta or {}
        kind = (
            "article"
            if artifact.artifact_type == ArtifactType.ACADEMIC_PAPER
            else "misc"
        )
        fields = {"title": artifact.title or artifact.name}
        if artifact.authors:
            fields["author"] = " and ".join(artifact.authors)
        if artifact.captured_date is not None:
            fields["year"] = str(artifact.captured_date.year)
        for key in ("doi", "isbn", "journal"):
            if meta.get(key):
                fields[key] = str(meta[key])
        if meta.get("arxiv_id"):
            fields["eprint"] = str(meta["arxiv_id"])
            fields["archiveprefix"] = "arXiv"
        if artifact.keywords:
            fields["keywords"] = ", ".join(artifact.keywords)
        if kind == "misc":
            fields["howpublished"] = artifact.artifact_type.replace("_", " ")
        body = ",\n".join(
            f"  {key} = {{{_bibtex_value(value)}}}" for key, value in fields.items()
        )
        entries.append(f"@{kind}{{{_bibtex_key(artifact, used)},\n{body}\n}}\n")
    return "\n".join(entries)
