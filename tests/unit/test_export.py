"""BibTeX export: entry types from metadata, escaping, and output that parses back."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from midst_desktop.store.export import bibtex_name, to_bibtex
from midst_desktop.store.models import Artifact

ENTRY_RE = re.compile(r"@(\w+)\{([^,\s]+),")
FIELD_RE = re.compile(r"\s*(\w+)\s*=\s*\{")
UNESCAPE = {
    r"\textbackslash{}": "\\",
    r"\textasciitilde{}": "~",
    r"\textasciicircum{}": "^",
    r"\{": "{",
    r"\}": "}",
    r"\&": "&",
    r"\%": "%",
    r"\$": "$",
    r"\#": "#",
    r"\_": "_",
}


def parse_bibtex(text: str) -> list[dict[str, Any]]:
    """A strict reader of the BibTeX subset the export writes.

    Every entry is `@type{key,` then `name = {value}` fields separated by
    commas and a closing brace; values must have balanced braces and no
    unescaped LaTeX special character. Raises ValueError otherwise.
    """
    entries = []
    position = 0
    while True:
        start = text.find("@", position)
        if start < 0:
            break
        match = ENTRY_RE.match(text, start)
        if not match:
            raise ValueError(f"bad entry head at {start}")
        entry: dict[str, Any] = {"type": match.group(1), "key": match.group(2)}
        position = match.end()
        while True:
            field = FIELD_RE.match(text, position)
            if not field:
                raise ValueError(
                    f"bad field at {position}: {text[position : position + 30]!r}"
                )
            depth, index = 1, field.end()
            while depth:
                if index >= len(text):
                    raise ValueError("unbalanced braces")
                char = text[index]
                if char == "\\":
                    index += 2
                    continue
                depth += {"{": 1, "}": -1}.get(char, 0)
                index += 1
            value = text[field.end() : index - 1]
            bare = re.sub(
                r"\\(textbackslash|textasciitilde|textasciicircum)\{\}", "", value
            )
            bare = re.sub(r"\\[{}&%$#_]", "", bare)
            if re.search(r"[&%$#_~^\\]", bare):
                raise ValueError(f"unescaped special character in {value!r}")
            name = field.group(1).lower()
            if name in entry:
                raise ValueError(f"field {name} twice")
            entry[name] = value
            rest = text[index:].lstrip()
            position = len(text) - len(rest)
            if rest.startswith(","):
                position += 1
                if text[position:].lstrip().startswith("}"):
                    position = text.index("}", position) + 1
                    break
                continue
            if rest.startswith("}"):
                position += 1
                break
            raise ValueError(f"expected , or }} at {position}")
        entries.append(entry)
    return entries


def plain(value: str) -> str:
    """A value as a person reads it: escapes undone, protective braces gone."""
    held = {}
    for number, (escaped, char) in enumerate(UNESCAPE.items()):
        marker = chr(0xE000 + number)
        held[marker] = char
        value = value.replace(escaped, marker)
    value = value.replace("{", "").replace("}", "")
    return "".join(held.get(char, char) for char in value)


def artifact(**values: Any) -> Artifact:
    defaults: dict[str, Any] = {
        "id": "a" * 36,
        "name": "file.pdf",
        "title": "A Title",
        "artifact_type": "academic_paper",
        "authors": [],
        "keywords": [],
        "meta": {},
        "captured_date": datetime(2021, 5, 1, tzinfo=UTC),
        "description": None,
    }
    defaults.update(values)
    return Artifact(**defaults)


def test_papers_get_the_entry_type_their_metadata_supports() -> None:
    artifacts = [
        artifact(
            title="On Trees",
            meta={"journal": "J. Stat. Softw.", "doi": "10.18637/jss.v045.i01"},
        ),
        artifact(title="Fast Joins", meta={"booktitle": "Proceedings of VLDB"}),
        artifact(title="A Dissertation on Lichens", name="phd-thesis.pdf"),
        artifact(title="Deep Nets", meta={"arxiv_id": "2101.00001"}),
        artifact(title="Winter", artifact_type="creative_writing", name="winter.md"),
    ]

    entries = parse_bibtex(to_bibtex(artifacts))

    assert [e["type"] for e in entries] == [
        "article",
        "inproceedings",
        "phdthesis",
        "misc",
        "misc",
    ]
    assert entries[0]["journal"] == "J. Stat. Softw."
    assert entries[0]["doi"] == r"10.18637/jss.v045.i01"
    assert entries[1]["booktitle"] == "Proceedings of VLDB"
    assert entries[3]["eprint"] == "2101.00001"
    assert entries[3]["archiveprefix"] == "arXiv"
    assert entries[4]["howpublished"] == "creative writing"
    assert all(e["year"] == "2021" for e in entries)


def test_special_characters_are_escaped_and_read_back_as_written() -> None:
    title = r"50% of R&D: $x_1$ costs #3 {braces} ~tilde ^caret back\slash"
    authors = ["Ana María Ruiz_Soto", "Ludwig van Beethoven", "Kurt Hornik", "UNESCO"]

    entries = parse_bibtex(
        to_bibtex(
            [
                artifact(
                    title=title,
                    authors=authors,
                    keywords=["R&D", "50%"],
                    description="a & b",
                )
            ]
        )
    )

    entry = entries[0]
    assert plain(entry["title"]) == title
    assert plain(entry["author"]).split(" and ") == [
        "Ruiz_Soto, Ana María",
        "van Beethoven, Ludwig",
        "Hornik, Kurt",
        "UNESCO",
    ]
    assert plain(entry["keywords"]) == "R&D, 50%"
    assert plain(entry["abstract"]) == "a & b"


def test_capitalised_words_are_protected_from_lower_casing_styles() -> None:
    entry = parse_bibtex(to_bibtex([artifact(title="Using DNA and LaTeX in R")]))[0]

    assert "{DNA}" in entry["title"]
    assert "{LaTeX}" in entry["title"]


def test_keys_are_ascii_and_unique() -> None:
    same = [
        artifact(title="Trees and Forests", authors=["Jörg Müller"]) for _ in range(3)
    ]

    keys = [e["key"] for e in parse_bibtex(to_bibtex(same))]

    assert len(set(keys)) == 3
    assert all(re.fullmatch(r"[a-z0-9]+", key) for key in keys)
    assert keys[0] == "muller2021trees"


def test_an_artifact_without_authors_or_date_still_makes_a_valid_entry() -> None:
    bare = artifact(title="", name="notes_{draft}.pdf", captured_date=None, authors=[])

    entry = parse_bibtex(to_bibtex([bare]))[0]

    assert plain(entry["title"]) == "notes_{draft}.pdf"
    assert "year" not in entry and "author" not in entry


def test_no_source_path_leaves_the_machine() -> None:
    text = to_bibtex([artifact(source_path="/home/ana/private/secret.pdf")])

    assert "/home/ana" not in text


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Achim Zeileis", "Zeileis, Achim"),
        ("Zeileis, Achim", "Zeileis, Achim"),
        ("Mark A. van de Wiel", "van de Wiel, Mark A."),
        ("Plato", "{Plato}"),
        ("Smith and Sons", "{Smith and Sons}"),
    ],
)
def test_names_are_written_last_name_first(name: str, expected: str) -> None:
    assert bibtex_name(name) == expected


def test_the_checker_rejects_broken_bibtex() -> None:
    with pytest.raises(ValueError):
        parse_bibtex("@misc{key,\n  title = {a & b}\n}\n")
    with pytest.raises(ValueError):
        parse_bibtex("@misc{key,\n  title = {open {brace}\n")


@settings(max_examples=100, deadline=None)
@given(
    title=st.text(min_size=1, max_size=80).filter(lambda t: t.strip()),
    authors=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",)),
            min_size=1,
            max_size=30,
        ).filter(lambda a: a.strip() and "," not in a),
        max_size=4,
    ),
    keyword=st.text(max_size=20),
)
def test_any_text_makes_valid_bibtex_that_reads_back(
    title: str, authors: list[str], keyword: str
) -> None:
    entry = parse_bibtex(
        to_bibtex([artifact(title=title, authors=authors, keywords=[keyword])])
    )[0]

    assert plain(entry["title"]) == " ".join(title.split())
    if authors:
        assert len(plain(entry["author"]).split(" and ")) >= len(authors)
