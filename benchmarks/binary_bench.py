"""Size of the one-file binary: issue 7's 150 MB target and its biggest parts.

Reads the archive PyInstaller appends to dist/midst-desktop (or the binary in
MIDST_BINARY) and sums each entry's stored, compressed size by component:
Python packages count their extension modules, data and the byte code in the
inner PYZ archive together, so "scipy" is all of scipy. MIDST_BINARY_BEFORE
names a build to compare with (for example one from before a trim); without it
the comparison recorded last time is kept. Builds the binary first when there
is none (about 2 minutes of CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    RESULTS,
    Options,
    machine,
    machine_line,
    stamp,
    versions,
)

NAME = "binary"
TITLE = "One-file binary size and its biggest contributors"
LIMIT_MB = 150.0
TOP = 15
TRIMMED = 500_000  # a row is shown when the trim changed it by this much
MB = 1_000_000
PYZ_NAME = "PYZ.pyz"


def _component(name: str) -> str:
    """The part of the app an archive entry belongs to."""
    parts = name.replace("\\", "/").split("/")
    if parts[0] == "PySide6" and len(parts) > 2 and parts[1] == "Qt":
        return f"Qt {parts[2]}"  # Qt lib, plugins, translations
    if parts[0] == "PySide6":
        return "PySide6 bindings"
    if len(parts) == 1:
        if name.startswith("libpython"):
            return "libpython"
        return "system libraries (bundled)"
    top = parts[0]
    if top.endswith(".libs"):
        return f"{top[: -len('.libs')]} (native libs)"
    if top.startswith("python3") or top == "base_library.zip":
        return "Python standard library"
    return top.split(".")[0] if top.endswith(".dist-info") else top


def _module_component(module: str) -> str:
    top = module.split(".", maxsplit=1)[0]
    if top in sys.stdlib_module_names:
        return "Python standard library"
    return top


def contributors(binary: Path) -> dict[str, Any]:
    """Stored bytes per component, the file's size, and the entry count."""
    from PyInstaller.archive.readers import CArchiveReader

    reader = CArchiveReader(str(binary))
    sizes: dict[str, int] = defaultdict(int)
    entries = 0
    for name, (_, stored, _, _, typecode) in reader.toc.items():
        entries += 1
        if typecode == "z":  # the PYZ of byte code: split it by package
            pyz = reader.open_embedded_archive(name)
            for module, (_, _, length) in pyz.toc.items():
                sizes[_module_component(module)] += length
            continue
        if typecode in ("s", "m", "M", "o"):  # bootstrap scripts and options
            sizes["start-up scripts"] += stored
            continue
        sizes[_component(name)] += stored
    return {
        "bytes": binary.stat().st_size,
        "mb": round(binary.stat().st_size / MB, 1),
        "entries": entries,
        "components": dict(sorted(sizes.items(), key=lambda item: -item[1])),
    }


def _build(work: Path) -> Path:
    dist = work / "binary" / "dist"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pyinstaller"),
            "--noconfirm",
            "--log-level",
            "WARN",
            "--distpath",
            str(dist),
            "--workpath",
            str(work / "binary" / "build"),
            str(REPO / "build" / "midst-desktop.spec"),
        ],
        check=True,
    )
    return dist / "midst-desktop"


def run(options: Options) -> dict[str, Any]:
    binary = Path(os.environ.get("MIDST_BINARY", REPO / "dist" / "midst-desktop"))
    if not binary.exists():
        binary = _build(options.work)
    after = contributors(binary)
    before_path = os.environ.get("MIDST_BINARY_BEFORE")
    before: dict[str, Any] | None = None
    if before_path:
        before = contributors(Path(before_path))
    else:
        previous = RESULTS / f"{NAME}.json"
        if previous.exists():
            before = json.loads(previous.read_text()).get("before")
    return {
        "name": NAME,
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["pyinstaller", "PySide6-Essentials"]),
        "binary": str(binary),
        "after": after,
        "before": before,
        "targets": [
            {
                "name": "one-file binary size",
                "value": after["mb"],
                "unit": "MB",
                "limit": LIMIT_MB,
                "met": after["mb"] < LIMIT_MB,
            }
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    after = result["after"]
    before = result.get("before")
    lines = [
        f"## {TITLE}",
        "",
        machine_line(result),
        "",
        f"`dist/midst-desktop` is **{after['mb']} MB** (target under "
        f"{LIMIT_MB:g} MB)"
        + (f"; before the trim it was {before['mb']} MB." if before else "."),
        "Sizes are as stored in the binary (compressed), in MB; a package's row",
        "holds its native code, data and byte code together.",
        "",
    ]
    names = list(after["components"])[:TOP]
    if before:
        # The top of the old build too, and every part the trim changed.
        changed = [
            name
            for name in before["components"]
            if abs(before["components"][name] - after["components"].get(name, 0))
            >= TRIMMED
        ]
        for name in [*list(before["components"])[:TOP], *changed]:
            if name not in names:
                names.append(name)
        lines += ["| Component | Before | After |", "| --- | ---: | ---: |"]
    else:
        lines += ["| Component | Size |", "| --- | ---: |"]
    for name in names:
        now = after["components"].get(name, 0) / MB
        if before:
            then = before["components"].get(name, 0) / MB
            lines.append(f"| {name} | {then:.1f} | {now:.1f} |")
        else:
            lines.append(f"| {name} | {now:.1f} |")
    if before:
        lines.append(f"| **whole file** | **{before['mb']}** | **{after['mb']}** |")
    else:
        lines.append(f"| **whole file** | **{after['mb']}** |")
    return "\n".join(lines) + "\n"
