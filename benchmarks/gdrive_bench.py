"""Google Drive requests against the ideal count: issue 4's "Speed" targets.

The real SDK and provider sync through the engine against the Drive emulator,
with latency added to every request, on a drive of `--files` files in
`--folders` folders: a full import of the whole drive, a full import of the
included folders (parallel 50-parent queries), an incremental sync after 100
changes, and one after none. Each is reported as requests, bytes and wall
time beside the fewest requests the Drive API allows.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import Any

from tests.emulators.gdrive import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DriveAccount,
    DriveEmulator,
)

from benchmarks.common import Options, machine, machine_line, stamp, versions
from midst_desktop.classify.rules import EXTENSION_TYPES
from midst_desktop.config import load_settings
from midst_desktop.store.db import open_database
from midst_desktop.store.models import Integration, RunKind
from midst_desktop.sync.cloud import GivenCredentials
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.gdrive import PAGE_SIZE, DriveProvider

NAME = "gdrive"
TITLE = "Google Drive: requests, bytes and time against the ideal"
LATENCY_SECONDS = 0.05
CHANGES = 100
EXTENSIONS = ("docx", "txt", "md", "jpg", "py", "csv", "mp3", "pptx")
# One file in a hundred is a PDF: whether it is a paper is read from its bytes.
PDF_EVERY = 100
TOP_FOLDERS = 50


def _fill(account: DriveAccount, files: int, folders: int) -> list[str]:
    """Folders in two levels under /Work; files spread over them."""
    work = account.add_folder("Work")
    tops = [account.add_folder(f"Area {n}", work) for n in range(TOP_FOLDERS)]
    leaves = [
        account.add_folder(f"Folder {n}", tops[n % TOP_FOLDERS])
        for n in range(max(1, folders - TOP_FOLDERS - 1))
    ]
    ids = []
    for n in range(files):
        extension = "pdf" if n % PDF_EVERY == 0 else EXTENSIONS[n % len(EXTENSIONS)]
        ids.append(
            account.add_file(
                f"file {n}.{extension}", leaves[n % len(leaves)], b"content %d" % n
            )
        )
    return ids


def _needs_bytes(name: str) -> bool:
    return PurePosixPath(name).suffix.lower().lstrip(".") not in EXTENSION_TYPES


def _change(account: DriveAccount, ids: list[str]) -> list[str]:
    """100 changes: 40 edits, 30 moves, 20 to the trash, 10 new files.

    Returns the names of the files the incremental sync must look at.
    """
    step = max(1, len(ids) // CHANGES)
    # Spread over the drive and over the formats (not every hundredth file,
    # which would all be PDFs).
    picked = [ids[(k * step + k * 7) % len(ids)] for k in range(CHANGES)]
    elsewhere = account.add_folder("Moved here", account.files[picked[0]].parent)
    touched = []
    for n, file_id in enumerate(picked):
        name = account.files[file_id].name
        if n < 40:
            account.edit(file_id, b"edited %d" % n)
            touched.append(name)
        elif n < 70:
            account.move(file_id, elsewhere)
            touched.append(name)
        elif n < 90:
            account.trash(file_id)
        else:
            account.add_file(f"new {n}.txt", elsewhere, b"new %d" % n)
            touched.append(f"new {n}.txt")
    return touched


def _measure(
    emulator: DriveEmulator,
    sync: Any,
    ideal: int,
    ideal_downloads: int,
    ideal_tokens: int = 0,
) -> dict[str, Any]:
    """One run's requests; ideal_tokens is 1 for the process's first run only."""
    emulator.reset_counts()
    started = time.monotonic()
    run = sync()
    seconds = time.monotonic() - started
    by_route = dict(emulator.requests)
    downloads = sum(
        count
        for route, count in by_route.items()
        if route.startswith("/drive/v3/files/") and route != "/drive/v3/files/root"
    )
    return {
        "seconds": round(seconds, 2),
        # Every request, token refreshes included: the access token is kept
        # for the process, so only its first run refreshes.
        "requests": sum(by_route.values()),
        "api_requests": emulator.api_requests,
        "token_requests": by_route.get("/token", 0),
        "ideal_token_requests": ideal_tokens,
        "listing_requests": emulator.api_requests - downloads,
        "ideal_listing_requests": ideal,
        "downloads": downloads,
        "ideal_downloads": ideal_downloads,
        "bytes": emulator.bytes_sent,
        "by_route": _by_route(by_route),
        "run": {
            "kind": run.kind,
            "listed": run.listed,
            "created": run.created,
            "updated": run.updated,
            "removed": run.removed,
        },
    }


def _by_route(counts: dict[str, int]) -> dict[str, int]:
    """Requests per route, every files.get/{id} counted as one route."""
    merged: dict[str, int] = {}
    for route, count in counts.items():
        key = "/drive/v3/files/{id}" if route.startswith("/drive/v3/files/") else route
        merged[key] = merged.get(key, 0) + count
    return merged


def _integration(database: Any, included: tuple[str, ...]) -> int:
    with database.write() as session:
        integration = Integration(
            provider="google_drive",
            display_name="Google Drive",
            folder_config=FolderConfig(included_folders=included).to_json(),
        )
        session.add(integration)
        session.flush()
        return integration.id


def run(options: Options) -> dict[str, Any]:
    files, folders = options.files, options.folders
    emulator = DriveEmulator().start()
    try:
        with tempfile.TemporaryDirectory(prefix="midst-gdrive-bench-") as work:
            account = emulator.account
            ids = _fill(account, files, folders)
            emulator.latency = LATENCY_SECONDS
            # Text extraction would add one download per extractable file on
            # top; the figures here are what the Drive protocol costs.
            environ = {
                **emulator.environment(),
                "MIDST_EXTRACT_CONTENT": "false",
                "MIDST_CLOUD_RETRY_BASE_MS": "50",
            }
            settings = load_settings(data_dir=str(Path(work) / "data"), environ=environ)
            database = open_database(settings.database_url)
            credentials = OAuthCredentials(
                account.issue_refresh_token(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
            )
            engine = SyncEngine(
                database,
                settings,
                lambda i: DriveProvider(settings, i.id, GivenCredentials(credentials)),
            )
            whole = _integration(database, ("/",))
            folders_only = _integration(database, ("/Work",))

            folder_count = len(account.files) - len(ids)
            pdfs = sum(1 for i in ids if _needs_bytes(account.files[i].name))
            folder_pages = math.ceil(folder_count / PAGE_SIZE)
            # Start token, root, folder pages, then the files a page at a time.
            full = _measure(
                emulator,
                lambda: engine.sync(whole, RunKind.FULL),
                2 + folder_pages + math.ceil(files / PAGE_SIZE),
                pdfs,
                ideal_tokens=1,
            )
            # Every folder is below /Work: the whole-drive listing, filtered.
            parallel = _measure(
                emulator,
                lambda: engine.sync(folders_only, RunKind.FULL),
                2 + folder_pages + math.ceil(files / PAGE_SIZE),
                pdfs,
            )
            touched = _change(account, ids)
            changed = _measure(
                emulator,
                lambda: engine.sync(whole),
                1,
                sum(1 for name in touched if _needs_bytes(name)),
            )
            quiet = _measure(emulator, lambda: engine.sync(whole), 1, 0)
            database.dispose()
    finally:
        emulator.stop()
    rows = {
        "full": full,
        "full_included_folders": parallel,
        "after_changes": changed,
        "no_change": quiet,
    }
    return {
        "name": NAME,
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["google-api-python-client", "google-auth"]),
        "files": files,
        "folders": folder_count,
        "latency_ms": int(LATENCY_SECONDS * 1000),
        **rows,
        "targets": [
            {
                "name": f"{label}: requests over the ideal",
                "value": row["requests"],
                "limit": _ideal(row),
                "unit": "requests",
                "met": row["requests"] <= _ideal(row),
            }
            for label, row in rows.items()
        ],
    }


def _ideal(row: dict[str, Any]) -> int:
    return int(
        row["ideal_listing_requests"]
        + row["ideal_downloads"]
        + row.get("ideal_token_requests", 0)
    )


def markdown(result: dict[str, Any]) -> str:
    rows = [
        ('full import, "/" included', result["full"]),
        ("full import, /Work included", result["full_included_folders"]),
        (f"incremental after {CHANGES} changes", result["after_changes"]),
        ("incremental, nothing changed", result["no_change"]),
    ]
    lines = [
        f"## {TITLE}",
        "",
        f"{result['files']:,} files in {result['folders']:,} folders (one file in "
        f"{PDF_EVERY} a PDF), {result['latency_ms']} ms added to every request, "
        "the real `google-api-python-client` against the emulator in "
        "`tests/emulators/gdrive.py`, a SQLite store. The ideal is the fewest "
        "requests the API allows: for a full import `changes.getStartPageToken`, "
        "`files.get(root)`, one page of folders per 1,000 and one page of files "
        "per 1,000 (/Work holds every folder, so the whole drive is listed and "
        "filtered; a small included part is listed in parallel queries of 50 "
        "folders); for an incremental sync one `changes.list`; plus one "
        "download for each new, changed or moved file whose name does not "
        "decide its format (PDFs). The access token is kept in memory for the "
        "process, so only its first run refreshes it; that refresh is counted in "
        "the token column and in every target. The 100 changes are 40 edits, "
        "30 moves, 20 files trashed and 10 new files. Text extraction is off here.",
        "",
        "| run | listing requests (ideal) | downloads (ideal) | token refreshes "
        "(ideal) | bytes received | wall time |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in rows:
        lines.append(
            f"| {label} | {row['listing_requests']} ({row['ideal_listing_requests']})"
            f" | {row['downloads']} ({row['ideal_downloads']})"
            f" | {row['token_requests']} ({row.get('ideal_token_requests', 0)})"
            f" | {row['bytes']:,} "
            f"| {row['seconds']:.1f} s |"
        )
    lines += ["", machine_line(result), ""]
    return "\n".join(lines)
