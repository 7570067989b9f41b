"""Backing up and restoring the SQLite store while the app may be running."""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime
from pathlib import Path

from midst_desktop.store.db import Database, StoreError, vacuum_into

log = logging.getLogger(__name__)


class BackupRefusedError(StoreError):
    """A backup or restore asked of a path that cannot be one; nothing changed."""


def backup(database: Database, destination: Path) -> Path:
    """Write a consistent copy of the store to destination (a file or a folder).

    Raises BackupRefusedError for a destination that exists or has no folder,
    StoreError when the store is not SQLite or the copy cannot be made.
    """
    source = _sqlite_file(database)
    if destination.is_dir():
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        destination = destination / f"midst-desktop-{stamp}.db"
    if destination.exists():
        raise BackupRefusedError(
            f"{destination} already exists; choose a new file name"
        )
    if not destination.parent.is_dir():
        raise BackupRefusedError(f"there is no folder {destination.parent}")
    if destination.resolve() == source.resolve():
        raise BackupRefusedError("the backup cannot be the database itself")
    try:
        vacuum_into(database, destination)
    except sqlite3.Error as error:
        destination.unlink(missing_ok=True)
        raise StoreError(f"backup failed: {error}") from None
    log.info("Backed up the store to %s", destination)
    return destination


def check_backup(source: Path) -> None:
    """Refuse a file that is not a whole midst-desktop store."""
    if not source.is_file():
        raise BackupRefusedError(f"{source} is not a file")
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
            tables = {
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            }
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise BackupRefusedError(
            f"{source} is not a midst-desktop backup: {error}"
        ) from None
    if result is None or result[0] != "ok":
        raise BackupRefusedError(
            f"{source} is damaged: {result[0] if result else 'unreadable'}"
        )
    if not {"artifacts", "integrations", "alembic_version"} <= tables:
        raise BackupRefusedError(f"{source} is not a midst-desktop backup")


def restore(database: Database, source: Path) -> Path:
    """Replace the store's contents with a backup, keeping the current store aside.

    Returns the path of the copy of the store as it was before.
    """
    target = _sqlite_file(database)
    check_backup(source)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    previous = target.with_name(f"{target.stem}.before-restore-{stamp}.db")
    vacuum_into(database, previous)
    database.dispose()
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src:
            live = sqlite3.connect(target, timeout=10)
            try:
                src.backup(live)
            finally:
                live.close()
    except sqlite3.Error as error:
        raise StoreError(
            f"restore failed ({error}); the store as it was is in {previous}"
        ) from None
    log.info("Restored the store from %s; the previous one is in %s", source, previous)
    return previous


def _sqlite_file(database: Database) -> Path:
    path = database.sqlite_path
    if path is None:
        raise StoreError(
            "backup and restore work on the SQLite store; for PostgreSQL use pg_dump"
        )
    return path
