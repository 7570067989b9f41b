"""Size of the one-file binary: issue 7's 150 MB target and its biggest parts.

Reads the archive PyInstaller appends to dist/midst-desktop (or the binary in
MIDST_BINARY) and sums each entry's stored, compressed size by component:
Python packages count their extension modules, data and the byte code in the
inner PYZ archive together, so "scipy" is all of scipy, including what is
packed in the zip of the binary's `midst_packages` section, which
build/rthook_unpack.py unpacks once per build into the person's cache (or in
a ZIPFILE entry, in builds from before that). It also sums what the binary
writes into its temporary folder at every start and what goes into the cache,
at the first start and on first import. MIDST_BINARY_BEFORE
names a build to compare with (for example one from before a trim); without it
the comparison recorded last time is kept. Builds the binary first when there
is none (about 2 minutes of CPU).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile
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
HOOK = REPO / "build" / "rthook_unpack.py"


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
    at_start = 0  # bytes the bootloader writes out at every start
    on_import = 0  # bytes unpacked from the zips on first import
    manifest: dict[str, Any] | None = None
    for name, (_, stored, length, _, typecode) in reader.toc.items():
        entries += 1
        if typecode == "z":  # the PYZ of byte code: split it by package
            pyz = reader.open_embedded_archive(name)
            for module, (_, _, size) in pyz.toc.items():
                sizes[_module_component(module)] += size
            continue
        if typecode in ("s", "m", "M", "o"):  # bootstrap scripts and options
            sizes["start-up scripts"] += stored
            continue
        if typecode in ("b", "x", "Z"):
            at_start += length
        if name == "_unpack_on_import/manifest.json":
            manifest = json.loads(reader.extract(name))
        if typecode == "Z":  # a package zipped to be unpacked on first import
            with zipfile.ZipFile(io.BytesIO(reader.extract(name))) as bundle:
                for member in bundle.infolist():
                    sizes[_component(member.filename)] += member.compress_size
                    on_import += member.file_size
            continue
        sizes[_component(name)] += stored
    cached = _cached(binary, manifest, sizes)
    return {
        "bytes": binary.stat().st_size,
        "mb": round(binary.stat().st_size / MB, 1),
        "entries": entries,
        "unpacked_at_start_mb": round(at_start / MB, 1),
        "unpacked_on_import_mb": round(on_import / MB, 1),
        "cached_at_first_start_mb": round(cached[True] / MB, 1),
        "cached_on_import_mb": round(cached[False] / MB, 1),
        "components": dict(sorted(sizes.items(), key=lambda item: -item[1])),
    }


def _cached(
    binary: Path, manifest: dict[str, Any] | None, sizes: dict[str, int]
) -> dict[bool, int]:
    """Add the section's packages to `sizes`; bytes unpacked once, by at_start."""
    unpacked = {True: 0, False: 0}
    if not manifest or "section" not in manifest:
        return unpacked
    spec = importlib.util.spec_from_file_location("rthook_unpack", HOOK)
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    offset, size = hook.find_section(str(binary), manifest["section"])
    with zipfile.ZipFile(hook.Slice(str(binary), offset, size)) as bundle:
        for member in bundle.infolist():
            sizes[_component(member.filename)] += member.compress_size
    for entry in manifest["packages"].values():
        unpacked[bool(entry["at_start"])] += sum(entry["files"].values())
    return unpacked


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


def _unpacked(after: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    """What the binary writes into its temporary folder, at start and later."""
    if "unpacked_at_start_mb" not in after:
        return []
    line = (
        f"At every start it writes {after['unpacked_at_start_mb']} MB into its "
        "temporary folder"
    )
    if before and "unpacked_at_start_mb" in before:
        line += f" (before: {before['unpacked_at_start_mb']} MB)"
    if after["unpacked_on_import_mb"]:
        line += (
            f"; {after['unpacked_on_import_mb']} MB more is unpacked there when "
            "the packages holding it are first imported"
        )
    if after.get("cached_at_first_start_mb"):
        line += (
            f". Once per build, into the person's cache, it unpacks "
            f"{after['cached_at_first_start_mb']} MB at the first start (Qt) and "
            f"{after['cached_on_import_mb']} MB more when the packages holding it "
            "are first imported"
        )
    return [line + "."]


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
        + (
            f"; the build it is compared with was {before['mb']} MB." if before else "."
        ),
        *_unpacked(after, before),
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
