"""Sync speed and memory against the floor: issue 2's "Speed and memory" targets.

Everything runs in one go on the same warm tree, so the ratios compare like
with like: `find`, the floor (an os.scandir walk with stat inserting rows with
sqlite3 executemany), rclone's listing, midst-desktop's full, no-change and
100-change syncs through its command line, a bare stat walk, 100 changes
applied by the running agent, peak memory at several tree sizes, and the
review list query at a million artifacts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import (
    REPO,
    Options,
    machine,
    machine_line,
    median,
    midst_command,
    python_command,
    stamp,
    tool_version,
    versions,
)
from benchmarks.measure import BESIDE
from benchmarks.store import ensure_store
from benchmarks.tree import (
    Change,
    TreeSpec,
    ensure_tree,
    make_changes,
    pick_changes,
    undo_changes,
)

NAME = "sync"
TITLE = "Sync: speed and memory"
CHANGES = 100
WATCH_DEADLINE_SECONDS = 60
POLL_SECONDS = 0.005

# The targets: (measurement, what it is divided by, the most allowed).
FULL_SYNC_LIMIT = 2.5
NO_CHANGE_LIMIT = 1.5
WATCHED_LIMIT_SECONDS = 1.0
MEMORY_LIMIT_MIB = 200.0
FLAT_LIMIT = 1.25  # peak at the largest tree over the peak at the smallest
QUERY_LIMIT_SECONDS = 0.050
# The targets are for metadata and rules classification: no extraction.
SYNC_ENVIRONMENT = {"MIDST_EXTRACT_CONTENT": "false"}


class BenchmarkError(RuntimeError):
    """A measurement did not do what it measures; the numbers would lie."""


def measure(mode: str, *arguments: str, phases: bool = False) -> dict[str, Any]:
    """Run benchmarks.measure in a process of its own and return its result."""
    environment = {**os.environ, **SYNC_ENVIRONMENT}
    if phases:
        environment["BENCH_PHASES"] = "1"
    completed = subprocess.run(
        [*python_command(), "-m", "benchmarks.measure", mode, *arguments],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        raise BenchmarkError(
            f"measure {mode} failed ({completed.returncode}): "
            f"{completed.stderr.strip()[-2000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def timed_command(command: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchmarkError(f"{command[0]} failed: {completed.stderr[-500:]!r}")
    return seconds


def cli(data_dir: Path, *arguments: str, phases: bool = False) -> dict[str, Any]:
    result = measure("cli", str(data_dir), *arguments, phases=phases)
    if result["exit_code"] != 0:
        raise BenchmarkError(f"midst-desktop {' '.join(arguments)} failed: {result}")
    return result


def series(results: list[dict[str, Any]]) -> dict[str, Any]:
    seconds = [r["seconds"] for r in results]
    return {
        "median": median(seconds),
        "seconds": [round(s, 4) for s in seconds],
        "peak_rss_mib": max(r.get("peak_rss_mib", 0.0) for r in results),
    }


def run_counts(result: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = result["output"]["counts"]
    return counts


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise BenchmarkError(message)


@contextlib.contextmanager
def scratch(work: Path) -> Iterator[Path]:
    """A temporary folder on the same disk as the trees."""
    work.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="sync-run-", dir=work))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def add_integration(data_dir: Path, root: Path) -> int:
    result = cli(data_dir, "integrations", "add", "local", str(root), "--json")
    return int(result["output"]["id"])


def warm(root: Path) -> None:
    """Read every file once, so every timed run finds names and bytes cached."""
    timed_command(["find", str(root), "-type", "f"])
    folders = [str(root)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                else:
                    with open(entry.path, "rb") as handle:
                        while handle.read(1 << 20):
                            pass


# -- the parts ---------------------------------------------------------------


def listing_peers(root: Path, repeat: int) -> dict[str, Any]:
    found: dict[str, Any] = {}
    find = ["find", str(root), "-type", "f"]
    found["find"] = series([{"seconds": timed_command(find)} for _ in range(repeat)])
    if shutil.which("rclone") is None:
        found["rclone"] = {
            "missing": "rclone is not installed (make bench installs it)"
        }
    else:
        rclone = ["rclone", "lsjson", "-R", "--files-only", str(root)]
        found["rclone"] = series(
            [{"seconds": timed_command(rclone)} for _ in range(repeat)]
        )
    found["stat_walk"] = series([measure("walk", str(root)) for _ in range(repeat)])
    return found


def floor(root: Path, work: Path, repeat: int, files: int) -> dict[str, Any]:
    results = []
    for _ in range(repeat):
        with scratch(work) as folder:
            result = measure("floor", str(root), str(folder / "floor.db"))
        expect(result["files"] == files, f"the floor stored {result['files']} rows")
        results.append(result)
    return series(results)


def store_floor(root: Path, work: Path, repeat: int, files: int) -> dict[str, Any]:
    """The same walk writing the rows a sync stores, into the real schema."""
    results = []
    for _ in range(repeat):
        with scratch(work) as folder:
            result = measure("store-floor", str(root), str(folder))
        expect(result["files"] == files, f"the store floor wrote {result['files']}")
        results.append(result)
    return series(results)


def full_syncs(
    root: Path, work: Path, repeat: int, files: int
) -> tuple[dict[str, Any], Path]:
    """Full syncs into fresh stores; the last store is kept for the next parts."""
    results = []
    kept = Path(tempfile.mkdtemp(prefix="sync-store-", dir=work))
    for number in range(repeat):
        data_dir = (
            kept
            if number == repeat - 1
            else Path(tempfile.mkdtemp(prefix="sync-store-", dir=work))
        )
        integration = add_integration(data_dir, root)
        # Only the last run is timed by phase, so the others are untouched.
        result = cli(
            data_dir,
            "sync",
            str(integration),
            "--type",
            "full",
            "--json",
            phases=number == repeat - 1,
        )
        counts = run_counts(result)
        expect(
            counts["listed"] == files
            and counts["created"] + counts["skipped"] == files,
            f"the full sync saw {counts}",
        )
        results.append(result)
        if data_dir != kept:
            shutil.rmtree(data_dir, ignore_errors=True)
    summary = series(results)
    summary["counts"] = run_counts(results[-1])
    summary["baseline_rss_mib"] = results[-1]["baseline_rss_mib"]
    summary["phases"] = results[-1]["phases"]
    summary["phases_run_seconds"] = results[-1]["seconds"]
    return summary, kept


def no_change_syncs(data_dir: Path, repeat: int, files: int) -> dict[str, Any]:
    results = []
    for _ in range(repeat):
        result = cli(data_dir, "sync", "1", "--type", "incremental", "--json")
        counts = run_counts(result)
        expect(
            counts["created"] == counts["updated"] == counts["removed"] == 0
            and counts["listed"] == files,
            f"a no-change sync changed something: {counts}",
        )
        results.append(result)
    summary = series(results)
    summary["counts"] = run_counts(results[-1])
    return summary


def expected_counts(changes: list[Change]) -> dict[str, int]:
    return {
        "created": sum(c.kind == "add" for c in changes),
        "updated": sum(c.kind == "edit" for c in changes),
        "removed": sum(c.kind == "delete" for c in changes),
    }


def changed_syncs(
    data_dir: Path, work: Path, spec: TreeSpec, repeat: int
) -> dict[str, Any]:
    results = []
    for number in range(repeat):
        changes = pick_changes(spec, CHANGES, number)
        make_changes(work, spec, changes)
        result = cli(data_dir, "sync", "1", "--type", "incremental", "--json")
        counts = run_counts(result)
        wanted = expected_counts(changes)
        expect(
            all(counts[k] == v for k, v in wanted.items()),
            f"after {wanted} the sync counted {counts}",
        )
        results.append(result)
    summary = series(results)
    summary["counts"] = run_counts(results[-1])
    return summary


def _applied(conn: sqlite3.Connection, changes: list[Change]) -> bool:
    wanted = {c.path: c for c in changes}
    marks = ",".join("?" * len(wanted))
    rows = conn.execute(
        "SELECT source_id, size_bytes, source_available FROM artifacts "
        f"WHERE source_id IN ({marks})",
        list(wanted),
    ).fetchall()
    done = 0
    for source_id, size, available in rows:
        change = wanted[source_id]
        if change.kind == "delete":
            done += not available
        else:
            done += bool(available) and size == change.size
    return done == len(wanted)


def _peak_of(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def _wait(condition: Any, what: str, agent: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WATCH_DEADLINE_SECONDS * 5
    while not condition():
        if agent.poll() is not None:
            raise BenchmarkError(f"the agent stopped while {what}")
        if time.monotonic() > deadline:
            raise BenchmarkError(f"the agent never finished {what}")
        time.sleep(0.05)


def watched_changes(
    data_dir: Path, work: Path, spec: TreeSpec, repeat: int
) -> dict[str, Any]:
    """The agent watching the tree: from 100 changes made to all 100 stored."""
    database = data_dir / "midst.db"
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, isolation_level=None)

    def runs_finished(trigger: str) -> int:
        return int(
            conn.execute(
                "SELECT count(*) FROM runs WHERE trigger = ? AND finished_at "
                "IS NOT NULL",
                (trigger,),
            ).fetchone()[0]
        )

    def run_seconds() -> list[float]:
        """How long each sync of watched changes took, by the runs table."""
        rows = conn.execute(
            "SELECT (julianday(finished_at) - julianday(started_at)) * 86400 "
            "FROM runs WHERE finished_at IS NOT NULL AND id > (SELECT max(id) "
            "FROM runs WHERE trigger = 'startup') ORDER BY id"
        ).fetchall()
        return [round(float(row[0]), 4) for row in rows]

    log_path = data_dir / "agent-stderr.log"
    log_file = log_path.open("wb")
    agent = subprocess.Popen(
        [*midst_command(), "--data-dir", str(data_dir), "agent"],
        env={**os.environ, **SYNC_ENVIRONMENT},
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    from_made: list[float] = []
    from_first: list[float] = []
    try:
        started = time.perf_counter()
        # The agent watches first, then syncs at start-up: once that run is in,
        # every folder is watched.
        _wait(lambda: runs_finished("startup") > 0, "its start-up sync", agent)
        ready_seconds = time.perf_counter() - started
        for number in range(repeat):
            changes = pick_changes(spec, CHANGES, 1000 + number)
            first = time.perf_counter()
            make_changes(work, spec, changes)
            made = time.perf_counter()
            deadline = made + WATCH_DEADLINE_SECONDS
            while not _applied(conn, changes):
                if time.perf_counter() > deadline or agent.poll() is not None:
                    log_file.flush()
                    tail = log_path.read_text(errors="replace")[-1500:]
                    raise BenchmarkError(
                        f"the agent did not apply the {CHANGES} changes "
                        f"(exit {agent.poll()}): {tail}"
                    )
                time.sleep(POLL_SECONDS)
            applied = time.perf_counter()
            from_made.append(applied - made)
            from_first.append(applied - first)
            # Let the agent finish the run before the next round of changes.
            time.sleep(1.0)
        peak = _peak_of(agent.pid)
        exit_code = agent.poll()
        syncs = run_seconds()
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(timeout=30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        conn.close()
        log_file.close()
    # An agent that stopped by itself before SIGTERM is a finding, not a figure.
    expect(exit_code is None, f"the agent stopped by itself (exit {exit_code})")
    return {
        "median": median(from_made),
        "seconds": [round(s, 4) for s in from_made],
        "from_first_change_seconds": [round(s, 4) for s in from_first],
        "agent_ready_seconds": round(ready_seconds, 2),
        "agent_peak_rss_mib": peak,
        "sync_run_seconds": syncs,
    }


def memory(options: Options, main_peaks: dict[str, float]) -> list[dict[str, Any]]:
    """Peak memory of full and no-change syncs as the tree grows tenfold."""
    sizes = [(options.files // 10, max(1, options.folders // 10))]
    if options.large:
        sizes.append((options.files * 10, options.folders * 10))
    rows = []
    for files, folders in sizes:
        spec = TreeSpec(files, folders)
        root = ensure_tree(options.work, spec)
        warm(root)
        with scratch(options.work) as data_dir:
            integration = add_integration(data_dir, root)
            full = cli(data_dir, "sync", str(integration), "--type", "full", "--json")
            expect(run_counts(full)["listed"] == files, "the full sync missed files")
            again = cli(data_dir, "sync", str(integration), "--json")
        rows.append(
            {
                "files": files,
                "folders": folders,
                "full_sync_peak_rss_mib": full["peak_rss_mib"],
                "no_change_peak_rss_mib": again["peak_rss_mib"],
                "full_sync_seconds": full["seconds"],
                "no_change_seconds": again["seconds"],
            }
        )
    rows.append({"files": options.files, "folders": options.folders, **main_peaks})
    previous = options.extra.get("previous")
    if (
        not options.large
        and previous
        and previous.get("tree", {}).get("files") == (options.files)
    ):
        # The million-file row takes half an hour: keep the last --large one.
        for row in previous.get("memory", []):
            if row["files"] > options.files:
                rows.append({**row, "from": row.get("from", previous["date"])})
    return sorted(rows, key=lambda row: row["files"])


def list_query(options: Options) -> dict[str, Any]:
    data_dir = ensure_store(options.work, options.artifacts)
    result = measure("query", str(data_dir), str(max(5, options.repeat * 5)))
    result["first_page_median"] = median(result["warm_seconds"]["first_page"])
    result["deep_page_median"] = median(result["warm_seconds"]["deep_page"])
    expect(result["page_sizes"]["first_page"] > 0, "the list query found nothing")
    return result


# -- the whole run -----------------------------------------------------------


def run(options: Options) -> dict[str, Any]:
    spec = TreeSpec(options.files, options.folders)
    work = options.work
    root = ensure_tree(work, spec)
    repeat = options.repeat
    warm(root)

    result: dict[str, Any] = {
        "benchmark": NAME,
        "date": stamp(),
        "machine": machine(),
        "versions": {
            **versions(["SQLAlchemy", "watchdog"]),
            "rclone": tool_version(["rclone", "version"]),
            "find": tool_version(["find", "--version"]),
        },
        "tree": {"files": spec.files, "folders": spec.folders, "seed": spec.seed},
        "repeat": repeat,
    }
    measured: dict[str, Any] = {}
    try:
        measured.update(listing_peers(root, repeat))
        measured["floor"] = floor(root, work, repeat, spec.files)
        measured["store_floor"] = store_floor(root, work, repeat, spec.files)
        measured["full_sync"], data_dir = full_syncs(root, work, repeat, spec.files)
        try:
            measured["no_change_sync"] = no_change_syncs(data_dir, repeat, spec.files)
            measured["changed_sync"] = changed_syncs(data_dir, work, spec, repeat)
            measured["watched_changes"] = watched_changes(data_dir, work, spec, repeat)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        undo_changes(work, spec)
    result["measurements"] = measured
    result["memory"] = memory(
        options,
        {
            "full_sync_peak_rss_mib": measured["full_sync"]["peak_rss_mib"],
            "no_change_peak_rss_mib": measured["no_change_sync"]["peak_rss_mib"],
            "full_sync_seconds": measured["full_sync"]["median"],
            "no_change_seconds": measured["no_change_sync"]["median"],
        },
    )
    result["list_query"] = list_query(options)
    result["targets"] = targets(result)
    return result


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    m = result["measurements"]
    peaks = [
        max(row["full_sync_peak_rss_mib"], row["no_change_peak_rss_mib"])
        for row in result["memory"]
    ]
    query = result["list_query"]
    found = [
        (
            "full sync",
            m["full_sync"]["median"] / m["floor"]["median"],
            FULL_SYNC_LIMIT,
            "x the floor",
        ),
        (
            "full sync, against the rows it stores",
            m["full_sync"]["median"] / m["store_floor"]["median"],
            FULL_SYNC_LIMIT,
            "x the store floor",
        ),
        (
            "no-change incremental sync",
            m["no_change_sync"]["median"] / m["stat_walk"]["median"],
            NO_CHANGE_LIMIT,
            "x the stat walk",
        ),
        (
            f"{CHANGES} watched changes applied",
            m["watched_changes"]["median"],
            WATCHED_LIMIT_SECONDS,
            "s",
        ),
        ("peak memory", max(peaks), MEMORY_LIMIT_MIB, "MiB"),
        ("memory growth", max(peaks) / min(peaks), FLAT_LIMIT, "x the smallest"),
        (
            "list query, first page",
            query["first_page_median"],
            QUERY_LIMIT_SECONDS,
            "s",
        ),
        ("list query, deep page", query["deep_page_median"], QUERY_LIMIT_SECONDS, "s"),
    ]
    return [
        {
            "name": name,
            "value": round(value, 4),
            "limit": limit,
            "unit": unit,
            "met": value <= limit,
        }
        for name, value, limit, unit in found
    ]


# -- the doc section ---------------------------------------------------------


def _s(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MiB"


def markdown(result: dict[str, Any]) -> str:
    m = result["measurements"]
    tree = result["tree"]
    floor_s = m["floor"]["median"]
    walk_s = m["stat_walk"]["median"]
    lines = [
        f"## {TITLE}",
        "",
        f"A tree of {tree['files']:,} files in {tree['folders']:,} folders "
        f"(names, extensions, sizes and dates drawn from seed {tree['seed']}), "
        "every file read once first, so names and bytes are in the page cache; "
        f"each figure is the median of {result['repeat']} runs. midst-desktop "
        "runs through its command line (`--data-dir` in a fresh folder, content "
        "extraction off: `MIDST_EXTRACT_CONTENT=false`, as the issue's targets "
        "say) in a process of its own; the time is the command's, without the "
        "interpreter's start. Each Python figure is timed in a process of its "
        "own too.",
        "",
        "| what | median | x floor | x stat walk | peak memory |",
        "|---|---|---|---|---|",
    ]
    rows = [
        ("`find DIR -type f`", "find"),
        ("floor: os.scandir walk + stat + sqlite3 `executemany`", "floor"),
        (
            "store floor: the same walk writing a sync's rows (three tables, "
            "full-text and review indexes) with sqlite3 `executemany`",
            "store_floor",
        ),
        ("bare os.scandir walk + stat", "stat_walk"),
        ("`rclone lsjson -R --files-only` (a peer)", "rclone"),
        ("midst-desktop full sync", "full_sync"),
        ("midst-desktop no-change incremental sync", "no_change_sync"),
        (f"midst-desktop incremental sync after {CHANGES} changes", "changed_sync"),
    ]
    for label, key in rows:
        entry = m.get(key, {})
        if "median" not in entry:
            lines.append(f"| {label} | {entry.get('missing', 'not run')} | | | |")
            continue
        seconds = entry["median"]
        peak = _mib(entry["peak_rss_mib"]) if entry.get("peak_rss_mib") else ""
        lines.append(
            f"| {label} | {_s(seconds)} | {seconds / floor_s:.2f} | "
            f"{seconds / walk_s:.2f} | {peak} |"
        )
    full = m["full_sync"]
    if full.get("phases"):
        total = full["phases_run_seconds"]
        phases = dict(full["phases"])
        beside = {name: phases.pop(name) for name in BESIDE if name in phases}
        parts = ", ".join(
            f"{name} {_s(spent)} ({spent / total:.0%})"
            for name, spent in sorted(phases.items(), key=lambda p: -p[1])
        )
        rest = total - sum(phases.values())
        lines += [
            "",
            f"Where the full sync's time goes (its last run, {_s(total)}): {parts}; "
            f"listing, comparing and the rest {_s(rest)} ({rest / total:.0%}).",
        ]
        if beside:
            lines[-1] += (
                " Beside them, on the batch writer's thread: "
                + ", ".join(
                    f"{name} {_s(spent)} ({spent / total:.0%} of the run)"
                    for name, spent in beside.items()
                )
                + "."
            )
    watched = m["watched_changes"]
    lines += [
        "",
        f"The incremental syncs changed {CHANGES} files each time (40 edits, 30 "
        "new files, 30 deletions; a different set each run). With the agent "
        f"running and watching, {CHANGES} such changes were all in the store "
        f"{_s(watched['median'])} after the last one was made (runs: "
        + ", ".join(_s(s) for s in watched["seconds"])
        + "); the syncs of those changes took "
        + ", ".join(_s(s) for s in watched["sync_run_seconds"])
        + " by the runs table, the rest is the wait for the events to settle"
        + f". The agent had its watches set and its start-up sync done "
        f"{watched['agent_ready_seconds']:.1f} s after it started, and its peak "
        f"memory was {_mib(watched['agent_peak_rss_mib'])}.",
        "",
        "### Peak memory as the tree grows",
        "",
        "Resident-set high-water mark (VmHWM) of the syncing process, imports "
        "included.",
        "",
        "| files | full sync | peak | no-change sync | peak |",
        "|---|---|---|---|---|",
    ]
    for row in result["memory"]:
        kept = f" (`--large` run of {row['from']})" if row.get("from") else ""
        lines.append(
            f"| {row['files']:,}{kept} | {_s(row['full_sync_seconds'])} | "
            f"{_mib(row['full_sync_peak_rss_mib'])} | "
            f"{_s(row['no_change_seconds'])} | {_mib(row['no_change_peak_rss_mib'])} |"
        )
    query = result["list_query"]
    lines += [
        "",
        f"### `artifacts list --status pending --limit 20` at "
        f"{query['artifacts']:,} artifacts",
        "",
        f"{query['pending']:,} of them pending; the store was filled by direct "
        "inserts into the migrated schema (artifact rows only). Timed through "
        "`store/queries.py`, as the CLI calls it, rows loaded as ORM objects. "
        "The deep page continues after the artifact half-way down the list "
        "(`--after ID`, keyset), its lookup included.",
        "",
        "| page | median | first call in a fresh process |",
        "|---|---|---|",
        f"| first | {_s(query['first_page_median'])} | "
        f"{_s(query['first_call_seconds']['first_page'])} |",
        f"| deep | {_s(query['deep_page_median'])} | "
        f"{_s(query['first_call_seconds']['deep_page'])} |",
        "",
        f"Query plan: `{'; '.join(query['query_plan'])}`.",
        "",
        "### Against the targets",
        "",
        "| target | measured | limit | met |",
        "|---|---|---|---|",
    ]
    for target in result["targets"]:
        value, limit, unit = target["value"], target["limit"], target["unit"]
        if unit == "s":
            shown, allowed = _s(value), _s(limit)
        else:
            shown, allowed = f"{value:.2f} {unit}", f"{limit:g} {unit}"
        lines.append(
            f"| {target['name']} | {shown} | {allowed} | "
            f"{'yes' if target['met'] else '**no**'} |"
        )
    lines += ["", machine_line(result)]
    return "\n".join(lines)
