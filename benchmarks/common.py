"""What every benchmark shares: the machine, timing helpers, results and the doc."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / "work"
RESULTS = REPO / "benchmarks" / "results"
DOC = REPO / "docs" / "benchmarks.md"

DOC_HEADER = """# Benchmarks

`make bench` measures midst-desktop side by side with the floor each issue
names, and writes each benchmark's section below; `make bench-large` adds the
runs at a million files. `python -m benchmarks.run --only NAME` runs one
benchmark and rewrites only its section. The raw numbers are in
`benchmarks/results/NAME.json`.
"""


@dataclass
class Options:
    """What `benchmarks.run` was asked for; a benchmark reads what it needs."""

    large: bool = False
    repeat: int = 3
    files: int = 100_000
    folders: int = 5_000
    artifacts: int = 1_000_000
    work: Path = WORK
    extra: dict[str, Any] = field(default_factory=dict)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def summary(seconds: Sequence[float], **more: Any) -> dict[str, Any]:
    return {"seconds": [round(s, 4) for s in seconds], "median": median(seconds)}


def _command_version(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        output = subprocess.run(
            command, capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except OSError:
        return None
    return output.splitlines()[0].strip() if output else None


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    found = re.search(r"MemTotal:\s+(\d+) kB", text)
    return round(int(found.group(1)) / 1024**2, 1) if found else None


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    found = re.search(r"model name\s*:\s*(.+)", text)
    return found.group(1).strip() if found else platform.machine()


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "system": f"{platform.system()} {platform.release()}",
        "shared": True,
    }


def versions(packages: Sequence[str] = ()) -> dict[str, str | None]:
    found: dict[str, str | None] = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "midst-desktop": metadata.version("midst-desktop"),
    }
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def tool_version(command: list[str]) -> str | None:
    return _command_version(command)


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def machine_line(result: dict[str, Any]) -> str:
    info = result["machine"]
    shown = ", ".join(f"{k} {v}" for k, v in result["versions"].items() if v)
    return (
        f"Measured {result['date']} on a shared {info['cpus']}-core machine "
        f"({info['cpu_model']}, {info['memory_gib']} GiB, {info['system']}) "
        f"while other work ran on it, so the ratios, measured side by side in one "
        f"run, say more than the absolute times. Versions: {shown}."
    )


def write_json(name: str, result: dict[str, Any], results_dir: Path = RESULTS) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    target = results_dir / f"{name}.json"
    temporary = target.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    temporary.replace(target)
    return target


def markers(name: str) -> tuple[str, str]:
    return f"<!-- benchmark:{name}:start -->", f"<!-- benchmark:{name}:end -->"


def write_section(name: str, markdown: str, doc: Path = DOC) -> None:
    """Replace one benchmark's section of the doc, or append it; keep the rest."""
    start, end = markers(name)
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else DOC_HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _match: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")


def python_command() -> list[str]:
    return [sys.executable]


def midst_command() -> list[str]:
    """The installed console script, or the same entry point through python."""
    script = Path(sys.executable).with_name("midst-desktop")
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; from midst_desktop.cli import main; sys.exit(main(sys.argv[1:]))",
    ]
