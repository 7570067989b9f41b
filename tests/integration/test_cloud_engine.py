"""The engine with a provider whose listing is not in id order and has a change feed.

The provider here is a small in-memory drive, so that the engine's own rules
(page-wise matching, run stamps, cursors per page, re-auth) are what is tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from io import BytesIO
from typing import BinaryIO

import pytest
from sqlalchemy import select

from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Integration, IntegrationStatus, Run
from midst_desktop.sync.engine import SyncEngine, SyncRefusedError
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import (
    AuthExpiredError,
    Change,
    ChangePage,
    CursorInvalidError,
    ListedFile,
    Provider,
    Scope,
)
from tests.support.store import artifacts_by_source, counts


class MemoryDrive(Provider):
    """Files by id, listed newest first; changes kept as a journal."""

    kind = "memory"
    sorted_listing = False
    has_change_feed = True

    def __init__(self) -> None:
        self.files: dict[str, tuple[str, str, bytes]] = {}
        self.journal: list[str] = []
        self.fail_auth = False
        self.cursor_invalid = False
        self.downloads: list[str] = []
        self.change_pages: list[str] = []

    def put(self, source_id: str, path: str, content: bytes = b"text") -> None:
        version = str(len(self.journal) + 1)
        self.files[source_id] = (path, version, content)
        self.journal.append(source_id)

    def delete(self, source_id: str) -> None:
        del self.files[source_id]
        self.journal.append(source_id)

    def listed(self, source_id: str) -> ListedFile:
        path, version, content = self.files[source_id]
        return ListedFile(
            source_id=source_id,
            rel_path=path,
            path=path,
            name=path.rsplit("/", 1)[-1],
            size=len(content),
            modified_ns=1_700_000_000 * 10**9,
            version=version,
        )

    def _check(self) -> None:
        if self.fail_auth:
            raise AuthExpiredError("the refresh token was revoked (invalid_grant)")

    def start_cursor(self) -> str:
        self._check()
        return str(len(self.journal))

    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        self._check()
        for source_id in sorted(self.files, reverse=True):
            yield self.listed(source_id)

    def open_content(self, listed: ListedFile) -> AbstractContextManager[BinaryIO]:
        self.downloads.append(listed.source_id)

        @contextmanager
        def stream() -> Iterator[BinaryIO]:
            yield BytesIO(self.files[listed.source_id][2])

        return stream()

    def changes_since(self, cursor: str, config: FolderConfig) -> Iterator[ChangePage]:
        self._check()
        if self.cursor_invalid:
            raise CursorInvalidError("the page token is no longer valid")
        position = int(cursor)
        while position < len(self.journal):
            end = min(position + 2, len(self.journal))
            changes = [
                Change(i, self.listed(i) if i in self.files else None)
                for i in self.journal[position:end]
            ]
            self.change_pages.append(str(end))
            yield ChangePage(changes, str(end))
            position = end


def add_cloud(database: Database, name: str) -> int:
    with database.write() as session:
        integration = Integration(
            provider="google_drive",
            display_name=name,
            folder_config=FolderConfig().to_json(),
        )
        session.add(integration)
        session.flush()
        return integration.id


@pytest.fixture
def drives() -> dict[int, MemoryDrive]:
    return {}


@pytest.fixture
def sync_engine(
    database: Database, settings: Settings, drives: dict[int, MemoryDrive]
) -> SyncEngine:
    return SyncEngine(database, settings, lambda i: drives[i.id])


def integration(database: Database, integration_id: int) -> Integration:
    with database.read() as session:
        found = session.get(Integration, integration_id)
        assert found is not None
        session.expunge(found)
        return found


def test_full_sync_matches_an_unsorted_listing_by_id_across_pages(
    database: Database, sync_engine: SyncEngine, drives: dict[int, MemoryDrive]
) -> None:
    drive = drives[add_cloud(database, "drive")] = MemoryDrive()
    for number in range(7):
        drive.put(f"id{number}", f"/Papers/paper {number}.pdf")
    sync_engine.settings = sync_engine.settings.__class__(
        **{**sync_engine.settings.__dict__, "batch_size": 3}
    )

    first = sync_engine.sync(1, "full")
    drive.delete("id2")
    drive.put("id5", "/Papers/renamed.pdf")
    second = sync_engine.sync(1, "full")

    assert counts(first)["created"] == 7
    assert counts(second) == {
        "listed": 6,
        "created": 0,
        "updated": 1,
        "unchanged": 5,
        "skipped": 0,
        "removed": 1,
    }
    artifacts = artifacts_by_source(database)
    assert len(artifacts) == 7
    assert artifacts["id2"].source_available is False
    assert artifacts["id5"].name == "renamed.pdf"


def test_a_known_checksum_and_format_spare_the_download(
    database: Database, sync_engine: SyncEngine, drives: dict[int, MemoryDrive]
) -> None:
    drive = drives[add_cloud(database, "drive")] = MemoryDrive()
    drive.put("known", "/talk.key")
    drive.put("unknown", "/notes")
    original = drive.listed

    def with_checksum(source_id: str) -> ListedFile:
        listed = original(source_id)
        if source_id == "unknown":
            return listed
        return ListedFile(**{**_fields(listed), "content_hash": "ab" * 32})

    drive.listed = with_checksum  # type: ignore[method-assign]
    sync_engine.sync(1, "full")

    assert drive.downloads == ["unknown"]
    assert artifacts_by_source(database)["known"].content_hash == "ab" * 32


def _fields(listed: ListedFile) -> dict[str, object]:
    return {name: getattr(listed, name) for name in listed.__slots__}


def test_incremental_applies_change_pages_and_keeps_each_pages_cursor(
    database: Database, sync_engine: SyncEngine, drives: dict[int, MemoryDrive]
) -> None:
    drive = drives[add_cloud(database, "drive")] = MemoryDrive()
    drive.put("a", "/a.txt")
    drive.put("b", "/b.txt")
    sync_engine.sync(1, "full")
    drive.put("c", "/c.txt")
    drive.delete("a")
    drive.put("b", "/moved/b.txt")
    drive.put("c", "/c.txt", b"edited")

    run = sync_engine.sync(1, "incremental")

    assert run.kind == "incremental"
    assert drive.change_pages == ["4", "6"]
    assert integration(database, 1).cursor == "6"
    artifacts = artifacts_by_source(database)
    assert artifacts["a"].source_available is False
    assert artifacts["b"].source_path == "/moved/b.txt"
    assert set(artifacts) == {"a", "b", "c"}
    assert counts(run)["created"] == 1
    assert counts(run)["removed"] == 1

    drive.change_pages.clear()
    quiet = sync_engine.sync(1, "incremental")
    assert drive.change_pages == []
    assert counts(quiet)["listed"] == 0


def test_an_invalid_cursor_falls_back_to_a_full_sync_without_duplicates(
    database: Database, sync_engine: SyncEngine, drives: dict[int, MemoryDrive]
) -> None:
    drive = drives[add_cloud(database, "drive")] = MemoryDrive()
    drive.put("a", "/a.txt")
    drive.put("b", "/b.txt")
    sync_engine.sync(1, "full")
    artifact = artifacts_by_source(database)["a"]
    with database.write() as session:
        queries.move_status(session, [artifact.id], "approved", None)
    drive.delete("b")
    drive.put("c", "/c.txt")
    drive.cursor_invalid = True

    run = sync_engine.sync(1, "incremental")

    assert run.kind == "full"
    artifacts = artifacts_by_source(database)
    assert sorted(artifacts) == ["a", "b", "c"]
    assert artifacts["a"].status == "approved"
    assert artifacts["b"].source_available is False
    assert integration(database, 1).cursor == str(len(drive.journal))


def test_a_revoked_token_sets_needs_reauth_and_other_integrations_keep_syncing(
    database: Database, sync_engine: SyncEngine, drives: dict[int, MemoryDrive]
) -> None:
    broken = drives[add_cloud(database, "broken")] = MemoryDrive()
    healthy = drives[add_cloud(database, "healthy")] = MemoryDrive()
    broken.put("x", "/x.txt")
    healthy.put("y", "/y.txt")
    sync_engine.sync(1, "full")
    cursor_before = integration(database, 1).cursor
    broken.fail_auth = True

    with pytest.raises(AuthExpiredError):
        sync_engine.sync(1, "incremental")
    healthy_run = sync_engine.sync(2, "full")

    state = integration(database, 1)
    assert state.status == IntegrationStatus.NEEDS_REAUTH
    assert state.last_error is not None and "\n" not in state.last_error
    assert "invalid_grant" in state.last_error
    assert state.cursor == cursor_before
    assert healthy_run.status == "succeeded"
    with pytest.raises(SyncRefusedError, match="reconnect"):
        sync_engine.sync(1, "incremental")
    with database.read() as session:
        assert len(session.scalars(select(Run)).all()) == 3
