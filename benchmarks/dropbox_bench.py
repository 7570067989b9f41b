"""Dropbox requests against the ideal count: issue 4's "Speed" targets.

The real SDK and provider sync through the engine against the Dropbox
emulator, with latency added to every request, on a Dropbox of
`--files` files in `--folders` folders: a full import, an incremental sync
after 100 changes, and one after none. Each is reported as requests, bytes
and wall time beside the fewest requests the Dropbox API allows.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from tests.emulators.dropbox import DropboxEmulator

from benchmarks.common import Options, machine, machine_line, stamp, versions
from midst_desktop.classify.rules import EXTENSION_TYPES
from midst_desktop.config import load_settings
from midst_desktop.store.db import open_database
from midst_desktop.store.models import Integration, RunKind
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.dropbox import LIST_LIMIT, DropboxProvider

NAME = "dropbox"
TITLE = "Dropbox: requests, bytes and time against the ideal"
LATENCY_SECONDS = 0.05
CHANGES = 100
EXTENSIONS = ("docx", "txt", "md", "jpg", "py", "csv", "mp3", "pptx")
# One file in a hundred is a PDF: whether it is a paper is read from its
# bytes, so each costs a download even without text extraction.
PDF_EVERY = 100


def _fill(emu: DropboxEmulator, files: int, folders: int) -> list[str]:
    paths = []
    for n in range(files):
        folder = n % folders
        extension = "pdf" if n % PDF_EVERY == 0 else EXTENSIONS[n % len(EXTENSIONS)]
        path = f"/Work/Area {folder % 50}/Folder {folder}/file {n}.{extension}"
        emu.add_file(path, b"content %d" % n)
        paths.append(path)
    return paths


def _needs_bytes(path: str) -> bool:
    """Whether classifying the file reads it: its name does not decide it."""
    return PurePosixPath(path).suffix.lower().lstrip(".") not in EXTENSION_TYPES


def picks(paths: list[str]) -> list[str]:
    """The files the 100 changes touch, spread over the Dropbox and its formats.

    One file from each stretch, at an offset that walks over the formats:
    every thousandth file alone would all be PDFs.
    """
    step = max(1, len(paths) // CHANGES)
    count = min(CHANGES, len(paths))
    return [paths[k * step + (k * 7) % step] for k in range(count)]


def _change(emu: DropboxEmulator, paths: list[str]) -> list[str]:
    """100 changes: 40 edits, 30 moves, 20 deletions, 10 new files.

    Returns the paths of the files the incremental sync must look at.
    """
    picked = picks(paths)
    touched = []
    for n, path in enumerate(picked):
        if n < 40:
            emu.edit_file(path, b"edited %d" % n)
            touched.append(path)
        elif n < 70:
            moved = path.replace("/file ", "/renamed ")
            emu.move(path, moved)
            touched.append(moved)
        elif n < 90:
            emu.delete(path)
        else:
            added = f"/Work/New/new {n}.txt"
            emu.add_file(added, b"new %d" % n)
            touched.append(added)
    return touched


def _measure(
    emu: DropboxEmulator, sync: Any, ideal_listing: int, ideal_downloads: int
) -> dict[str, Any]:
    emu.clear_records()
    started = time.monotonic()
    run = sync()
    seconds = time.monotonic() - started
    records = emu.records()
    downloads = sum(1 for r in records if r.route == "files/download")
    return {
        "seconds": round(seconds, 2),
        "requests": len(records),
        "listing_requests": len(records) - downloads,
        "ideal_listing_requests": ideal_listing,
        "downloads": downloads,
        "ideal_downloads": ideal_downloads,
        "bytes": sum(r.bytes_sent for r in records),
        "by_route": dict(emu.routes()),
        "run": {
            "kind": run.kind,
            "listed": run.listed,
            "created": run.created,
            "updated": run.updated,
            "removed": run.removed,
        },
    }


def run(options: Options) -> dict[str, Any]:
    files, folders = options.files, options.folders
    with (
        tempfile.TemporaryDirectory(prefix="midst-dropbox-bench-") as work,
        DropboxEmulator() as emu,
    ):
        paths = _fill(emu, files, folders)
        emu.set_latency(LATENCY_SECONDS)
        # Text extraction would add one download per extractable file on top;
        # the figures here are what the Dropbox protocol costs.
        environ = {**emu.environment(), "MIDST_EXTRACT_CONTENT": "false"}
        settings = load_settings(data_dir=str(Path(work) / "data"), environ=environ)
        database = open_database(settings.database_url)
        credentials = OAuthCredentials(emu.issue_refresh_token(), emu.app_key)
        engine = SyncEngine(
            database, settings, lambda _: DropboxProvider(credentials, settings)
        )
        with database.write() as session:
            integration = Integration(
                provider="dropbox",
                display_name="Dropbox",
                folder_config=FolderConfig().to_json(),
            )
            session.add(integration)
            session.flush()
            integration_id = integration.id

        folder_paths = {p.rsplit("/", 1)[0] for p in paths}
        folder_paths |= {p.rsplit("/", 1)[0] for p in folder_paths}
        entries = files + len(folder_paths)
        # A token refresh, the cursor, then one page per 2,000 entries.
        full = _measure(
            emu,
            lambda: engine.sync(integration_id, RunKind.FULL),
            2 + math.ceil(entries / LIST_LIMIT),
            sum(1 for p in paths if _needs_bytes(p)),
        )
        touched = _change(emu, paths)
        changed = _measure(
            emu,
            lambda: engine.sync(integration_id),
            1,
            sum(1 for p in touched if _needs_bytes(p)),
        )
        quiet = _measure(emu, lambda: engine.sync(integration_id), 1, 0)
        database.dispose()
    rows = {"full": full, "after_changes": changed, "no_change": quiet}
    return {
        "name": NAME,
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["dropbox", "requests"]),
        "files": files,
        "folders": folders,
        "latency_ms": int(LATENCY_SECONDS * 1000),
        **rows,
        "targets": [
            {
                "name": f"{label}: requests over the ideal",
                "value": row["requests"],
                "limit": row["ideal_listing_requests"] + row["ideal_downloads"],
                "unit": "requests",
                "met": row["requests"]
                <= row["ideal_listing_requests"] + row["ideal_downloads"],
            }
            for label, row in rows.items()
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    rows = [
        ("full import", result["full"]),
        (f"incremental after {CHANGES} changes", result["after_changes"]),
        ("incremental, nothing changed", result["no_change"]),
    ]
    lines = [
        f"## {TITLE}",
        "",
        f"{result['files']:,} files in {result['folders']:,} folders (one file in "
        f"{PDF_EVERY} a PDF), {result['latency_ms']} ms added to every request, "
        "the real `dropbox` SDK against the emulator in `tests/emulators/dropbox.py`, "
        "a SQLite store. The ideal is the fewest requests the API allows: for the "
        "full import a token refresh, `get_latest_cursor` and one `list_folder` "
        "page per 2,000 entries; for an incremental sync one "
        "`list_folder/continue`; plus one `files/download` for each new or changed "
        "file whose name does not decide its format (PDFs). The 100 changes are "
        "40 edits, 30 moves, 20 deletions and 10 new files. Text extraction is "
        "off here: with it, each new or changed file whose format an extractor "
        "reads costs one download more.",
        "",
        "| run | listing requests (ideal) | downloads (ideal) | bytes received "
        "| wall time |",
        "|---|---|---|---|---|",
    ]
    for label, row in rows:
        lines.append(
            f"| {label} | {row['listing_requests']} ({row['ideal_listing_requests']})"
            f" | {row['downloads']} ({row['ideal_downloads']}) | {row['bytes']:,} "
            f"| {row['seconds']:.1f} s |"
        )
    lines += ["", machine_line(result), ""]
    return "\n".join(lines)
