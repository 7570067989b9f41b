"""A deterministic synthetic folder tree with realistic names, and changes to it.

The tree is planned from a seed, so any file can be written again exactly:
that is how the changes a benchmark makes are undone, and why a generated
tree can be kept under benchmarks/work/ between runs.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

SEED = 2026


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


TOP_FOLDERS = _words(
    "Documents Research Writing Photos Music Projects Teaching Archive Downloads "
    "Desktop Design Video Thesis Notes Code Conferences Grants Portfolio"
)
FOLDER_WORDS = _words(
    "drafts final old scans chapters figures data raw exports assets references "
    "reviews slides lectures homework samples sketches renders mixes stems "
    "interviews field notes submissions camera ready rebuttal posters website "
    "manuscripts poems stories essays screenplay bibliography experiments "
    "results notebooks models src tests docs backup misc shared inbox"
)
NAME_WORDS = _words(
    "chapter essay draft notes summary report paper abstract poster slides "
    "lecture homework assignment portrait landscape sunset study sketch mix "
    "demo take interview transcript dataset survey results analysis figure "
    "table appendix proposal budget letter cv resume invoice contract review "
    "response outline scene poem story script thesis manuscript grant talk "
    "keynote workshop seminar experiment model training evaluation baseline "
    "Smart artificial intelligence quantum protein climate urban memory light"
)
UNICODE_WORDS = ("Résumé", "café", "naïve", "Ångström", "日本語メモ", "Straße", "niño")

# Extension, weight, and the bytes a real file of that kind starts with.
EXTENSIONS: tuple[tuple[str, int, bytes], ...] = (
    ("jpg", 16, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
    ("png", 6, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    ("heic", 2, b"\x00\x00\x00\x18ftypheic"),
    ("pdf", 12, b"%PDF-1.7\n"),
    ("docx", 7, b"PK\x03\x04\x14\x00\x06\x00"),
    ("md", 6, b"# "),
    ("txt", 6, b""),
    ("py", 6, b"import os\n\n"),
    ("js", 2, b"const x = 1;\n"),
    ("ipynb", 1, b'{"cells": [], "nbformat": 4}\n'),
    ("csv", 4, b"id,name,value\n"),
    ("xlsx", 2, b"PK\x03\x04\x14\x00\x06\x00"),
    ("pptx", 2, b"PK\x03\x04\x14\x00\x06\x00"),
    ("mp3", 3, b"ID3\x04\x00\x00\x00\x00\x00\x00"),
    ("wav", 1, b"RIFF\x24\x08\x00\x00WAVEfmt "),
    ("mp4", 2, b"\x00\x00\x00\x20ftypisom"),
    ("mov", 1, b"\x00\x00\x00\x14ftypqt  "),
    ("tex", 2, b"\\documentclass{article}\n"),
    ("bib", 1, b"@article{key,\n"),
    ("json", 3, b'{"version": 1}\n'),
    ("html", 2, b"<!DOCTYPE html>\n<html>"),
    ("zip", 1, b"PK\x03\x04\x14\x00\x00\x00"),
    ("psd", 1, b"8BPS\x00\x01"),
    ("svg", 1, b'<svg xmlns="http://www.w3.org/2000/svg">'),
    ("rtf", 1, b"{\\rtf1\\ansi "),
    ("epub", 1, b"PK\x03\x04\x14\x00\x00\x08"),
    ("fountain", 1, b"INT. "),
)
FILLER_BYTES = 1 << 16
SMALLEST, LARGEST = 64, 16 * 1024
OLDEST_NS, NEWEST_NS = 1_325_376_000 * 10**9, 1_764_547_200 * 10**9  # 2012..2025


@dataclass(frozen=True)
class TreeSpec:
    files: int
    folders: int
    seed: int = SEED

    @property
    def name(self) -> str:
        return f"files{self.files}-folders{self.folders}-seed{self.seed}"


@dataclass(frozen=True, slots=True)
class PlannedFile:
    index: int
    path: str  # relative, '/'-separated
    size: int
    modified_ns: int


@dataclass(frozen=True)
class Change:
    kind: str  # "edit" | "add" | "delete"
    path: str
    index: int | None = None  # the planned file, for edits and deletes
    size: int | None = None  # the size after the change (edits and adds)


def _folders(spec: TreeSpec, rng: random.Random) -> list[str]:
    """Relative folder paths, parents before children, '' (the root) excluded."""
    folders: list[str] = []
    children: dict[str, set[str]] = {"": set()}
    depth = {"": 0}
    for top in TOP_FOLDERS[: max(1, min(len(TOP_FOLDERS), spec.folders))]:
        folders.append(top)
        children[""].add(top)
        children[top] = set()
        depth[top] = 1
    while len(folders) < spec.folders:
        parent = rng.choice(folders)
        if depth[parent] >= 6:
            continue
        word = rng.choice(FOLDER_WORDS)
        style = rng.random()
        if style < 0.25:
            name = str(rng.randint(2008, 2026))
        elif style < 0.45:
            name = f"{word} {rng.randint(1, 40)}"
        elif style < 0.5:
            name = f"{rng.choice(UNICODE_WORDS)} {word}"
        else:
            name = word.capitalize() if rng.random() < 0.5 else word
        if name in children[parent]:
            continue
        path = f"{parent}/{name}"
        children[parent].add(name)
        children[path] = set()
        depth[path] = depth[parent] + 1
        folders.append(path)
    return folders


def _file_name(rng: random.Random, extension: str) -> str:
    style = rng.random()
    if extension in {"jpg", "heic", "png"} and style < 0.6:
        return f"IMG_{rng.randint(0, 9999):04d}.{extension}"
    first, second = rng.choice(NAME_WORDS), rng.choice(NAME_WORDS)
    if style < 0.2:
        stem = f"{first} {second} v{rng.randint(1, 12)}"
    elif style < 0.4:
        stem = f"{first}_{second}_{rng.randint(2008, 2026)}"
    elif style < 0.55:
        stem = f"{first.capitalize()} {second} (final)"
    elif style < 0.6:
        stem = f"{rng.choice(UNICODE_WORDS)} {first}"
    elif style < 0.8:
        stem = f"{first}-{rng.randint(1, 300)}"
    else:
        stem = f"{first.capitalize()} {second} {rng.randint(1, 99)}"
    return f"{stem}.{extension}"


def plan_folders(spec: TreeSpec) -> list[str]:
    """Every folder of the tree (some stay empty, as on a real disk)."""
    return _folders(spec, random.Random(spec.seed))


def plan(spec: TreeSpec) -> Iterator[PlannedFile]:
    """Every file of the tree, the same on every call."""
    rng = random.Random(spec.seed)
    folders = _folders(spec, rng)
    # A few folders hold many files and most hold a few, as on a real disk.
    weights = [rng.paretovariate(1.2) for _ in folders]
    homes = rng.choices(range(len(folders)), weights=weights, k=spec.files)
    extensions = [e[0] for e in EXTENSIONS]
    extension_weights = [e[1] for e in EXTENSIONS]
    taken: dict[int, set[str]] = {}
    for index, home in enumerate(homes):
        extension = rng.choices(extensions, weights=extension_weights)[0]
        name = _file_name(rng, extension)
        names = taken.setdefault(home, set())
        if name in names:
            stem, _, ext = name.rpartition(".")
            name = f"{stem} ({index}).{ext}"
        names.add(name)
        size = int(min(LARGEST, max(SMALLEST, rng.lognormvariate(7.0, 1.0))))
        modified = rng.randint(OLDEST_NS, NEWEST_NS)
        yield PlannedFile(index, f"{folders[home]}/{name}", size, modified)


def _content(spec: TreeSpec, planned: PlannedFile, filler: bytes) -> bytes:
    extension = planned.path.rpartition(".")[2]
    header = next((e[2] for e in EXTENSIONS if e[0] == extension), b"")
    start = (planned.index * 7919) % (len(filler) - planned.size)
    return (header + filler[start : start + planned.size])[: planned.size]


def _filler(spec: TreeSpec) -> bytes:
    return random.Random(spec.seed + 1).randbytes(FILLER_BYTES)


def write_planned(root: Path, spec: TreeSpec, planned: PlannedFile) -> None:
    filler = _filler(spec)
    _write(root, spec, planned, filler)


def _write(root: Path, spec: TreeSpec, planned: PlannedFile, filler: bytes) -> None:
    path = root / planned.path
    path.write_bytes(_content(spec, planned, filler))
    os.utime(path, ns=(planned.modified_ns, planned.modified_ns))


def tree_path(work: Path, spec: TreeSpec) -> Path:
    return work / "trees" / spec.name


def ensure_tree(work: Path, spec: TreeSpec) -> Path:
    """The generated tree under work/, made once and repaired after a broken run."""
    root = tree_path(work, spec)
    marker = root.with_name(spec.name + ".json")
    if marker.exists() and root.is_dir():
        undo_changes(work, spec)
        return root
    if root.exists():
        shutil.rmtree(root)
    print(f"generating {spec.files:,} files in {spec.folders:,} folders", flush=True)
    filler = _filler(spec)
    for folder in plan_folders(spec):
        (root / folder).mkdir(parents=True)
    for planned in plan(spec):
        _write(root, spec, planned, filler)
    marker.write_text(json.dumps(asdict(spec)))
    return root


def _journal(work: Path, spec: TreeSpec) -> Path:
    return tree_path(work, spec).with_name(spec.name + ".changes.jsonl")


def pick_changes(spec: TreeSpec, count: int, round_number: int) -> list[Change]:
    """count changes (40 % edits, 30 % adds, 30 % deletes), different each round."""
    edits = count * 4 // 10
    deletes = count * 3 // 10
    adds = count - edits - deletes
    rng = random.Random(spec.seed * 1000 + round_number)
    files = list(plan(spec))
    # Rounds draw from disjoint slices, so no file is changed twice between undos.
    pool = random.Random(spec.seed).sample(range(len(files)), len(files))
    per_round = edits + deletes
    start = (round_number * per_round) % max(1, len(files) - per_round)
    chosen = [files[i] for i in pool[start : start + per_round]]
    changes = [
        Change("edit", f.path, f.index, f.size + rng.randint(10, 500))
        for f in chosen[:edits]
    ]
    changes += [Change("delete", f.path, f.index) for f in chosen[edits:]]
    folders = sorted({f.path.rpartition("/")[0] for f in files})
    for number in range(adds):
        folder = rng.choice(folders)
        size = rng.randint(SMALLEST, 4096)
        changes.append(
            Change("add", f"{folder}/new note {round_number}-{number}.md", None, size)
        )
    return changes


def make_changes(work: Path, spec: TreeSpec, changes: list[Change]) -> None:
    """Apply changes to the tree, journaled first so that they can be undone."""
    root = tree_path(work, spec)
    with _journal(work, spec).open("a", encoding="utf-8") as journal:
        for change in changes:
            journal.write(json.dumps(asdict(change)) + "\n")
    for change in changes:
        path = root / change.path
        if change.kind == "delete":
            path.unlink()
        elif change.kind == "edit":
            assert change.size is not None
            with path.open("ab") as handle:
                handle.write(b"x" * (change.size - path.stat().st_size))
        else:
            assert change.size is not None
            path.write_bytes(b"# A new note\n" + b"n" * (change.size - 13))


def undo_changes(work: Path, spec: TreeSpec) -> None:
    """Put every journaled change back as the plan has it."""
    journal = _journal(work, spec)
    if not journal.exists():
        return
    root = tree_path(work, spec)
    changes = [
        Change(**json.loads(line))
        for line in journal.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    wanted = {c.index for c in changes if c.index is not None}
    filler = _filler(spec)
    for change in changes:
        if change.kind == "add":
            (root / change.path).unlink(missing_ok=True)
    if wanted:
        for planned in plan(spec):
            if planned.index in wanted:
                _write(root, spec, planned, filler)
    journal.unlink()
