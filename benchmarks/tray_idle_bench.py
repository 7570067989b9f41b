"""Idle cost of the desktop app: issue 5's target with a 100k-file folder watched.

`midst-desktop` with no command starts the desktop app; under Qt's offscreen
platform there is no tray host, so it shows the review window as it does on
such desktops, which is the busier case (a window and its timers, not just a
tray icon). Once its start-up sync is done it is left alone for a measured
window. The endpoint is on only so that the benchmark can see, without
touching the window, that the start-up sync has finished; it is not scraped
during the window. CPU is read from /proc/PID/stat and memory from VmRSS.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

from benchmarks.common import (
    Options,
    machine_line,
)
from benchmarks.idle_bench import (
    _free_port,
    add_watched_folders,
    idle_result,
    measure_idle,
    target_rows,
)

NAME = "tray_idle"
TITLE = "Desktop app idle cost: a 100,000-file folder watched"
WINDOW_SECONDS = 300
SAMPLE_EVERY_SECONDS = 30
CPU_LIMIT_PERCENT = 0.5
RSS_LIMIT_MIB = 150


def run(options: Options) -> dict[str, Any]:
    window = float(options.extra.get("idle_seconds", WINDOW_SECONDS))
    files = min(options.files, 100_000)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="midst-tray-idle-") as data_dir:
        base = add_watched_folders(options, data_dir, files)
        environment = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "MIDST_ENDPOINT_ENABLED": "true",
            "MIDST_ENDPOINT_PORT": str(port),
            "MIDST_EXTRACT_CONTENT": "false",
        }
        figures = measure_idle(
            base, environment, port, window, SAMPLE_EVERY_SECONDS, lambda: None
        )
    return {
        **idle_result(
            figures,
            ["PySide6-Essentials", "watchdog", "APScheduler"],
            CPU_LIMIT_PERCENT,
            RSS_LIMIT_MIB,
        ),
        "watched_files": files + 150,
    }


def markdown(result: dict[str, Any]) -> str:
    rows = target_rows(result)
    return f"""## {TITLE}

`midst-desktop` (the desktop app) on two local folders
({result["watched_files"]:,} files watched), Qt's offscreen platform, so with
no tray host it shows the review window; after its start-up syncs it was left
alone for {result["window_seconds"]:g} s. CPU from /proc (user + system),
memory from VmRSS; the peak resident memory of the whole run, start-up syncs
included, was {result["peak_rss_mib"]:g} MiB.

| measure | value | target | |
|---|---|---|---|
{rows}

{machine_line(result)}
"""
