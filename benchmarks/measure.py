"""One measurement in a process of its own, printed as one JSON line.

Run as `python -m benchmarks.measure MODE ...`. Each mode times only its own
work (not the interpreter's start) and reports the process's peak resident
memory, so a benchmark's numbers are those of the process doing the work.

Modes:
  walk ROOT                 a bare os.scandir walk with a stat per file
  floor ROOT DB             the same walk inserting rows with sqlite3 executemany
  store-floor ROOT DATA_DIR the same walk inserting the rows a sync stores (three
                            tables, the full-text index, the review indexes)
  cli DATA_DIR ARG...       midst-desktop's own command line, in this process
  query DATA_DIR REPEAT     `artifacts list --status pending --limit 20` queries
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import resource
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PAGE = 20


def memory_mib(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process, in MiB."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        status = ""
    found = re.search(rf"{field}:\s+(\d+) kB", status)
    if found:
        return int(found.group(1)) / 1024
    # Not Linux: ru_maxrss is the peak, in bytes on macOS and kB elsewhere.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def walk(root: str) -> Iterator[tuple[str, str, int, int]]:
    """Every file under root with its size and mtime, in no particular order."""
    folders = [root]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                else:
                    info = entry.stat(follow_symlinks=False)
                    yield entry.path, entry.name, info.st_size, info.st_mtime_ns


def measure_walk(root: str) -> dict[str, Any]:
    started = time.perf_counter()
    files = sum(1 for _ in walk(root))
    return {"seconds": time.perf_counter() - started, "files": files}


def measure_floor(root: str, database: str) -> dict[str, Any]:
    """The floor of a full sync: walk, stat and insert, one transaction, no more."""
    started = time.perf_counter()
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, "
        "name TEXT NOT NULL, size INTEGER NOT NULL, modified_ns INTEGER NOT NULL)"
    )
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO files (path, name, size, modified_ns) VALUES (?, ?, ?, ?)",
        walk(root),
    )
    conn.execute("COMMIT")
    files = conn.execute("SELECT count(*) FROM files").fetchone()[0]
    conn.close()
    return {"seconds": time.perf_counter() - started, "files": files}


STORE_FLOOR_BATCH = 5000
STORE_FLOOR_TEXTS = 300


def _store_rows(
    root: str, integration_id: int
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], tuple[Any, ...]]]:
    """For each file: its artifact, text and source file rows, as a sync writes them.

    Nothing is read or classified: the type is fixed, the content hash is
    the path's (so the index keys land anywhere, as real hashes do).
    """
    import hashlib
    import uuid
    from datetime import UTC, datetime

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    prefix = len(root.rstrip("/"))
    for path, name, size, modified_ns in walk(root):
        source_id = path[prefix + 1 :]
        modified = datetime.fromtimestamp(modified_ns / 1e9, UTC).strftime(
            "%Y-%m-%d %H:%M:%S.%f"
        )
        artifact_id = str(uuid.uuid4())
        digest = hashlib.sha256(path.encode()).hexdigest()
        yield (
            (
                artifact_id, integration_id, "local", source_id, path, name, name,
                "application/octet-stream", size, digest, "other", 0.5, "rules",
                "pending", True, modified, modified, now, now, False, "[]", "[]",
                "[]", "{}",
            ),
            (artifact_id, name, ""),
            (
                integration_id, source_id, path, name, size, modified,
                f"{size}:{modified_ns}", f"0:{modified_ns}:{size}", digest,
                "application/octet-stream", artifact_id, None,
            ),
        )  # fmt: skip


def measure_store_floor(root: str, data_dir: str) -> dict[str, Any]:
    """The floor of a full sync into midst-desktop's own store.

    The same walk, storing the rows a sync stores for each file (an artifact,
    its text, its source file) in the migrated schema with all its indexes
    and the full-text index, with sqlite3 `executemany` in batches of 5,000,
    one transaction each: what those rows cost to write, with no reading,
    classifying or deciding.
    """
    from midst_desktop.config import load_settings
    from midst_desktop.store.db import open_database
    from midst_desktop.sync.engine import ARTIFACT_COLUMNS, FILE_COLUMNS

    settings = load_settings(data_dir=data_dir, environ={})
    database = open_database(settings.database_url)  # migrated before the clock
    path = database.sqlite_path
    database.dispose()
    assert path is not None
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(
        "INSERT INTO integrations (provider, display_name, status, folder_config, "
        "created_at) VALUES ('local', 'floor', 'active', '{}', '2026-01-01')"
    )
    integration_id = conn.execute("SELECT max(id) FROM integrations").fetchone()[0]
    insert_artifact = (
        f"INSERT INTO artifacts ({ARTIFACT_COLUMNS}) VALUES "
        f"({', '.join('?' * len(ARTIFACT_COLUMNS.split(',')))})"
    )
    insert_file = (
        f"INSERT INTO source_files ({FILE_COLUMNS}) VALUES "
        f"({', '.join('?' * len(FILE_COLUMNS.split(',')))})"
    )

    def write(batch: list[tuple[tuple[Any, ...], ...]]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(insert_artifact, [rows[0] for rows in batch])
        for start in range(0, len(batch), STORE_FLOOR_TEXTS):
            texts = [rows[1] for rows in batch[start : start + STORE_FLOOR_TEXTS]]
            conn.execute(
                "INSERT INTO artifact_texts (artifact_id, title, body) VALUES "
                + ", ".join(["(?, ?, ?)"] * len(texts)),
                [value for text in texts for value in text],
            )
        conn.executemany(insert_file, [rows[2] for rows in batch])
        conn.execute("COMMIT")

    started = time.perf_counter()
    batch: list[tuple[tuple[Any, ...], ...]] = []
    for rows in _store_rows(root, integration_id):
        batch.append(rows)
        if len(batch) == STORE_FLOOR_BATCH:
            write(batch)
            batch = []
    if batch:
        write(batch)
    seconds = time.perf_counter() - started
    files = conn.execute("SELECT count(*) FROM source_files").fetchone()[0]
    conn.close()
    return {"seconds": seconds, "files": files}


# Where a sync's time goes: engine functions timed when they exist (the engine
# changes; a phase it no longer has is left out, never guessed).
PHASES = {
    "reading and hashing": ("module", "sha256_and_head"),
    "rules classification": ("module", "classify"),
    "writing batches": ("SyncEngine", "_flush"),
    "waiting for the batch writer": ("BatchWriter", "wait"),
    "matching moves": ("SyncEngine", "_match_moves"),
}
# Phases that run on a thread of their own, beside the others.
BESIDE = {"writing batches"}


def time_phases() -> dict[str, float]:
    """Wrap the engine's phases with timers; the dict fills as the sync runs."""
    from midst_desktop.sync import engine

    spent: dict[str, float] = {}
    for phase, (owner_name, attribute) in PHASES.items():
        owner = engine if owner_name == "module" else getattr(engine, owner_name)
        original = getattr(owner, attribute, None)
        if original is None:
            continue
        spent[phase] = 0.0

        def timed(*args: Any, _f: Any = original, _p: str = phase, **kw: Any) -> Any:
            started = time.perf_counter()
            try:
                return _f(*args, **kw)
            finally:
                spent[_p] += time.perf_counter() - started

        setattr(owner, attribute, timed)
    return spent


def measure_cli(data_dir: str, arguments: list[str]) -> dict[str, Any]:
    """Run one midst-desktop command with --data-dir, as the console script does."""
    # The engine is imported lazily by the CLI; import it before the clock starts.
    import midst_desktop.sync.engine  # noqa: F401
    from midst_desktop.cli import main

    phases = time_phases() if os.environ.get("BENCH_PHASES") else {}
    baseline = memory_mib("VmRSS")
    output = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(output):
        code = main(["--data-dir", data_dir, *arguments])
    seconds = time.perf_counter() - started
    text = output.getvalue()
    try:
        printed: Any = json.loads(text)
    except ValueError:
        printed = text
    return {
        "seconds": seconds,
        "exit_code": code,
        "output": printed,
        "baseline_rss_mib": baseline,
        "phases": phases,
    }


def measure_query(data_dir: str, repeat: int) -> dict[str, Any]:
    """Time the CLI's list query (store/queries.py), first page and a deep page."""
    from midst_desktop.config import load_settings
    from midst_desktop.store import queries
    from midst_desktop.store.db import open_database

    settings = load_settings(data_dir=data_dir, environ={})
    database = open_database(settings.database_url)
    wanted = queries.ArtifactFilter(status="pending")

    def first_page() -> list[str]:
        with database.read() as session:
            return [a.id for a in queries.list_artifacts(session, wanted, PAGE)]

    with database.engine.connect() as conn:
        pending = conn.exec_driver_sql(
            "SELECT count(*) FROM artifacts WHERE status = 'pending'"
        ).scalar_one()
        # A page half-way down the pending list, found without the clock running.
        deep_id = conn.exec_driver_sql(
            "SELECT id FROM artifacts WHERE status = 'pending' "
            "ORDER BY captured_date DESC, id DESC LIMIT 1 OFFSET ?",
            (max(0, pending // 2),),
        ).scalar_one()
        plan = [
            str(row[-1])
            for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT * FROM artifacts WHERE status = 'pending' "
                "ORDER BY captured_date DESC, id DESC LIMIT 20"
            )
        ]

    def deep_page() -> list[str]:
        # As `artifacts list --after ID` does: look the artifact up, then page on.
        with database.read() as session:
            after = queries.get_artifact(session, deep_id)
            return [a.id for a in queries.list_artifacts(session, wanted, PAGE, after)]

    timings: dict[str, list[float]] = {"first_page": [], "deep_page": []}
    pages: dict[str, list[str]] = {}
    for name, page in (("first_page", first_page), ("deep_page", deep_page)):
        for _ in range(repeat + 1):
            started = time.perf_counter()
            pages[name] = page()
            timings[name].append(time.perf_counter() - started)
    database.dispose()
    return {
        "artifacts": _count_artifacts(database.url),
        "pending": pending,
        "deep_after": deep_id,
        "page_sizes": {name: len(ids) for name, ids in pages.items()},
        # The first call in a fresh process is what one CLI invocation pays.
        "first_call_seconds": {name: t[0] for name, t in timings.items()},
        "warm_seconds": {name: t[1:] for name, t in timings.items()},
        "query_plan": plan,
    }


def _count_artifacts(url: str) -> int:
    path = url.removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM artifacts").fetchone()[0])


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "walk":
        result = measure_walk(rest[0])
    elif mode == "floor":
        result = measure_floor(rest[0], rest[1])
    elif mode == "store-floor":
        result = measure_store_floor(rest[0], rest[1])
    elif mode == "cli":
        result = measure_cli(rest[0], rest[1:])
    elif mode == "query":
        result = measure_query(rest[0], int(rest[1]))
    else:
        print(f"unknown mode {mode}", file=sys.stderr)
        return 2
    result["peak_rss_mib"] = memory_mib("VmHWM")
    # The CLI's own output went to a buffer; this line is the only thing printed.
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
