"""The sync engine: full, incremental and folder runs of one integration.

A run merges the provider's listing, sorted by source id, with the stored
source files read in the same order, so memory stays flat however large the
tree is. Each batch writes its data and the run's counts in one transaction:
a run killed at any point is resumed by the next one with no duplicate and no
lost file.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, select

from midst_desktop import events
from midst_desktop.classify import calibration as calibration_tables
from midst_desktop.classify import names
from midst_desktop.classify.calibration import Calibration, calibrated
from midst_desktop.classify.extract.base import Extraction
from midst_desktop.classify.extract.isolation import Limits
from midst_desktop.classify.extract.runner import ContentExtractor
from midst_desktop.classify.files import MODEL_CEILING
from midst_desktop.classify.rules import (
    EXTENSION_TYPES,
    SNIFF_BYTES,
    Classification,
    classify,
)
from midst_desktop.config import Settings
from midst_desktop.store.db import Database, StoreError
from midst_desktop.store.models import (
    SQLITE_DATETIME_FORMAT,
    ArtifactStatus,
    ClassifiedBy,
    Integration,
    IntegrationStatus,
    Run,
    RunKind,
    RunStatus,
    RunTrigger,
    SkipReason,
    new_id,
    utcnow,
)
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.locks import sync_lock
from midst_desktop.sync.providers.base import (
    AuthExpiredError,
    ContentUnavailableError,
    CursorInvalidError,
    ListedFile,
    Provider,
    ProviderError,
    Scope,
)

if TYPE_CHECKING:
    from midst_desktop.classify.model import LearnedModel

log = logging.getLogger(__name__)

# Most files fit in one read; a larger buffer only costs an allocation per file.
HASH_CHUNK = 64 * 1024
STORED_ROWS_PAGE = 5000
# Source ids per IN (...) lookup, well under SQLite's variable limit.
LOOKUP_CHUNK = 500
# Rows per INSERT on SQLite: up to this many variables a statement, under the
# oldest limit of the SQLite builds Python 3.11 ships with (32,766 since 3.32).
SQLITE_VARIABLES_PER_STATEMENT = 30_000
ROWS_PER_STATEMENT = 1000
# A batch is written after this long even when it has fewer files than
# batch_size, so that stop() and the run's progress never wait for long on
# slow reads or extractions.
BATCH_SECONDS = 2.0
RUN_WORDS = {
    RunKind.FULL: "Full import",
    RunKind.INCREMENTAL: "Incremental sync",
    RunKind.FOLDER: "Folder sync",
}


class SyncRefusedError(RuntimeError):
    """The integration cannot be synced now; the message says what to do."""


class SyncCancelledError(RuntimeError):
    """The run stopped between two batches because stop() was called."""


@dataclass
class RunCounts:
    listed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class StoredFile(NamedTuple):
    """A source file as the store has it, as far as comparing needs."""

    id: int
    source_id: str
    version: str | None
    artifact_id: str | None
    skip_reason: str | None
    vanished: bool
    # Read for the change feeds only (stored_by_ids), where a file may have
    # been renamed or moved with its content unchanged.
    name: str | None = None
    content_hash: str | None = None
    mime_type: str | None = None


class MoveCandidate(NamedTuple):
    """A vanished file with an artifact, and a present file it may have become."""

    old_file_id: int
    artifact_id: str
    new_file_id: int
    new_source_id: str
    new_path: str
    new_name: str
    new_size: int
    new_modified: Any
    new_hash: str | None
    new_artifact_id: str | None
    new_artifact_created: Any
    old_vanished_at: Any
    old_artifact_created: Any
    # Nobody reviewed, retyped or retitled the vanished file's artifact.
    old_untouched: bool


@dataclass
class Batch:
    """Writes gathered for one transaction."""

    new_artifacts: list[tuple[Any, ...]] = field(default_factory=list)
    new_texts: list[tuple[Any, ...]] = field(default_factory=list)
    new_files: list[tuple[Any, ...]] = field(default_factory=list)
    changed_files: list[tuple[Any, ...]] = field(default_factory=list)
    changed_artifacts: list[tuple[Any, ...]] = field(default_factory=list)
    reclassified: list[tuple[Any, ...]] = field(default_factory=list)
    refreshed: list[tuple[Any, ...]] = field(default_factory=list)
    refreshed_texts: list[tuple[Any, ...]] = field(default_factory=list)
    retitled: list[tuple[Any, ...]] = field(default_factory=list)
    renamed: list[tuple[Any, ...]] = field(default_factory=list)
    renamed_texts: list[tuple[Any, ...]] = field(default_factory=list)
    reappeared: list[tuple[Any, ...]] = field(default_factory=list)
    vanished_files: list[tuple[Any, ...]] = field(default_factory=list)
    vanished_artifacts: list[tuple[Any, ...]] = field(default_factory=list)
    dropped_files: list[tuple[Any, ...]] = field(default_factory=list)
    seen: list[tuple[Any, ...]] = field(default_factory=list)
    # (integration id, folder, digest or None to forget it)
    summaries: list[tuple[int, str, str | None]] = field(default_factory=list)
    cursor: str | None = None
    size: int = 0
    started: float = field(default_factory=time.monotonic)


class BatchWriter:
    """Writes a run's batches on a thread of its own, one at a time, in order.

    Building a batch (listing, reading, hashing, classifying) is Python work;
    writing one is mostly SQLite's, which runs with the GIL released. Writing
    the last batch while the next is built lets a full sync use both cores of
    a small machine. One batch at most is being written while the next is
    built, so memory holds two batches, never more.
    """

    def __init__(self, write: Callable[[Batch, RunCounts], None]) -> None:
        self._write = write
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def submit(self, batch: Batch, counts: RunCounts) -> None:
        """Write `batch` with the counts as they are now, once the last is written.

        Raises what writing the last batch raised.
        """
        self.wait()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="midst-batch-writer")
        self._pending = self._pool.submit(self._write, batch, replace(counts))

    def wait(self) -> None:
        """Block until the batch in hand is written; raises what writing raised."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def abandon(self) -> None:
        """Wait for the batch in hand while a run fails; its own error is logged."""
        try:
            self.wait()
        except Exception as error:  # the run's own error is the one raised
            log.warning("A batch of the failing run was not written: %s", error)

    def close(self) -> None:
        self.abandon()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def sha256_and_head(stream: Any, limit: int) -> tuple[str, bytes]:
    """Hash a stream up to limit bytes; also return its first bytes for sniffing."""
    digest = hashlib.sha256()
    head = b""
    total = 0
    while total <= limit:
        chunk = stream.read(HASH_CHUNK)
        if not chunk:
            break
        if not head:
            head = chunk[:SNIFF_BYTES]
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), head


def title_from_name(name: str) -> str:
    stem = names.stem(name) or name
    return stem.replace("_", " ").strip() or name


class SyncEngine:
    """Runs syncs of integrations against their providers."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        provider_for: Callable[[Integration], Provider],
    ) -> None:
        self.database = database
        self.settings = settings
        self.provider_for = provider_for
        self._sql = _Statements(database.is_sqlite)
        # Set by stop(); runs end after the batch in hand, recorded as cancelled.
        self.stopping = threading.Event()
        # Each run (one per thread) has its own extraction worker.
        self._runs = threading.local()
        self._classifier_guard = threading.Lock()
        self._classifier_cache: tuple[tuple[Any, ...], _Classifier] | None = None

    def stop(self) -> None:
        """Ask every run of this engine to stop after its current batch."""
        self.stopping.set()

    # -- the public entry point -------------------------------------------

    def sync(
        self,
        integration_id: int,
        kind: str = RunKind.INCREMENTAL,
        trigger: str = RunTrigger.MANUAL,
        folder: str | None = None,
        paths: Iterable[str] | None = None,
    ) -> Run:
        """Sync one integration and return its finished run.

        Blocks until done. Raises SyncBusyError when another process is
        syncing it, SyncRefusedError when it needs the person first, and
        ProviderError or StoreError when the run failed (the run is recorded).
        """
        with self.database.read() as session:
            integration = session.get(Integration, integration_id)
            if integration is None:
                raise SyncRefusedError(f"there is no integration {integration_id}")
            session.expunge(integration)
        if integration.status == IntegrationStatus.NEEDS_REAUTH:
            raise SyncRefusedError(
                f"integration {integration_id} needs to be reconnected first: "
                f"midst-desktop integrations reconnect {integration_id}"
            )
        provider = self.provider_for(integration)
        config = FolderConfig.from_json(integration.folder_config)

        if kind == RunKind.INCREMENTAL and integration.cursor is None and paths is None:
            log.info(
                "No change token yet for integration_id=%s; running a full import",
                integration_id,
            )
            kind = RunKind.FULL
        if kind == RunKind.FOLDER:
            if not folder:
                raise SyncRefusedError("a folder sync needs --folder PATH")
            scopes = [self._folder_scope(integration, provider, folder)]
        elif paths is not None:
            scopes = _scopes_for_paths(provider, paths)
        else:
            scopes = [Scope()]

        self._runs.extractor = self._new_extractor()
        try:
            with sync_lock(self.database, integration_id):
                self._close_interrupted_runs(integration_id)
                run_id = self._start_run(integration_id, kind, trigger, folder)
                return self._run(integration, provider, config, kind, scopes, run_id)
        finally:
            provider.close()
            if self._runs.extractor is not None:
                self._runs.extractor.close()
            self._runs.extractor = None

    def _new_extractor(self) -> ContentExtractor | None:
        if not self.settings.extract_content:
            return None
        limits = Limits(
            timeout_seconds=self.settings.extract_timeout_seconds,
            memory_mb=self.settings.extract_memory_mb,
        )
        return ContentExtractor(self.settings.cache_dir, limits)

    def _context(
        self, integration: Integration, provider: Provider, config: FolderConfig
    ) -> _Context:
        extractor = getattr(self._runs, "extractor", None)
        return _Context(
            integration,
            provider,
            config,
            self._sql.time,
            extractor,
            self._classifier(),
        )

    def _classifier(self) -> _Classifier:
        """The person's calibration table and learned model, as their files are.

        Read again only when one of the files changed (a refit after reviews);
        a sync never fits a model itself.
        """
        from midst_desktop.classify import model as learned

        data_dir = self.settings.data_dir
        paths = (
            calibration_tables.user_path(data_dir),
            learned.model_dir(data_dir) / learned.MODEL_FILE,
        )
        key = tuple(_stamp(path) for path in paths)
        with self._classifier_guard:
            if self._classifier_cache is None or self._classifier_cache[0] != key:
                table = calibration_tables.load(data_dir) if key[0] else None
                found = learned.load(data_dir) if key[1] else None
                self._classifier_cache = (key, _Classifier(table, found))
            return self._classifier_cache[1]

    def _folder_scope(
        self, integration: Integration, provider: Provider, folder: str
    ) -> Scope:
        """The scope of a folder the person named, relative to the source's root.

        A local folder may also be named by its absolute path. Raises
        SyncRefusedError for a folder outside the source, and for one that is
        neither there nor held files at the last sync.
        """
        named = folder.strip()
        root = integration.root_path if integration.provider == "local" else None
        if root and os.path.isabs(named):
            absolute = os.path.normpath(named)
            if os.path.commonpath([absolute, root]) == root:
                named = os.path.relpath(absolute, root)
        parts = [part for part in named.split("/") if part not in {"", "."}]
        if ".." in parts:
            raise SyncRefusedError(
                f"{folder} is outside integration {integration.id}'s folders"
            )
        scope = provider.scope_for_path("/".join(parts))
        if (
            root
            and scope.path
            and not os.path.lexists(os.path.join(root, scope.path))
            and next(self._stored_files(integration.id, scope), None) is None
        ):
            raise SyncRefusedError(
                f"there is no folder {folder} in integration {integration.id}"
            )
        return scope

    # -- one run ----------------------------------------------------------

    def _run(
        self,
        integration: Integration,
        provider: Provider,
        config: FolderConfig,
        kind: str,
        scopes: list[Scope],
        run_id: int,
    ) -> Run:
        word = RUN_WORDS.get(RunKind(kind), "Sync")
        log.info(
            "Starting %s for integration_id=%s, provider=%s",
            word.lower(),
            integration.id,
            integration.provider,
        )
        counts = RunCounts()
        started = utcnow()
        writer = BatchWriter(lambda batch, done: self._flush(batch, run_id, done))
        try:
            cursor: str | None = None
            if self._follows_change_feed(integration, provider, kind, scopes):
                try:
                    cursor = self._apply_changes(
                        integration, provider, config, run_id, counts
                    )
                except CursorInvalidError as error:
                    log.info(
                        "The change token of integration_id=%s is no longer valid "
                        "(%s); running a full import",
                        integration.id,
                        error,
                    )
                    kind = RunKind.FULL
                    word = RUN_WORDS[RunKind.FULL]
                    self._set_run_kind(run_id, kind)
            if cursor is None:
                cursor = provider.start_cursor()
                summaries = self._folder_summaries(
                    integration, provider, config, kind, scopes
                )
                if summaries is not None:
                    scopes = summaries.scopes
                # The scopes of watched paths share batches: a hundred changed
                # paths are one write, not a hundred.
                batch = Batch()
                try:
                    for scope in scopes:
                        batch = self._reconcile(
                            integration,
                            provider,
                            config,
                            scope,
                            run_id,
                            counts,
                            batch,
                            writer,
                        )
                    writer.submit(batch, counts)
                    writer.wait()
                finally:
                    # Whatever happened, no write is in flight once the run
                    # records how it ended.
                    writer.close()
                    provider.walked = None
                if summaries is not None:
                    self._keep_summaries(integration.id, summaries, counts)
            if provider.sorted_listing and self._moves_possible(
                integration.id, run_id, counts
            ):
                # Cloud ids survive renames and moves; paths as ids do not.
                self._match_moves(integration.id, run_id, started, counts)
        except (ProviderError, StoreError, OSError) as error:
            message = _one_line(str(error) or type(error).__name__)
            self._finish_run(integration.id, run_id, RunStatus.FAILED, counts, message)
            if isinstance(error, AuthExpiredError):
                self._needs_reauth(integration.id, message)
            log.error(
                "%s failed for integration_id=%s: %s", word, integration.id, message
            )
            raise
        except SyncCancelledError as error:
            self._finish_run(
                integration.id, run_id, RunStatus.CANCELLED, counts, str(error)
            )
            log.info(
                "%s cancelled for integration_id=%s after %d files; "
                "the next run resumes it",
                word,
                integration.id,
                counts.listed,
            )
            raise
        except BaseException as error:
            message = f"{type(error).__name__}: {error}"
            self._finish_run(integration.id, run_id, RunStatus.FAILED, counts, message)
            raise
        self._finish_run(
            integration.id,
            run_id,
            RunStatus.SUCCEEDED,
            counts,
            None,
            cursor=cursor,
            full=kind == RunKind.FULL,
        )
        if kind == RunKind.FULL:
            log.info(
                "Full import completed: %d files, %d artifacts created, %d skipped",
                counts.listed,
                counts.created,
                counts.skipped,
            )
        else:
            log.info(
                "%s completed: %d files, %d artifacts created, %d updated, "
                "%d removed, %d skipped",
                word,
                counts.listed,
                counts.created,
                counts.updated,
                counts.removed,
                counts.skipped,
            )
        with self.database.read() as session:
            run = session.get(Run, run_id)
            assert run is not None
            return run

    def _reconcile(
        self,
        integration: Integration,
        provider: Provider,
        config: FolderConfig,
        scope: Scope,
        run_id: int,
        counts: RunCounts,
        batch: Batch,
        writer: BatchWriter,
    ) -> Batch:
        """Merge the sorted listing with the stored files of one scope.

        Full batches go to `writer`; returns the batch in hand, not yet
        submitted, for the next scope.
        """
        if not provider.sorted_listing:
            self._reconcile_by_id(integration, provider, config, scope, run_id, counts)
            return batch
        stored_rows = self._stored_files(integration.id, scope)
        stored = next(stored_rows, None)
        context = self._context(integration, provider, config)
        for listed in provider.list_files(config, scope):
            counts.listed += 1
            while stored is not None and stored.source_id < listed.source_id:
                self._vanish(batch, stored, counts)
                stored = next(stored_rows, None)
            if stored is not None and stored.source_id == listed.source_id:
                if (
                    stored.version == listed.version
                    and stored.skip_reason is None
                    and not stored.vanished
                ):
                    # The common case of a rescan, decided here: unchanged.
                    counts.unchanged += 1
                else:
                    self._compare(batch, context, stored, listed, counts)
                stored = next(stored_rows, None)
            else:
                self._add(batch, context, listed, counts)
            if batch.size and self._batch_full(batch):
                self._take_digests(provider, batch, context)
                writer.submit(batch, counts)
                batch = Batch()
                if self.stopping.is_set():
                    raise SyncCancelledError("the agent is stopping")
        while stored is not None:
            self._vanish(batch, stored, counts)
            stored = next(stored_rows, None)
        self._take_digests(provider, batch, context)
        return batch

    # -- folder summaries -------------------------------------------------

    def _folder_summaries(
        self,
        integration: Integration,
        provider: Provider,
        config: FolderConfig,
        kind: str,
        scopes: list[Scope],
    ) -> _Summaries | None:
        """What a rescan of a whole local source needs to list, by folder digest.

        A full run lists everything and records the digests its walk made.
        An incremental run first walks every folder with a stat per file, the
        least a rescan can do, and lists only the folders whose digest is not
        the stored one, each with what lies below it; a run where nothing
        changed lists nothing and reads no stored file.
        """
        if not provider.summarises_folders or scopes != [Scope()]:
            return None
        if kind not in {RunKind.FULL, RunKind.INCREMENTAL}:
            return None
        provider.walked = {}
        if kind == RunKind.FULL:
            return _Summaries(scopes=scopes, incremental=False)
        found = provider.folder_digests(config)
        with self.database.engine.connect() as conn:
            stored: dict[str, str] = {
                folder: digest
                for folder, digest in conn.exec_driver_sql(
                    self._sql.stored_summaries, (integration.id,)
                )
            }
        changed = [
            folder
            for folder, digest in found.items()
            if digest is None or stored.get(folder) != digest
        ]
        return _Summaries(
            scopes=_scopes_for_paths(provider, changed) if changed else [],
            incremental=True,
            # Stored folders no longer there, or that could not be read now.
            gone=[folder for folder in stored if found.get(folder) is None],
        )

    def _keep_summaries(
        self, integration_id: int, summaries: _Summaries, counts: RunCounts
    ) -> None:
        """Count what an incremental run did not list; forget folders now gone.

        Called once every batch is written; the digests of the folders the
        run walked were written with its batches.
        """
        if not summaries.incremental:
            return
        sql = self._sql
        with self.database.engine.connect() as conn:
            row = conn.exec_driver_sql(sql.present_files, (integration_id,) * 3).one()
        present, skipped = int(row[0]), int(row[1] or 0)
        # What a listing of every file would have counted: the files of
        # unchanged folders are unchanged or still skipped.
        counts.listed = present
        counts.skipped = skipped
        listed_again = counts.created + counts.updated + skipped
        counts.unchanged = max(0, present - listed_again)
        if summaries.gone:
            with self.database.write_connection() as conn:
                conn.exec_driver_sql(
                    sql.forget_summary,
                    [(integration_id, folder) for folder in summaries.gone],
                )

    @staticmethod
    def _take_digests(provider: Provider, batch: Batch, context: _Context) -> None:
        """Move the digests of the folders walked so far into the batch.

        Every file of such a folder was listed before the walk left it, so
        it is in this batch or in one written before: a digest is committed
        with the last of its folder's files, never before them. A folder
        where a file could not be read gets none, so the next rescan lists
        it and tries that file again.
        """
        walked = provider.walked
        if not walked:
            return
        integration_id = context.integration.id
        unreadable = context.unreadable_folders
        batch.summaries.extend(
            (integration_id, folder, None if folder in unreadable else digest)
            for folder, digest in walked.items()
        )
        walked.clear()

    def _batch_full(self, batch: Batch) -> bool:
        if batch.size >= self.settings.batch_size:
            return True
        return time.monotonic() - batch.started > BATCH_SECONDS

    def _stored_files(self, integration_id: int, scope: Scope) -> Iterator[StoredFile]:
        """Stored files of a scope in source id order, read a page at a time."""
        bounds = scope.bounds()
        if bounds is not None:
            exact, low, high = bounds
            with self.database.engine.connect() as conn:
                row = conn.exec_driver_sql(
                    self._sql.stored_exact, (integration_id, exact)
                ).first()
            if row is not None:
                yield StoredFile(*row)
        else:
            low, high = "", None
        after: str | None = None
        while True:
            if after is None:
                sql = self._sql.stored_page(high, inclusive=True)
                args: tuple[Any, ...] = (integration_id, low)
            else:
                sql = self._sql.stored_page(high, inclusive=False)
                args = (integration_id, after)
            if high is not None:
                args = (*args, high)
            with self.database.engine.connect() as conn:
                # The driver's own tuples: a no-change sync reads every row.
                cursor = conn.connection.cursor()
                try:
                    cursor.execute(sql, (*args, STORED_ROWS_PAGE))
                    rows = cursor.fetchall()
                finally:
                    cursor.close()
            yield from itertools.starmap(StoredFile, rows)
            if len(rows) < STORED_ROWS_PAGE:
                return
            after = rows[-1][1]

    # -- cloud listings and change feeds ----------------------------------

    @staticmethod
    def _follows_change_feed(
        integration: Integration, provider: Provider, kind: str, scopes: list[Scope]
    ) -> bool:
        return (
            kind == RunKind.INCREMENTAL
            and provider.has_change_feed
            and integration.cursor is not None
            and all(scope.is_everything for scope in scopes)
        )

    def _reconcile_by_id(
        self,
        integration: Integration,
        provider: Provider,
        config: FolderConfig,
        scope: Scope,
        run_id: int,
        counts: RunCounts,
    ) -> None:
        """Match an unsorted listing page by page against the store by id.

        Every file listed is stamped with the run; what the run did not see
        is found by its stamp at the end, so memory holds one page only.
        """
        context = self._context(integration, provider, config)
        page: dict[str, ListedFile | None] = {}
        for listed in provider.list_files(config, scope):
            if listed.source_id not in page:
                counts.listed += 1
            page[listed.source_id] = listed
            if len(page) >= self.settings.batch_size:
                self._apply_page(context, page, run_id, counts, None)
                page = {}
                if self.stopping.is_set():
                    raise SyncCancelledError("the agent is stopping")
        self._apply_page(context, page, run_id, counts, None)
        self._vanish_unseen(integration.id, scope, run_id, counts)

    def _apply_changes(
        self,
        integration: Integration,
        provider: Provider,
        config: FolderConfig,
        run_id: int,
        counts: RunCounts,
    ) -> str:
        """Apply the change feed page by page; returns the cursor to keep.

        Each page's changes and its cursor commit in one transaction, so a
        run stopped half-way resumes from the last page applied.
        """
        assert integration.cursor is not None
        context = self._context(integration, provider, config)
        cursor = integration.cursor
        for change_page in provider.changes_since(cursor, config):
            changes: dict[str, ListedFile | None] = {}
            removed = [c.removed_path for c in change_page.changes if c.removed_path]
            for source_id in self._stored_ids_below(integration.id, removed):
                # A page's removals by path come first; its files after them win.
                changes[source_id] = None
            for change in change_page.changes:
                if change.removed_path is not None:
                    continue
                # The feed may name a file twice; its last state is the one.
                changes[change.source_id] = change.listed
            counts.listed += sum(1 for c in changes.values() if c is not None)
            self._apply_page(context, changes, run_id, counts, change_page.cursor)
            cursor = change_page.cursor
            if self.stopping.is_set():
                raise SyncCancelledError("the agent is stopping")
        return cursor

    def _apply_page(
        self,
        context: _Context,
        page: dict[str, ListedFile | None],
        run_id: int,
        counts: RunCounts,
        cursor: str | None,
    ) -> None:
        """Decide and write one page of files (None: the file left the source)."""
        if not page and cursor is None:
            return
        stored = self._stored_by_ids(context.integration.id, list(page))
        batch = Batch(cursor=cursor)
        for source_id, listed in page.items():
            row = stored.get(source_id)
            if listed is None:
                if row is not None:
                    self._vanish(batch, row, counts)
                continue
            batch.seen.append((run_id, context.integration.id, source_id))
            if row is None:
                self._add(batch, context, listed, counts)
            else:
                self._compare(batch, context, row, listed, counts)
        self._flush(batch, run_id, counts)

    def _stored_ids_below(self, integration_id: int, paths: list[str]) -> list[str]:
        """Source ids of the stored files at or below any of the paths.

        For feeds that report deletions by path only (Dropbox). Paths compare
        case-insensitively, here rather than in SQL: SQLite's lower() folds
        ASCII only.
        """
        if not paths:
            return []
        wanted = [path.rstrip("/").lower() for path in paths]
        sql = self._sql._placeholders(
            "SELECT id, source_id, path FROM source_files WHERE integration_id = ? "
            "AND vanished_at IS NULL AND id > ? ORDER BY id LIMIT ?"
        )
        found: list[str] = []
        after = 0
        while True:
            with self.database.engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    sql, (integration_id, after, STORED_ROWS_PAGE)
                ).all()
            for _, source_id, stored_path in rows:
                path = stored_path.rstrip("/").lower()
                if any(path == w or path.startswith(w + "/") for w in wanted):
                    found.append(source_id)
            if len(rows) < STORED_ROWS_PAGE:
                return found
            after = rows[-1][0]

    def _stored_by_ids(
        self, integration_id: int, source_ids: list[str]
    ) -> dict[str, StoredFile]:
        found: dict[str, StoredFile] = {}
        with self.database.engine.connect() as conn:
            for start in range(0, len(source_ids), LOOKUP_CHUNK):
                chunk = source_ids[start : start + LOOKUP_CHUNK]
                for row in conn.exec_driver_sql(
                    self._sql.stored_by_ids(len(chunk)), (integration_id, *chunk)
                ):
                    found[row[1]] = StoredFile(*row)
        return found

    def _vanish_unseen(
        self, integration_id: int, scope: Scope, run_id: int, counts: RunCounts
    ) -> None:
        """Mark the files of the scope that this run did not list as gone."""
        prefix = None if scope.path is None else "/" + scope.path.strip("/")
        after = 0
        while True:
            with self.database.engine.connect() as conn:
                rows = conn.exec_driver_sql(
                    self._sql.unseen_page,
                    (integration_id, run_id, after, STORED_ROWS_PAGE),
                ).all()
            batch = Batch()
            for row in rows:
                path = row[6]
                if prefix is None or path == prefix or path.startswith(prefix + "/"):
                    self._vanish(batch, StoredFile(*row[:6]), counts)
            self._flush(batch, run_id, counts)
            if len(rows) < STORED_ROWS_PAGE:
                return
            after = rows[-1][0]

    def _set_run_kind(self, run_id: int, kind: str) -> None:
        with self.database.write() as session:
            run = session.get(Run, run_id)
            assert run is not None
            run.kind = kind

    def _needs_reauth(self, integration_id: int, message: str) -> None:
        """The provider refused the credentials for good: ask the person."""
        try:
            with self.database.write() as session:
                integration = session.get(Integration, integration_id)
                assert integration is not None
                integration.status = IntegrationStatus.NEEDS_REAUTH
                integration.last_error = message
        except StoreError as error:
            log.error(
                "Could not record that integration %s needs reconnecting: %s",
                integration_id,
                error,
            )
            return
        log.warning(
            "Integration integration_id=%s needs to be reconnected: %s",
            integration_id,
            message,
        )

    # -- deciding per file ------------------------------------------------

    def _add(
        self, batch: Batch, context: _Context, listed: ListedFile, counts: RunCounts
    ) -> None:
        batch.size += 1
        reason, content_hash, verdict = context.examine(listed)
        modified = context.time(listed.modified_ns)
        if reason is not None:
            counts.skipped += 1
            if reason == SkipReason.UNREADABLE:
                log.warning("Skipping file: %s is unreadable", listed.path)
                context.note_unreadable(listed)
            batch.new_files.append(
                context.file_row(listed, modified, None, None, None, reason)
            )
            return
        assert verdict is not None
        counts.created += 1
        artifact_id = new_id()
        now = context.time_now
        content = _stored_content(verdict, listed.name)
        captured = content.captured_ns
        title = content.title
        batch.new_artifacts.append(
            (
                artifact_id,
                context.integration.id,
                context.integration.provider,
                listed.source_id,
                listed.path,
                listed.name,
                title,
                verdict.mime_type,
                listed.size,
                content_hash,
                str(verdict.artifact_type),
                verdict.confidence,
                verdict.classified_by,
                ArtifactStatus.PENDING.value,
                True,
                context.time(captured) if captured else modified or now,
                modified,
                now,
                now,
                False,
                "[]",
                content.authors,
                content.keywords,
                content.metadata,
            )
        )
        batch.new_texts.append((artifact_id, title, content.text))
        batch.new_files.append(
            context.file_row(
                listed, modified, content_hash, verdict.mime_type, artifact_id, None
            )
        )

    def _compare(
        self,
        batch: Batch,
        context: _Context,
        stored: StoredFile,
        listed: ListedFile,
        counts: RunCounts,
    ) -> None:
        if (
            stored.version == listed.version
            and not stored.vanished
            and not context.skip_is_stale(stored, listed)
        ):
            if stored.skip_reason is not None and stored.artifact_id is None:
                counts.skipped += 1
            else:
                counts.unchanged += 1
            return
        batch.size += 1
        if stored.artifact_id is None:
            # A file without an artifact (skipped before) is looked at afresh.
            batch.dropped_files.append((stored.id,))
            self._add(batch, context, listed, counts)
            return
        if context.only_moved(stored, listed):
            self._move_in_place(batch, context, stored, listed, counts)
            return
        reason, content_hash, verdict = context.examine(listed)
        mime = verdict.mime_type if verdict is not None else listed.mime_type
        _change(batch, context, stored, listed, content_hash, mime, reason)
        if reason == SkipReason.UNREADABLE:
            context.note_unreadable(listed)
        if verdict is not None:
            batch.reclassified.append(
                (
                    str(verdict.artifact_type),
                    verdict.confidence,
                    verdict.mime_type,
                    verdict.classified_by,
                    stored.artifact_id,
                )
            )
            content = _stored_content(verdict, listed.name)
            batch.refreshed.append(
                (
                    content.authors,
                    content.keywords,
                    content.metadata,
                    content.title,
                    stored.artifact_id,
                )
            )
            batch.refreshed_texts.append((content.text, stored.artifact_id))
            batch.retitled.append((content.title, stored.artifact_id))
        counts.updated += 1

    def _move_in_place(
        self,
        batch: Batch,
        context: _Context,
        stored: StoredFile,
        listed: ListedFile,
        counts: RunCounts,
    ) -> None:
        """A file renamed or moved, its content the same: new path, same verdict.

        Nothing is downloaded or classified again. A title that was the old
        name's follows the new name, unless the person edited it.
        """
        assert stored.artifact_id is not None
        _change(
            batch, context, stored, listed, stored.content_hash, stored.mime_type, None
        )
        if stored.name is not None and stored.name != listed.name:
            old, new = title_from_name(stored.name), title_from_name(listed.name)
            batch.renamed.append((new, stored.artifact_id, old))
            batch.renamed_texts.append((new, stored.artifact_id, old))
        counts.updated += 1

    def _vanish(self, batch: Batch, stored: StoredFile, counts: RunCounts) -> None:
        if stored.vanished:
            return
        batch.size += 1
        if stored.artifact_id is None:
            batch.dropped_files.append((stored.id,))
            return
        counts.removed += 1
        now = self._sql.time(None)
        batch.vanished_files.append((now, stored.id))
        batch.vanished_artifacts.append((now, stored.artifact_id))

    # -- writing ----------------------------------------------------------

    def _flush(self, batch: Batch, run_id: int, counts: RunCounts) -> None:
        sql = self._sql
        with self.database.write_connection() as conn:
            if batch.dropped_files:
                conn.exec_driver_sql(sql.drop_file, batch.dropped_files)
            self._insert_rows(conn, "artifacts", ARTIFACT_COLUMNS, batch.new_artifacts)
            self._insert_rows(conn, "artifact_texts", TEXT_COLUMNS, batch.new_texts)
            self._insert_rows(conn, "source_files", FILE_COLUMNS, batch.new_files)
            for statement, rows in (
                (sql.update_file, batch.changed_files),
                (sql.update_artifact, batch.changed_artifacts),
                (sql.reclassify_artifact, batch.reclassified),
                (sql.refresh_content, batch.refreshed),
                (sql.refresh_text, batch.refreshed_texts),
                (sql.retitle_text, batch.retitled),
                (sql.rename_title, batch.renamed),
                (sql.rename_text_title, batch.renamed_texts),
                (sql.vanish_file, batch.vanished_files),
                (sql.vanish_artifact, batch.vanished_artifacts),
                (sql.mark_seen, batch.seen),
            ):
                if rows:
                    conn.exec_driver_sql(statement, rows)
            kept = [row for row in batch.summaries if row[2] is not None]
            if kept:
                conn.exec_driver_sql(sql.keep_summary, kept)
            forgotten = [row[:2] for row in batch.summaries if row[2] is None]
            if forgotten:
                conn.exec_driver_sql(sql.forget_summary, forgotten)
            if batch.cursor is not None:
                conn.exec_driver_sql(sql.save_cursor, (batch.cursor, run_id))
            _save_counts(conn, sql, run_id, counts)

    def _insert_rows(
        self, conn: Connection, table: str, columns: str, rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert rows into a table, many rows to a statement on SQLite.

        A statement binds all its rows at once and then runs with the GIL
        released; executemany takes the GIL back for every row, which the
        batch writer's thread would have to wait for while the next batch is
        built. SQLite's full-text index also writes what it gathered at the
        end of every statement: one statement per row made a segment per
        artifact and merged them over and over.
        """
        if not rows:
            return
        if not self.database.is_sqlite:
            conn.exec_driver_sql(self._sql.insert(table, columns, 1), rows)
            return
        width = len(rows[0])
        per_statement = min(ROWS_PER_STATEMENT, SQLITE_VARIABLES_PER_STATEMENT // width)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = tuple(itertools.chain.from_iterable(chunk))
            conn.exec_driver_sql(self._sql.insert(table, columns, len(chunk)), values)

    def _moves_possible(
        self, integration_id: int, run_id: int, counts: RunCounts
    ) -> bool:
        """Whether matching renames can find anything new at the end of this run.

        Its queries start from the index of vanished source files and cost
        little, but a run that added, changed and removed nothing after a
        sync run that finished would only find what that run's own matching
        already settled. After an interrupted run it always looks.
        """
        if counts.created or counts.updated or counts.removed:
            return True
        with self.database.read() as session:
            previous = session.scalars(
                select(Run.status)
                .where(
                    Run.integration_id == integration_id,
                    Run.id < run_id,
                    Run.kind.in_(list(RUN_WORDS)),
                )
                .order_by(Run.id.desc())
                .limit(1)
            ).first()
        return previous != RunStatus.SUCCEEDED

    def _match_moves(
        self, integration_id: int, run_id: int, started: datetime, counts: RunCounts
    ) -> None:
        """Give a vanished file's artifact to the new file it became.

        Matched by (device, inode, size, mtime) first and by content hash
        second; only a new artifact nobody has reviewed is replaced. A run
        cut off between two renames of a file leaves it stored at several
        stages (a, then b, now c): the artifact someone decided on wins c,
        and the untouched artifacts of the other stages are dropped with it.
        """
        sql = self._sql
        used_new: set[int] = set()
        used_old: set[int] = set()
        pairs: list[MoveCandidate] = []
        stages: dict[int, list[MoveCandidate]] = {}
        with self.database.engine.connect() as conn:
            for same_inode, statement in (
                (True, sql.moves_by_fingerprint),
                (False, sql.moves_by_hash),
            ):
                candidates = [
                    MoveCandidate(*row)
                    for row in conn.exec_driver_sql(
                        statement, (integration_id, False, False)
                    )
                ]
                candidates.sort(key=lambda c: (bool(c.old_untouched), c.old_file_id))
                for candidate in candidates:
                    if candidate.old_file_id in used_old:
                        continue
                    if candidate.new_file_id in used_new:
                        if same_inode and candidate.old_untouched:
                            used_old.add(candidate.old_file_id)
                            stages.setdefault(candidate.new_file_id, []).append(
                                candidate
                            )
                        continue
                    used_old.add(candidate.old_file_id)
                    used_new.add(candidate.new_file_id)
                    pairs.append(candidate)
        if not pairs:
            return
        started_value = sql.time_of(started)
        for start in range(0, len(pairs), self.settings.batch_size):
            chunk = pairs[start : start + self.settings.batch_size]
            chunk_stages = [
                stage for pair in chunk for stage in stages.get(pair.new_file_id, [])
            ]
            # A move, and the stages it makes redundant, commit together.
            with self.database.write_connection() as conn:
                self._apply_moves(conn, chunk, chunk_stages, started_value, counts)
                _save_counts(conn, sql, run_id, counts)

    def _apply_moves(
        self,
        conn: Connection,
        pairs: list[MoveCandidate],
        stages: list[MoveCandidate],
        started: Any,
        counts: RunCounts,
    ) -> None:
        pairs, stages = self._still_untouched(conn, pairs, stages)
        if not pairs:
            return
        sql = self._sql
        dropped: list[tuple[str]] = []
        for pair in pairs:
            if pair.new_artifact_id is not None:
                dropped.append((pair.new_artifact_id,))
                if _not_before(pair.new_artifact_created, started):
                    counts.created -= 1
            if _not_before(pair.old_vanished_at, started):
                counts.removed -= 1
            counts.updated += 1
        for stage in stages:
            dropped.append((stage.artifact_id,))
            if _not_before(stage.old_artifact_created, started):
                counts.created -= 1
            if _not_before(stage.old_vanished_at, started):
                counts.removed -= 1
        if dropped:
            conn.exec_driver_sql(sql.delete_artifact, dropped)
        conn.exec_driver_sql(
            sql.delete_file, [(row.old_file_id,) for row in (*pairs, *stages)]
        )
        now = sql.time(None)
        titles = [title_from_name(pair.new_name) for pair in pairs]
        conn.exec_driver_sql(
            sql.move_artifact,
            [
                (
                    pair.new_source_id,
                    pair.new_path,
                    pair.new_name,
                    title,
                    pair.new_size,
                    pair.new_modified,
                    pair.new_hash,
                    now,
                    pair.artifact_id,
                )
                for pair, title in zip(pairs, titles, strict=True)
            ],
        )
        conn.exec_driver_sql(
            sql.retitle_text,
            [
                (title, pair.artifact_id)
                for pair, title in zip(pairs, titles, strict=True)
            ],
        )
        conn.exec_driver_sql(
            sql.link_file, [(pair.artifact_id, pair.new_file_id) for pair in pairs]
        )
        for pair in pairs:
            log.info(
                "Kept artifact_id=%s for moved file %s", pair.artifact_id, pair.new_path
            )

    def _still_untouched(
        self,
        conn: Connection,
        pairs: list[MoveCandidate],
        stages: list[MoveCandidate],
    ) -> tuple[list[MoveCandidate], list[MoveCandidate]]:
        """Leave out the moves that would drop an artifact someone just reviewed.

        The person may approve or edit the new file's artifact between the
        reading of the candidates and this transaction; a decision is never
        dropped. The rows stay locked (PostgreSQL; SQLite holds the whole
        store) until the moves commit.
        """
        ids = [p.new_artifact_id for p in pairs if p.new_artifact_id is not None]
        ids += [stage.artifact_id for stage in stages]
        touched: set[str] = set()
        for start in range(0, len(ids), LOOKUP_CHUNK):
            chunk = ids[start : start + LOOKUP_CHUNK]
            statement = self._sql.untouched_artifacts(len(chunk))
            for artifact_id, untouched in conn.exec_driver_sql(statement, tuple(chunk)):
                if not untouched:
                    touched.add(artifact_id)
        if not touched:
            return pairs, stages
        pairs = [p for p in pairs if p.new_artifact_id not in touched]
        winners = {pair.new_file_id for pair in pairs}
        stages = [
            stage
            for stage in stages
            if stage.artifact_id not in touched and stage.new_file_id in winners
        ]
        return pairs, stages

    # -- runs -------------------------------------------------------------

    def _close_interrupted_runs(self, integration_id: int) -> None:
        """Runs still 'running' while we hold the lock were killed mid-way."""
        with self.database.write() as session:
            for run in session.scalars(
                select(Run).where(
                    Run.integration_id == integration_id,
                    Run.status == RunStatus.RUNNING,
                )
            ):
                run.status = RunStatus.FAILED
                run.finished_at = utcnow()
                run.error_message = "interrupted: the process stopped during the run"

    def _start_run(
        self, integration_id: int, kind: str, trigger: str, folder: str | None
    ) -> int:
        with self.database.write() as session:
            run = Run(
                integration_id=integration_id,
                kind=kind,
                trigger=trigger,
                status=RunStatus.RUNNING,
                folder=folder,
                started_at=utcnow(),
            )
            session.add(run)
            session.flush()
            return run.id

    def _finish_run(
        self,
        integration_id: int,
        run_id: int,
        status: str,
        counts: RunCounts,
        error_message: str | None,
        cursor: str | None = None,
        full: bool = False,
    ) -> None:
        now = utcnow()
        try:
            with self.database.write() as session:
                run = session.get(Run, run_id)
                integration = session.get(Integration, integration_id)
                assert run is not None and integration is not None
                run.status = status
                run.finished_at = now
                run.error_message = error_message
                for name, value in counts.as_dict().items():
                    setattr(run, name, value)
                if status == RunStatus.SUCCEEDED:
                    integration.last_synced_at = now
                    integration.last_error = None
                    if integration.status == IntegrationStatus.ERROR:
                        integration.status = IntegrationStatus.ACTIVE
                    if cursor is not None:
                        integration.cursor = cursor
                    if full:
                        integration.last_full_sync_at = now
                else:
                    integration.last_error = error_message
        except StoreError as error:
            # The disk may be full: the run stays 'running' and the next run
            # records it as interrupted.
            log.error("Could not record the end of run %s: %s", run_id, error)


def _change(
    batch: Batch,
    context: _Context,
    stored: StoredFile,
    listed: ListedFile,
    content_hash: str | None,
    mime: str | None,
    reason: str | None,
) -> None:
    """The rows that give a stored file and its artifact the file's new listing."""
    modified = context.time(listed.modified_ns)
    batch.changed_files.append(
        (
            listed.path,
            listed.name,
            listed.size,
            modified,
            listed.version,
            listed.fingerprint,
            content_hash,
            mime,
            reason,
            stored.id,
        )
    )
    batch.changed_artifacts.append(
        (
            listed.path,
            listed.name,
            listed.size,
            content_hash,
            modified,
            context.time_now,
            stored.artifact_id,
        )
    )


def _save_counts(
    conn: Connection, sql: _Statements, run_id: int, counts: RunCounts
) -> None:
    conn.exec_driver_sql(sql.save_counts, (*counts.as_dict().values(), run_id))


def _not_before(value: Any, started: Any) -> bool:
    return value is not None and value >= started


def _scopes_for_paths(provider: Provider, paths: Iterable[str]) -> list[Scope]:
    """One scope per changed path, leaving out paths inside another one."""
    wanted = sorted({p.strip("/") for p in paths}, key=lambda p: p + "/")
    scopes: list[Scope] = []
    for path in wanted:
        if not path:
            return [Scope()]
        if scopes and scopes[-1].path and path.startswith(scopes[-1].path + "/"):
            continue
        scopes.append(provider.scope_for_path(path))
    return scopes


@dataclass
class _Summaries:
    """What folder digests decided for a rescan: the scopes left to list and,
    for an incremental run, the stored folders its first walk did not find
    or could not read."""

    scopes: list[Scope]
    incremental: bool
    gone: list[str] = field(default_factory=list)


@dataclass
class _Context:
    """What deciding about one file needs from its integration."""

    integration: Integration
    provider: Provider
    config: FolderConfig
    time: Callable[[int | None], Any]
    extractor: ContentExtractor | None = None
    classifier: _Classifier = field(default_factory=lambda: _Classifier(None, None))
    # Folders holding a file this run recorded as unreadable: they keep no
    # digest.
    unreadable_folders: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.time_now = self.time(None)

    def note_unreadable(self, listed: ListedFile) -> None:
        """Keep the file's folder from a digest (a folder skipped whole has
        none already)."""
        if not listed.source_id.endswith("/"):
            self.unreadable_folders.add(listed.source_id.rpartition("/")[0])

    def skip_is_stale(self, stored: StoredFile, listed: ListedFile) -> bool:
        """Whether a skipped file deserves another look though it did not change.

        An unreadable file may have been given permission since; an excluded
        or too large one may be welcome under a changed folder config.
        """
        if stored.skip_reason is None or stored.artifact_id is not None:
            return False
        if listed.skip_reason is not None:
            return listed.skip_reason != stored.skip_reason
        if stored.skip_reason == SkipReason.UNREADABLE:
            return True
        if stored.skip_reason == SkipReason.UNSUPPORTED:
            return not self.config.allowed_mime_types
        return self.config.skip_reason(listed.rel_path, listed.size, None) != (
            stored.skip_reason
        )

    def only_moved(self, stored: StoredFile, listed: ListedFile) -> bool:
        """Whether a changed file kept its content and kind: a rename or move.

        Only a provider's own content hash tells (Drive's SHA-256, Dropbox's
        content hash); a local file's path is its id, so a local move is
        matched after the run instead.
        """
        return (
            listed.content_hash is not None
            and listed.content_hash == stored.content_hash
            and stored.name is not None
            and listed.export_extension is None
            and listed.skip_reason is None
            and stored.skip_reason is None
            and names.suffix(listed.name).lower() == names.suffix(stored.name).lower()
            and self.config.skip_reason(listed.rel_path, listed.size, None) is None
        )

    def examine(
        self, listed: ListedFile
    ) -> tuple[str | None, str | None, Classification | None]:
        """Skip reason, content hash and classification of one listed file."""
        if listed.skip_reason is not None:
            return listed.skip_reason, None, None
        reason = self.config.skip_reason(listed.rel_path, listed.size, None)
        if reason is not None:
            return reason, None, None
        if not _content_needed(listed, self.extractor is not None):
            return self._classify_unread(listed)
        extraction = None
        try:
            with self.provider.open_content(listed) as stream:
                if self.extractor is None:
                    content_hash, head = sha256_and_head(
                        stream, self.config.max_file_size_bytes
                    )
                else:
                    read = self.extractor.read(
                        stream, _content_name(listed), self.config.max_file_size_bytes
                    )
                    content_hash, head, extraction = (
                        read.content_hash,
                        read.head,
                        read.extraction,
                    )
        except (ContentUnavailableError, OSError) as error:
            log.warning("Skipping file: %s (%s)", listed.path, _reason_text(error))
            return SkipReason.UNREADABLE, None, None
        # The provider's own hash (Dropbox's content_hash) stays the file's
        # hash whether or not classifying needed the bytes.
        kept_hash: str | None = listed.content_hash or content_hash
        if listed.export_extension is not None:
            # An export is made afresh each time: a native document has no hash.
            kept_hash = None
        if extraction is not None and extraction.failed:
            log.warning(
                "Skipping file: %s (extraction failed: %s)",
                listed.path,
                extraction.error,
            )
            return SkipReason.EXTRACT_FAILED, kept_hash, None
        if listed.export_extension in FORMAT_DECIDES:
            # A sheet's or a deck's text export says less than its format does;
            # the text is still kept for search.
            verdict = self.classifier.classify(
                _classified_name(listed), listed.rel_path, None, b""
            )
            verdict = replace(verdict, content=extraction)
        else:
            verdict = self.classifier.classify(
                _classified_name(listed),
                listed.rel_path,
                listed.mime_type,
                head,
                extraction,
            )
        if listed.export_extension and listed.mime_type:
            verdict = replace(verdict, mime_type=listed.mime_type)
        if self.config.allowed_mime_types and (
            verdict.mime_type not in self.config.allowed_mime_types
        ):
            return SkipReason.UNSUPPORTED, kept_hash, None
        return None, kept_hash, verdict

    def _classify_unread(
        self, listed: ListedFile
    ) -> tuple[str | None, str | None, Classification | None]:
        """Classify from the listing alone: the provider gave what bytes would."""
        name = listed.name
        if listed.export_extension:
            name = f"{name}.{listed.export_extension}"
        verdict = self.classifier.classify(name, listed.rel_path, listed.mime_type, b"")
        if listed.mime_type and listed.export_extension:
            verdict = replace(verdict, mime_type=listed.mime_type)
        if self.config.allowed_mime_types and (
            verdict.mime_type not in self.config.allowed_mime_types
        ):
            return SkipReason.UNSUPPORTED, listed.content_hash, None
        return None, listed.content_hash, verdict

    def file_row(
        self,
        listed: ListedFile,
        modified: Any,
        content_hash: str | None,
        mime: str | None,
        artifact_id: str | None,
        reason: str | None,
    ) -> tuple[Any, ...]:
        return (
            self.integration.id,
            listed.source_id,
            listed.path,
            listed.name,
            listed.size,
            modified,
            listed.version,
            listed.fingerprint,
            content_hash,
            mime,
            artifact_id,
            reason,
        )


@dataclass(frozen=True)
class _Classifier:
    """The rules, calibrated by the person's table or else the shipped one,
    then the person's learned model where there is one: what `decide` does,
    with the shipped table's plain verdicts cached for a sync's many files.
    """

    calibration: Calibration | None
    model: LearnedModel | None

    def classify(
        self,
        name: str,
        rel_path: str,
        mime_type: str | None,
        head: bytes,
        extraction: Extraction | None = None,
    ) -> Classification:
        """The calibrated verdict; its time is reported for the metrics."""
        started = time.perf_counter()
        verdict = classify(name, rel_path, mime_type, head, extraction)
        if self.calibration is not None:
            confidence = self.calibration(verdict.rule, verdict.confidence)
            verdict = replace(verdict, confidence=confidence)
        elif verdict.content is None:
            verdict = _calibrated_plain(verdict)
        else:
            verdict = calibrated(verdict)
        if self.model is not None and verdict.confidence < MODEL_CEILING:
            verdict = self._ask_model(verdict, name, rel_path, extraction)
        events.classified(time.perf_counter() - started)
        return verdict

    def _ask_model(
        self,
        verdict: Classification,
        name: str,
        rel_path: str,
        extraction: Extraction | None,
    ) -> Classification:
        from midst_desktop.classify.model import document_of

        assert self.model is not None
        text = extraction.text if extraction is not None else ""
        metadata = extraction.metadata_json() if extraction is not None else {}
        predicted, probability = self.model.predict(
            document_of(name, rel_path, verdict.mime_type, text, metadata)
        )
        if predicted == verdict.artifact_type or probability <= verdict.confidence:
            return verdict
        return replace(
            verdict,
            artifact_type=predicted,
            confidence=probability,
            classified_by=ClassifiedBy.MODEL.value,
            reason=f"learned from your reviews (rules said {verdict.artifact_type})",
        )


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells a changed file: its modification time and size; None if absent."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


@functools.lru_cache(maxsize=4096)
def _calibrated_plain(verdict: Classification) -> Classification:
    """calibrated() of a verdict without extracted content; few are distinct."""
    return calibrated(verdict)


# Native documents whose format, not their exported text, says what they are.
FORMAT_DECIDES = frozenset({"xlsx", "pptx", "svg"})


def _classified_name(listed: ListedFile) -> str:
    """A native document is classified as the format it stands for (docx...)."""
    if listed.export_extension:
        return f"{listed.name}.{listed.export_extension}"
    return listed.name


def _content_name(listed: ListedFile) -> str:
    """The name extraction reads the bytes as: a native document's export is text."""
    if listed.export_extension:
        export = "svg" if listed.export_extension == "svg" else "txt"
        return f"{listed.name}.{export}"
    return listed.name


def _content_needed(listed: ListedFile, extracting: bool) -> bool:
    """Whether classifying the file needs its bytes.

    Not when the provider gave a SHA-256 and the name's extension already
    decides the format (unless an extractor reads that format), nor for a
    native document (its export is text that only extraction reads).
    """
    if listed.export_extension is not None:
        # Its text export is what extraction reads; the listing decides the rest.
        return extracting
    if listed.content_hash is None:
        return True
    if extracting and ContentExtractor.wants(listed.name, b"") is not None:
        return True
    extension = names.suffix(listed.name).lower().lstrip(".")
    return extension not in EXTENSION_TYPES


@dataclass(frozen=True, slots=True)
class _StoredContent:
    """What an artifact row and its text row keep of a file's extraction."""

    title: str
    authors: str
    keywords: str
    metadata: str
    text: str
    captured_ns: int | None


def _stored_content(verdict: Classification, name: str) -> _StoredContent:
    """Title, JSON columns and text of an artifact from its classification."""
    extraction = verdict.content
    if extraction is None:
        metadata = _classification_json(
            verdict.rule, str(verdict.artifact_type), verdict.reason
        )
        return _StoredContent(title_from_name(name), "[]", "[]", metadata, "", None)
    meta = extraction.metadata_json()
    meta["classification"] = _classification_meta(
        verdict.rule, str(verdict.artifact_type), verdict.reason
    )
    captured = extraction.captured
    return _StoredContent(
        title=extraction.title or title_from_name(name),
        authors=json.dumps(extraction.authors),
        keywords=json.dumps(extraction.keywords),
        metadata=json.dumps(meta),
        text=extraction.text,
        captured_ns=int(captured.timestamp() * 1e9) if captured else None,
    )


def _classification_meta(rule: str, artifact_type: str, reason: str) -> dict[str, str]:
    # Which rule decided and why: the review pane shows the reason.
    return {"rule": rule, "artifact_type": artifact_type, "reason": reason}


@functools.lru_cache(maxsize=4096)
def _classification_json(rule: str, artifact_type: str, reason: str) -> str:
    """The metadata of an artifact with nothing extracted: its verdict only."""
    return json.dumps(
        {"classification": _classification_meta(rule, artifact_type, reason)}
    )


def _one_line(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0] if lines else message


def _reason_text(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error)


ARTIFACT_COLUMNS = (
    "id, integration_id, source_provider, source_id, source_path, name, title, "
    "mime_type, size_bytes, content_hash, artifact_type, confidence, classified_by, "
    "status, source_available, captured_date, modified_at, created_at, updated_at, "
    "title_edited, tags, authors, keywords, metadata"
)
TEXT_COLUMNS = "artifact_id, title, body"
SUMMARY_COLUMNS = "integration_id, folder, digest"
FILE_COLUMNS = (
    "integration_id, source_id, path, name, size, modified_at, version, fingerprint, "
    "content_hash, mime_type, artifact_id, skip_reason"
)
MOVE_SELECT = (
    "SELECT old.id, old.artifact_id, new.id, new.source_id, new.path, new.name, "
    "new.size, new.modified_at, new.content_hash, new.artifact_id, na.created_at, "
    "old.vanished_at, oa.created_at, "
    "(oa.status = 'pending' AND oa.reviewed_at IS NULL "
    "AND oa.classified_by <> 'user' AND oa.title_edited = FALSE) "
    "FROM source_files old "
    "JOIN artifacts oa ON oa.id = old.artifact_id "
    "JOIN source_files new ON new.integration_id = old.integration_id "
    "AND new.id <> old.id AND {match} "
    "LEFT JOIN artifacts na ON na.id = new.artifact_id "
    "WHERE old.integration_id = ? AND old.vanished_at IS NOT NULL "
    "AND new.vanished_at IS NULL AND new.skip_reason IS NULL "
    "AND oa.source_available = ? "
    "AND (na.id IS NULL OR (na.status = 'pending' AND na.reviewed_at IS NULL "
    "AND na.classified_by <> 'user' AND na.title_edited = ?)) "
    "ORDER BY old.id"
)


class _Statements:
    """The engine's SQL, with the driver's placeholders and datetime format."""

    def __init__(self, sqlite: bool) -> None:
        self.sqlite = sqlite
        count_columns = ", ".join(f"{name} = ?" for name in RunCounts().as_dict())
        statements = {
            "stored_exact": (
                "SELECT id, source_id, version, artifact_id, skip_reason, "
                "vanished_at IS NOT NULL FROM source_files "
                "WHERE integration_id = ? AND source_id = ?"
            ),
            "update_file": (
                "UPDATE source_files SET path = ?, name = ?, size = ?, "
                "modified_at = ?, version = ?, fingerprint = ?, content_hash = ?, "
                "mime_type = ?, "
                "skip_reason = ?, vanished_at = NULL WHERE id = ?"
            ),
            "update_artifact": (
                "UPDATE artifacts SET source_path = ?, name = ?, size_bytes = ?, "
                "content_hash = ?, modified_at = ?, updated_at = ?, "
                "source_available = TRUE WHERE id = ?"
            ),
            "refresh_content": (
                "UPDATE artifacts SET authors = ?, keywords = ?, metadata = ?, "
                "title = CASE WHEN title_edited THEN title ELSE ? END "
                "WHERE id = ?"
            ),
            "refresh_text": "UPDATE artifact_texts SET body = ? WHERE artifact_id = ?",
            "reclassify_artifact": (
                "UPDATE artifacts SET artifact_type = ?, confidence = ?, "
                "mime_type = ?, classified_by = ? "
                "WHERE id = ? AND classified_by <> 'user'"
            ),
            "vanish_file": "UPDATE source_files SET vanished_at = ? WHERE id = ?",
            "vanish_artifact": (
                "UPDATE artifacts SET source_available = FALSE, updated_at = ? "
                "WHERE id = ?"
            ),
            "drop_file": "DELETE FROM source_files WHERE id = ?",
            "delete_file": "DELETE FROM source_files WHERE id = ?",
            "delete_artifact": "DELETE FROM artifacts WHERE id = ?",
            "move_artifact": (
                "UPDATE artifacts SET source_id = ?, source_path = ?, name = ?, "
                "title = CASE WHEN title_edited THEN title ELSE ? END, "
                "size_bytes = ?, modified_at = ?, content_hash = ?, updated_at = ?, "
                "source_available = TRUE WHERE id = ?"
            ),
            "retitle_text": (
                "UPDATE artifact_texts SET title = ? WHERE artifact_id = ? AND "
                "EXISTS (SELECT 1 FROM artifacts a "
                "WHERE a.id = artifact_texts.artifact_id AND a.title_edited = FALSE)"
            ),
            "link_file": "UPDATE source_files SET artifact_id = ? WHERE id = ?",
            # A title still the one the old name gave follows the new name.
            "rename_title": (
                "UPDATE artifacts SET title = ? WHERE id = ? AND title = ? "
                "AND title_edited = FALSE"
            ),
            "rename_text_title": (
                "UPDATE artifact_texts SET title = ? WHERE artifact_id = ? "
                "AND title = ? AND EXISTS (SELECT 1 FROM artifacts a "
                "WHERE a.id = artifact_texts.artifact_id AND a.title_edited = FALSE)"
            ),
            "moves_by_fingerprint": MOVE_SELECT.format(
                match="new.fingerprint = old.fingerprint"
            ),
            "moves_by_hash": MOVE_SELECT.format(
                match="new.content_hash = old.content_hash AND new.size = old.size"
            ),
            "save_counts": f"UPDATE runs SET {count_columns} WHERE id = ?",
            "mark_seen": (
                "UPDATE source_files SET seen_run = ? "
                "WHERE integration_id = ? AND source_id = ?"
            ),
            "save_cursor": (
                "UPDATE integrations SET cursor = ? "
                "WHERE id = (SELECT integration_id FROM runs WHERE id = ?)"
            ),
            "stored_summaries": (
                "SELECT folder, digest FROM folder_summaries WHERE integration_id = ?"
            ),
            "forget_summary": (
                "DELETE FROM folder_summaries WHERE integration_id = ? AND folder = ?"
            ),
            "keep_summary": (
                "INSERT INTO folder_summaries (integration_id, folder, digest) "
                "VALUES (?, ?, ?) ON CONFLICT (integration_id, folder) "
                "DO UPDATE SET digest = excluded.digest"
            ),
            # Three counts that indexes answer (the file key, the vanished
            # and the skipped files), rather than one that reads every row.
            "present_files": (
                "SELECT (SELECT COUNT(*) FROM source_files WHERE integration_id = ?)"
                " - (SELECT COUNT(*) FROM source_files WHERE integration_id = ? "
                "AND vanished_at IS NOT NULL), "
                "(SELECT COUNT(*) FROM source_files WHERE integration_id = ? "
                "AND skip_reason IS NOT NULL AND artifact_id IS NULL "
                "AND vanished_at IS NULL)"
            ),
            "unseen_page": (
                "SELECT id, source_id, version, artifact_id, skip_reason, "
                "vanished_at IS NOT NULL, path FROM source_files "
                "WHERE integration_id = ? AND (seen_run IS NULL OR seen_run <> ?) "
                "AND vanished_at IS NULL AND id > ? ORDER BY id LIMIT ?"
            ),
        }
        for name, statement in statements.items():
            setattr(self, name, self._placeholders(statement))

    # Attributes set above, declared for the type checker.
    stored_exact: str
    update_file: str
    update_artifact: str
    reclassify_artifact: str
    refresh_content: str
    refresh_text: str
    vanish_file: str
    vanish_artifact: str
    drop_file: str
    delete_file: str
    delete_artifact: str
    move_artifact: str
    retitle_text: str
    link_file: str
    rename_title: str
    rename_text_title: str
    moves_by_fingerprint: str
    moves_by_hash: str
    save_counts: str
    mark_seen: str
    save_cursor: str
    unseen_page: str
    stored_summaries: str
    forget_summary: str
    keep_summary: str
    present_files: str

    def untouched_artifacts(self, count: int) -> str:
        marks = ", ".join("?" * count)
        lock = "" if self.sqlite else " FOR UPDATE"
        return self._placeholders(
            "SELECT id, (status = 'pending' AND reviewed_at IS NULL "
            "AND classified_by <> 'user' AND title_edited = FALSE) "
            f"FROM artifacts WHERE id IN ({marks}){lock}"
        )

    @functools.lru_cache(maxsize=32)  # noqa: B019 (one instance per engine)
    def insert(self, table: str, columns: str, count: int) -> str:
        """An INSERT of `count` rows of `columns` into `table`."""
        row = "(" + ", ".join("?" * len(columns.split(","))) + ")"
        rows = ", ".join([row] * count)
        return self._placeholders(f"INSERT INTO {table} ({columns}) VALUES {rows}")

    def stored_by_ids(self, count: int) -> str:
        marks = ", ".join("?" * count)
        return self._placeholders(
            "SELECT id, source_id, version, artifact_id, skip_reason, "
            "vanished_at IS NOT NULL, name, content_hash, mime_type FROM source_files "
            f"WHERE integration_id = ? AND source_id IN ({marks})"
        )

    def _placeholders(self, statement: str) -> str:
        return statement if self.sqlite else statement.replace("?", "%s")

    def stored_page(self, high: str | None, inclusive: bool) -> str:
        comparison = ">=" if inclusive else ">"
        upper = " AND source_id < ?" if high is not None else ""
        statement = (
            "SELECT id, source_id, version, artifact_id, skip_reason, "
            "vanished_at IS NOT NULL FROM source_files "
            f"WHERE integration_id = ? AND source_id {comparison} ?{upper} "
            "ORDER BY source_id LIMIT ?"
        )
        return self._placeholders(statement)

    def time(self, nanoseconds: int | None) -> Any:
        """A database value for a file time in ns, or for now when None."""
        if nanoseconds is None:
            moment = datetime.now(UTC)
        else:
            moment = datetime.fromtimestamp(nanoseconds / 1e9, UTC)
        return self.time_of(moment)

    def time_of(self, moment: datetime) -> Any:
        naive = moment.astimezone(UTC).replace(tzinfo=None)
        return naive.strftime(SQLITE_DATETIME_FORMAT) if self.sqlite else naive
