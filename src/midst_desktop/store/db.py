"""Opening the store: engine settings per dialect, migrations, transactions."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000
# A sync's batches touch pages all over the random-keyed indexes (artifact ids,
# content hashes, dates). Checkpointing every 1,000 pages (SQLite's default)
# copied those pages back after nearly every batch; every 10,000 pages (40 MiB
# of WAL) copies a page once for many batches: the writes of a 100k-file
# import took 1.6x less time (benchmarks/sync_bench.py), at no memory cost.
WAL_AUTOCHECKPOINT_PAGES = 10_000
# SQLite's page cache per connection (its default is 2 MiB). A sync's batch
# inserts into five indexes on keys that land anywhere (dates, content
# hashes, inode fingerprints); with 2 MiB their pages were read again for
# nearly every row. With 16 MiB the writes of a 100,000-file import took
# about 1.4x less time (32 MiB was no faster); the cache fills only as
# pages are read, so it is also what memory grows by with the store.
CACHE_KIB = 16 * 1024


class StoreError(RuntimeError):
    """The store cannot be used; the message says why, for a person."""


class BadDatabaseUrlError(StoreError):
    """The database URL names no store midst-desktop can use."""


class StoreFullError(StoreError):
    """The disk (or the database's page limit) is full; the transaction was undone."""


def describe_store_error(error: exc.DBAPIError) -> StoreError:
    """Turn a driver error into one line a person can act on."""
    text = str(error.orig) if error.orig is not None else str(error)
    if "database or disk is full" in text or "No space left" in text:
        return StoreFullError(
            "the disk holding the database is full; nothing was lost, "
            "free some space and run again"
        )
    if "database is locked" in text:
        # Another process held the write lock past the busy time-out.
        return StoreError(
            "the database is busy: another program is writing to it; "
            "try again in a moment"
        )
    if "file is not a database" in text or "malformed" in text:
        return StoreError(
            "the database file is damaged; restore a backup with "
            "'midst-desktop restore FILE' or move the file away to start afresh"
        )
    if "unable to open database file" in text or "readonly database" in text:
        return StoreError(f"cannot write the database: {text}")
    first_line = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return StoreError(f"database error: {first_line}")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Python 3.11's sqlite3 opens transactions behind our back (legacy mode),
        # which loses concurrent read-modify-write updates; we issue BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One store: an engine, how to read from it and how to write to it."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_engine(
                url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}
            )
            _configure_sqlite(self.engine)
            writer: Engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
            writer = self.engine
        self.write_engine = writer
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        database = make_url(self.url).database
        return Path(database) if database and database != ":memory:" else None

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; it never takes the write lock."""
        with self._translate(), self._reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction holds the write lock from its first statement.

        Commits on leaving the block, rolls back on an exception. Raises
        StoreFullError when the disk is full.
        """
        with self._translate(), self._writer() as session, session.begin():
            yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction, for bulk statements."""
        with self._translate(), self.write_engine.begin() as conn:
            yield conn

    @contextmanager
    def _translate(self) -> Iterator[None]:
        try:
            yield
        except exc.DBAPIError as error:
            if isinstance(error, exc.IntegrityError):
                raise
            raise describe_store_error(error) from error

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def pending_migrations(database: Database) -> bool:
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    return current != head


def backup_before_migration(database: Database) -> Path | None:
    """Copy the SQLite file aside before a migration changes it."""
    path = database.sqlite_path
    if path is None or not path.exists() or path.stat().st_size == 0:
        return None
    with database.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current is None:
        return None
    target = path.with_name(f"{path.stem}.before-{current}.db")
    if target.exists():
        target.unlink()
    vacuum_into(database, target)
    log.info("Backed up the store to %s before upgrading it", target)
    return target


def vacuum_into(database: Database, target: Path) -> None:
    """Write a consistent, compacted copy of the SQLite store to target."""
    raw = database.engine.raw_connection()
    try:
        # VACUUM cannot run inside a transaction; the driver is in autocommit mode.
        raw.driver_connection.execute("VACUUM INTO ?", (str(target),))  # type: ignore[union-attr]
    finally:
        raw.close()


def migrate(database: Database) -> None:
    """Bring the schema to the newest revision (alembic upgrade head)."""
    with database._translate(), database.write_engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")


def check_url(url: str) -> str:
    """The URL to open, when it names a SQLite file or a PostgreSQL database."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError:
        raise BadDatabaseUrlError(
            "cannot read the database URL; use sqlite:///FILE or "
            "postgresql+psycopg://USER@HOST/DATABASE"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise BadDatabaseUrlError(
            f"midst-desktop keeps its data in SQLite or PostgreSQL, not {backend}"
        )
    if backend == "sqlite" and parsed.database in {None, "", ":memory:"}:
        raise BadDatabaseUrlError("the SQLite URL names no file; use sqlite:///FILE")
    if backend == "postgresql" and "+" not in parsed.drivername:
        # psycopg (3) is the driver we ship; a bare postgresql:// means it.
        return parsed.set(drivername="postgresql+psycopg").render_as_string(
            hide_password=False
        )
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        raise BadDatabaseUrlError(
            "use the psycopg driver: postgresql+psycopg://USER@HOST/DATABASE"
        )
    return url


def open_database(url: str) -> Database:
    """Open the store in Vorta's order: open, back up, migrate.

    Raises StoreError with a one-line reason when the store cannot be used,
    BadDatabaseUrlError when the URL names no SQLite file or PostgreSQL server.
    """
    database = Database(check_url(url))
    try:
        if pending_migrations(database):
            backup_before_migration(database)
            migrate(database)
    except exc.DBAPIError as error:
        database.dispose()
        raise describe_store_error(error) from error
    except exc.ArgumentError as error:
        database.dispose()
        raise StoreError(f"bad database URL: {error}") from error
    return database
