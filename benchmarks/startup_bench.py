"""Start-up of the binary: issue 7's target, start to tray icon (or window) shown.

The one-file binary (dist/midst-desktop, or MIDST_BINARY) starts the desktop
app on Qt's offscreen platform, where there is no tray host, so the app shows
the review window instead; the moment counts as shown when the app's log has
its "Desktop app started" line, which it writes right after showing the tray
icon or the window and before the first event is processed. The floor is
`python -c "import PySide6.QtWidgets"` in the project's interpreter, run
alternately with the binary so both see the same load. `--version` is measured
too: the cost of starting the binary at all, before any Qt. MIDST_BINARY_BEFORE
adds a one-file build to compare with, run in turn with the others.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Options,
    machine,
    machine_line,
    median,
    python_command,
    stamp,
    versions,
)

NAME = "startup"
TITLE = "Binary start-up: to the tray icon or window shown, beside Qt's import"
LIMIT_SECONDS = 2.0
SHOWN = "Desktop app started (tray "
TIMEOUT_SECONDS = 60.0
STOP_SECONDS = 10.0


FOLDER_BUILD = "folder build (the .deb's)"
# MIDST_BINARY_BEFORE names a one-file build to compare with, run side by
# side with the others (for example one from before a change); no target.
BEFORE = "one file before the change"


def _builds() -> dict[str, Path]:
    """The builds there are: the .deb's folder build and the one-file binary."""
    if os.environ.get("MIDST_BINARY"):
        found = {"MIDST_BINARY": Path(os.environ["MIDST_BINARY"])}
    else:
        found = {
            FOLDER_BUILD: REPO / "dist" / "onedir" / "midst-desktop" / "midst-desktop",
            "one file": REPO / "dist" / "midst-desktop",
        }
    if os.environ.get("MIDST_BINARY_BEFORE"):
        found[BEFORE] = Path(os.environ["MIDST_BINARY_BEFORE"])
    return {label: path for label, path in found.items() if path.is_file()}


def _megabytes(label: str, path: Path) -> float:
    if label == FOLDER_BUILD:
        files = [
            f for f in path.parent.rglob("*") if f.is_file() and not f.is_symlink()
        ]
        return round(sum(f.stat().st_size for f in files) / 1_000_000, 1)
    return round(path.stat().st_size / 1_000_000, 1)


def _gui_env() -> dict[str, str]:
    env = dict(os.environ)
    # The app checks for a display variable before it loads Qt; the offscreen
    # platform never reads it.
    env.setdefault("DISPLAY", ":0")
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def _timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def _to_shown(binary: Path, data: Path) -> float:
    """Seconds from the binary's start to the log line that follows the show."""
    log = data / "logs" / "midst-desktop.log"
    offset = log.stat().st_size if log.exists() else 0
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(binary), "--data-dir", str(data)],
        env=_gui_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < TIMEOUT_SECONDS:
            if log.exists():
                with log.open("rb") as stream:
                    stream.seek(offset)
                    if SHOWN.encode() in stream.read():
                        return time.perf_counter() - started
            if process.poll() is not None:
                raise RuntimeError(f"the app ended early ({process.returncode})")
            time.sleep(0.005)
        raise RuntimeError("the app showed nothing within a minute")
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and once more if the first one is lost.

    The app can lose a SIGTERM that comes between its start-up log line and
    the start of Qt's event loop (`QApplication.quit()` does nothing before
    `exec()`), which is when this benchmark sends it. Said on stderr.
    """
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        print("startup: the app ignored SIGTERM; sending it again", file=sys.stderr)
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def run(options: Options) -> dict[str, Any]:
    builds = _builds()
    if not builds:
        raise SystemExit("no binary in dist/: run 'make deb' first")
    floor_command = [*python_command(), "-c", "import PySide6.QtWidgets"]
    floor: list[float] = []
    shown: dict[str, list[float]] = {label: [] for label in builds}
    version: dict[str, list[float]] = {label: [] for label in builds}
    with tempfile.TemporaryDirectory(prefix="midst-startup-") as tmp:
        data = Path(tmp) / "data"
        samples = Path(tmp) / "samples"
        samples.mkdir()
        (samples / "notes.txt").write_text("A note to sync.\n")
        # A person who has set the app up: one folder, the store created.
        first = next(iter(builds.values()))
        add = ["integrations", "add", "local", str(samples)]
        subprocess.run(
            [str(first), "--data-dir", str(data), *add],
            check=True,
            capture_output=True,
        )
        for binary in builds.values():
            _to_shown(binary, data)  # warm-up: page cache, first sync
        for _ in range(max(options.repeat, 5)):
            floor.append(_timed(floor_command))
            for label, binary in builds.items():
                shown[label].append(_to_shown(binary, data))
                version[label].append(_timed([str(binary), "--version"]))
    best = min(builds, key=lambda label: median(shown[label]))
    return {
        "name": NAME,
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["pyinstaller", "PySide6-Essentials"]),
        "builds": {
            label: {
                "path": str(path),
                "mb": _megabytes(label, path),
                "shown_seconds": shown[label],
                "version_seconds": version[label],
                "ratio": round(median(shown[label]) / median(floor), 2),
            }
            for label, path in builds.items()
        },
        "floor_seconds": floor,
        "best": best,
        # Each build people get must start in time: the .deb's and the one file.
        "targets": [
            {
                "name": f"start to tray icon or window shown, {label}",
                "value": round(median(shown[label]), 2),
                "unit": "s",
                "limit": LIMIT_SECONDS,
                "met": median(shown[label]) < LIMIT_SECONDS,
            }
            for label in builds
            if label != BEFORE
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    def row(label: str, values: list[float]) -> str:
        return (
            f"| {label} | {median(values):.2f} | {min(values):.2f} | "
            f"{max(values):.2f} | {len(values)} |"
        )

    lines = [
        f"## {TITLE}",
        "",
        machine_line(result),
        "",
        "With no tray host (Qt's offscreen platform) the app shows the review",
        "window; shown means the app's log line written right after the show.",
        "The one-file binary writes Python, the app and the small packages",
        "into a temporary folder at every start; Qt and the classifier's",
        "packages come from the person's cache, unpacked there once per build",
        "(the warm-up run does it; builds from before that unpacked Qt at every",
        "start too). The .deb installs the folder build of the same spec.",
        "",
        "| Start | Median s | Min s | Max s | Runs | x floor |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
        row('floor: `python -c "import PySide6.QtWidgets"`', result["floor_seconds"])
        + " 1 |",
    ]
    for label, build in result["builds"].items():
        lines += [
            row(
                f"{label}, {build['mb']} MB: to the window shown",
                build["shown_seconds"],
            )
            + f" {build['ratio']} |",
            row(f"{label}: `--version`", build["version_seconds"]) + " |",
        ]
    lines.append("")
    for target in result["targets"]:
        lines.append(
            f"{target['name'].capitalize()}: {target['value']} s, target under "
            f"{target['limit']:g} s: {'met' if target['met'] else 'missed'}."
        )
    lines.append("")
    return "\n".join(lines)
