"""Idle cost of the agent: issue 6's target, two integrations and the endpoint on.

The agent starts on two local folders (one large, so the watch is real),
finishes its start-up syncs, and is then left alone for a measured window
while Prometheus-style scrapes hit the endpoint once a minute. CPU is read
from /proc/PID/stat (user + system ticks) and memory from VmRSS / VmHWM.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from benchmarks.common import (
    Options,
    machine,
    machine_line,
    midst_command,
    stamp,
    versions,
)
from benchmarks.tree import TreeSpec, ensure_tree

NAME = "idle"
TITLE = "Agent idle cost: two integrations and the endpoint on"
WINDOW_SECONDS = 300
SCRAPE_EVERY_SECONDS = 60
CPU_LIMIT_PERCENT = 0.2
RSS_LIMIT_MIB = 120
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of stat (utime, stime), counted after the command name.
    return (int(fields[11]) + int(fields[12])) / TICKS


def _memory_mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _wait_healthy_and_idle(port: int, deadline: float) -> dict[str, Any]:
    """Until both start-up syncs are done and no worker is busy."""
    while time.monotonic() < deadline:
        try:
            status, body = _get(port, "/health")
        except OSError:
            time.sleep(0.5)
            continue
        report = json.loads(body)
        synced = [i for i in report["integrations"] if i["last_synced_at"]]
        if (
            status == 200
            and len(synced) == 2
            and report["workersBusy"] == 0
            and report["queueLength"] == 0
        ):
            return dict(report)
        time.sleep(1)
    raise RuntimeError("the agent did not finish its start-up syncs in time")


def idle_targets(
    cpu_percent: float, rss_mib: float, cpu_limit: float, rss_limit: float
) -> list[dict[str, Any]]:
    """The two figures an idle benchmark judges, against their limits."""
    return [
        {
            "name": "idle CPU",
            "value": round(cpu_percent, 4),
            "unit": "%",
            "limit": cpu_limit,
            "met": cpu_percent < cpu_limit,
        },
        {
            "name": "idle resident memory",
            "value": round(rss_mib, 1),
            "unit": "MiB",
            "limit": rss_limit,
            "met": rss_mib < rss_limit,
        },
    ]


def target_rows(result: dict[str, Any]) -> str:
    """The targets as rows of a markdown table."""
    return "\n".join(
        f"| {t['name']} | {t['value']:g} {t['unit']} | < {t['limit']:g} {t['unit']} "
        f"| {'met' if t['met'] else '**missed**'} |"
        for t in result["targets"]
    )


def add_watched_folders(options: Options, data_dir: str, files: int) -> list[str]:
    """A store with two local integrations, one of `files` files and one of
    150; returns the command line that uses it."""
    big = ensure_tree(options.work, TreeSpec(files=files, folders=max(1, files // 20)))
    small = ensure_tree(options.work, TreeSpec(files=150, folders=10))
    base = [*midst_command(), "--data-dir", data_dir]
    for root in (big, small):
        subprocess.run(
            [*base, "integrations", "add", "local", str(root)],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return base


class IdleFigures(NamedTuple):
    elapsed: float
    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float


def measure_idle(
    command: list[str],
    environment: dict[str, str],
    port: int,
    window: float,
    every: float,
    tick: Callable[[], None],
) -> IdleFigures:
    """Start the app, wait out its start-up syncs, then measure it left alone.

    tick runs every `every` seconds of the window (a scrape, or nothing);
    the app is stopped with SIGTERM at the end.
    """
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_healthy_and_idle(port, time.monotonic() + 900)
        cpu_before = _cpu_seconds(process.pid)
        started = time.monotonic()
        rss_samples = []
        while (elapsed := time.monotonic() - started) < window:
            if process.poll() is not None:
                raise RuntimeError("the app ended during the measured window")
            tick()
            rss_samples.append(_memory_mib(process.pid, "VmRSS"))
            time.sleep(min(every, max(0.0, window - elapsed)))
        return IdleFigures(
            time.monotonic() - started,
            _cpu_seconds(process.pid) - cpu_before,
            max([*rss_samples, _memory_mib(process.pid, "VmRSS")]),
            _memory_mib(process.pid, "VmHWM"),
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def idle_result(
    figures: IdleFigures, packages: list[str], cpu_limit: float, rss_limit: float
) -> dict[str, Any]:
    """The figures of an idle window, judged, with the machine and versions."""
    cpu_percent = 100 * figures.cpu_seconds / figures.elapsed
    return {
        "date": stamp(),
        "machine": machine(),
        "versions": versions(packages),
        "window_seconds": round(figures.elapsed, 1),
        "cpu_seconds": round(figures.cpu_seconds, 3),
        "cpu_percent": round(cpu_percent, 4),
        "rss_mib": round(figures.rss_mib, 1),
        "peak_rss_mib": round(figures.peak_rss_mib, 1),
        "targets": idle_targets(cpu_percent, figures.rss_mib, cpu_limit, rss_limit),
    }


def run(options: Options) -> dict[str, Any]:
    window = float(options.extra.get("idle_seconds", WINDOW_SECONDS))
    files = min(options.files, 100_000)
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="midst-idle-") as data_dir:
        base = add_watched_folders(options, data_dir, files)
        environment = {
            **os.environ,
            "MIDST_ENDPOINT_PORT": str(port),
            "MIDST_EXTRACT_CONTENT": "false",
        }
        scrapes = 0

        def scrape() -> None:
            nonlocal scrapes
            status, _ = _get(port, "/metrics")
            scrapes += status == 200

        figures = measure_idle(
            [*base, "agent", "--serve"],
            environment,
            port,
            window,
            SCRAPE_EVERY_SECONDS,
            scrape,
        )
    return {
        **idle_result(
            figures,
            ["APScheduler", "watchdog", "prometheus-client"],
            CPU_LIMIT_PERCENT,
            RSS_LIMIT_MIB,
        ),
        "watched_files": files + 150,
        "scrapes": scrapes,
    }


def markdown(result: dict[str, Any]) -> str:
    rows = target_rows(result)
    return f"""## {TITLE}

`midst-desktop agent --serve` on two local folders ({result["watched_files"]:,}
files watched), after its start-up syncs, left alone for
{result["window_seconds"]:g} s with {result["scrapes"]} scrapes of `/metrics`
(one a minute). CPU from /proc (user + system), memory from VmRSS; the peak
resident memory of the whole run, start-up syncs included, was
{result["peak_rss_mib"]:g} MiB.

| measure | value | target | |
|---|---|---|---|
{rows}

{machine_line(result)}
"""
