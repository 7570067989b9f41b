"""The operations guide's troubleshooting: each problem, how to see and fix it."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from midst_desktop.cli import build_parser

GUIDE = Path(__file__).parents[2] / "docs" / "operations.md"
PROBLEMS = [
    "Expired or revoked tokens",
    "Files not syncing",
    "Artifacts not created",
    "High memory",
    "Slow artifact listing",
]
# The guide's placeholders, filled in so that a command can be parsed.
PLACEHOLDERS = {
    "N": "1",
    "ID": "3f2a",
    "T": "audio",
    "F": "token.json",
    "FILE": "paper.pdf",
    "PATH": "Papers",
    "GLOB": "*.tmp",
    "MB": "50",
}


def troubleshooting() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index("## Troubleshooting\n")
    return text[start : text.index("\n## ", start + 1)]


def problem(heading: str) -> str:
    section = troubleshooting()
    start = section.index(f"### {heading}\n")
    end = section.find("\n### ", start + 1)
    return section[start : end if end != -1 else None]


def commands_in(text: str) -> list[list[str]]:
    """Every `midst-desktop ...` command in the text's code spans, as argv."""
    found = []
    for span in re.findall(r"`([^`]+)`", re.sub(r"\s+", " ", text)):
        match = re.search(r"(?:^|\s)midst-desktop (\w.*)$", span)
        if match is None:
            continue
        words = shlex.split(match.group(1))
        found.append([PLACEHOLDERS.get(word, word) for word in words])
    return found


def step(text: str, name: str) -> str:
    match = re.search(rf"^- {name}:(.*?)(?=^- |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no '{name}:' step"
    return match.group(1)


@pytest.mark.parametrize("heading", PROBLEMS)
def test_each_problem_has_a_command_that_diagnoses_it_and_one_that_fixes_it(
    heading: str,
) -> None:
    text = problem(heading)

    assert commands_in(step(text, "Diagnose")), f"{heading}: no command to diagnose"
    assert commands_in(step(text, "Fix")), f"{heading}: no command to fix"


def test_every_command_in_the_troubleshooting_section_is_a_real_command() -> None:
    commands = commands_in(troubleshooting())
    assert len(commands) >= 2 * len(PROBLEMS)
    for argv in commands:
        try:
            build_parser().parse_args(argv)
        except SystemExit as refused:
            pytest.fail(f"midst-desktop {shlex.join(argv)}: refused ({refused.code})")
