"""Rescans of a local folder by folder digest, against SQLite and PostgreSQL.

The provider here is the real local provider; it only notes which scopes the
engine asked it to list, and, where a test says so, fails to read one file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import delete, select

from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.store.models import FolderSummary, Integration, RunKind
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import (
    ContentUnavailableError,
    ListedFile,
    Scope,
    SourceUnavailableError,
)
from midst_desktop.sync.providers.local import LocalProvider
from tests.support.store import (
    add_local,
    artifacts_by_source,
    counts,
    source_files,
    write,
)


class NotingProvider(LocalProvider):
    """The local provider, noting the scopes listed; `unreadable` ids fail to read."""

    def __init__(
        self, root: Path, unreadable: set[str], fail_after: int | None = None
    ) -> None:
        super().__init__(root)
        self.unreadable = unreadable
        self.fail_after = fail_after
        self.listed_scopes: list[str | None] = []

    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        self.listed_scopes.append(scope.path)
        for count, listed in enumerate(super().list_files(config, scope), 1):
            yield listed
            if self.fail_after is not None and count >= self.fail_after:
                raise SourceUnavailableError(f"cannot read the folder {self.root}")

    def open_content(self, listed: ListedFile) -> AbstractContextManager[BinaryIO]:
        if listed.source_id in self.unreadable:
            raise ContentUnavailableError(f"cannot read {listed.path}: I/O error")
        return super().open_content(listed)


class Syncer:
    """Runs syncs of one integration, each with a provider of its own."""

    def __init__(self, database: Database, settings: Settings, root: Path) -> None:
        self.root = root
        self.unreadable: set[str] = set()
        self.fail_after: int | None = None
        self.providers: list[NotingProvider] = []
        self.engine = SyncEngine(database, settings, self._provider)

    def _provider(self, _integration: Integration) -> NotingProvider:
        provider = NotingProvider(self.root, set(self.unreadable), self.fail_after)
        self.providers.append(provider)
        return provider

    def sync(self, integration_id: int, kind: str = RunKind.INCREMENTAL) -> object:
        return self.engine.sync(integration_id, kind)

    @property
    def last_scopes(self) -> list[str | None]:
        return self.providers[-1].listed_scopes

    def rescan_is_quiet(self, integration_id: int) -> bool:
        """Whether a rescan now lists nothing: the digests match the disk."""
        self.sync(integration_id)
        return self.last_scopes == []


# Every folder of the tree below, by its id.
TREE_FOLDERS = {"", "poems", "poems/spring", "data", "data/raw", "notes"}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "Documents"
    write(root / "poems" / "winter.md", "snow")
    write(root / "poems" / "spring" / "rain.md", "rain")
    write(root / "data" / "results.csv", "a,b\n1,2\n")
    write(root / "data" / "raw" / "one.csv", "x,y\n3,4\n")
    write(root / "notes" / "todo.txt", "call back")
    write(root / "notes" / "scratch.tmp", "scratch")
    write(root / "readme.md", "# Documents")
    return root


@pytest.fixture
def synced(database: Database, settings: Settings, tree: Path) -> tuple[int, Syncer]:
    """A local integration of the tree, synced once, and its syncer."""
    integration_id = add_local(database, tree)
    syncer = Syncer(database, settings, tree)
    syncer.sync(integration_id)
    return integration_id, syncer


def summaries(database: Database) -> dict[str, str]:
    with database.read() as session:
        return {s.folder: s.digest for s in session.scalars(select(FolderSummary))}


def forget_summaries(database: Database) -> None:
    with database.write() as session:
        session.execute(delete(FolderSummary))


def test_a_full_sync_keeps_a_digest_per_folder(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)

    Syncer(database, settings, tree).sync(integration_id, RunKind.FULL)

    assert set(summaries(database)) == TREE_FOLDERS


def test_a_rescan_with_nothing_changed_lists_nothing_and_counts_every_file(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree, excluded_patterns=("*.tmp",))
    syncer = Syncer(database, settings, tree)
    syncer.sync(integration_id)

    quiet = syncer.sync(integration_id)

    assert syncer.last_scopes == []
    # The same counts as a rescan that compares every stored file.
    forget_summaries(database)
    compared = syncer.sync(integration_id)
    assert syncer.last_scopes == [None]
    assert counts(quiet) == counts(compared)
    assert counts(quiet)["listed"] == 7
    assert counts(quiet)["skipped"] == 1
    assert counts(quiet)["unchanged"] == 6


def test_only_the_changed_folders_are_listed_and_their_changes_land(
    database: Database, tree: Path, synced: tuple[int, Syncer]
) -> None:
    integration_id, syncer = synced
    before = artifacts_by_source(database)

    write(tree / "poems" / "spring" / "rain.md", "rain, and then more rain")
    write(tree / "data" / "raw" / "two.csv", "x,y\n5,6\n")
    (tree / "notes" / "todo.txt").unlink()
    run = syncer.sync(integration_id)

    assert sorted(syncer.last_scopes, key=str) == ["data/raw", "notes", "poems/spring"]
    assert counts(run)["created"] == 1
    assert counts(run)["updated"] == 1
    assert counts(run)["removed"] == 1
    after = artifacts_by_source(database)
    assert "data/raw/two.csv" in after
    assert after["poems/spring/rain.md"].id == before["poems/spring/rain.md"].id
    assert after["poems/spring/rain.md"].content_hash != (
        before["poems/spring/rain.md"].content_hash
    )
    assert not after["notes/todo.txt"].source_available
    # The digests now describe the folders as they are.
    assert syncer.rescan_is_quiet(integration_id)


def test_an_edit_that_puts_back_size_and_time_is_still_noticed(
    database: Database, tree: Path, synced: tuple[int, Syncer]
) -> None:
    integration_id, syncer = synced
    winter = tree / "poems" / "winter.md"
    stamp = winter.stat()

    winter.write_text("sNoW")
    os.utime(winter, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    syncer.sync(integration_id)

    assert syncer.last_scopes == ["poems"]


def test_a_removed_or_renamed_folder_is_listed_from_its_parent(
    database: Database, tree: Path, synced: tuple[int, Syncer]
) -> None:
    integration_id, syncer = synced
    approved_id = artifacts_by_source(database)["data/raw/one.csv"].id

    (tree / "data" / "raw").rename(tree / "data" / "cooked")
    syncer.sync(integration_id)

    assert syncer.last_scopes == ["data"]
    artifacts = artifacts_by_source(database)
    assert "data/raw/one.csv" not in artifacts
    # Matched by inode after the run: the artifact moved with its file.
    assert artifacts["data/cooked/one.csv"].id == approved_id


def test_a_changed_folder_config_compares_every_file(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree, excluded_patterns=("*.tmp",))
    syncer = Syncer(database, settings, tree)
    syncer.sync(integration_id)
    assert source_files(database)["notes/scratch.tmp"].skip_reason == "excluded"

    with database.write() as session:
        integration = session.get(Integration, integration_id)
        assert integration is not None
        integration.folder_config = FolderConfig().to_json()
    run = syncer.sync(integration_id)

    assert syncer.last_scopes == [None]
    assert "notes/scratch.tmp" in artifacts_by_source(database)
    assert counts(run)["created"] == 1
    assert counts(run)["skipped"] == 0


def test_a_folder_with_a_file_that_could_not_be_read_is_listed_again(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    syncer = Syncer(database, settings, tree)
    syncer.unreadable = {"poems/spring/rain.md"}
    syncer.sync(integration_id)
    assert source_files(database)["poems/spring/rain.md"].skip_reason == "unreadable"
    assert "poems/spring" not in summaries(database)

    syncer.unreadable = set()
    syncer.sync(integration_id)

    assert syncer.last_scopes == ["poems/spring"]
    assert "poems/spring/rain.md" in artifacts_by_source(database)
    assert "poems/spring" in summaries(database)
    assert syncer.rescan_is_quiet(integration_id)


def test_a_folder_that_became_a_file_is_listed_from_its_parent(
    database: Database, tree: Path, synced: tuple[int, Syncer]
) -> None:
    integration_id, syncer = synced

    (tree / "data" / "raw" / "one.csv").unlink()
    (tree / "data" / "raw").rmdir()
    write(tree / "data" / "raw", "now a file")
    syncer.sync(integration_id)

    assert syncer.last_scopes == ["data"]
    assert source_files(database)["data/raw"].skip_reason is None
    assert not artifacts_by_source(database)["data/raw/one.csv"].source_available


def test_an_included_folder_that_is_gone_is_listed_and_its_files_marked_gone(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree, included_folders=("/poems", "/data"))
    syncer = Syncer(database, settings, tree)
    syncer.sync(integration_id)
    assert set(summaries(database)) == {"poems", "poems/spring", "data", "data/raw"}

    (tree / "poems" / "spring" / "rain.md").unlink()
    (tree / "poems" / "spring").rmdir()
    (tree / "poems" / "winter.md").unlink()
    (tree / "poems").rmdir()
    syncer.sync(integration_id)

    assert syncer.last_scopes == ["poems"]
    artifacts = artifacts_by_source(database)
    assert not artifacts["poems/winter.md"].source_available
    assert artifacts["data/results.csv"].source_available
    assert set(summaries(database)) == {"data", "data/raw"}


def test_a_run_cut_short_keeps_digests_only_of_folders_whose_files_it_stored(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    # Two files a batch, so that batches are written before the run fails.
    syncer = Syncer(database, replace(settings, batch_size=2), tree)
    syncer.fail_after = 4

    with pytest.raises(SourceUnavailableError):
        syncer.sync(integration_id, RunKind.FULL)

    kept = summaries(database)
    stored = set(source_files(database))
    assert kept and stored
    for folder in kept:
        here = tree / folder
        files = {
            f"{folder}/{p.name}" if folder else p.name
            for p in here.iterdir()
            if p.is_file()
        }
        assert files <= stored, folder
    assert "" not in kept  # the root was still open when the run failed

    syncer.fail_after = None
    syncer.sync(integration_id)
    on_disk = {p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file()}
    assert set(artifacts_by_source(database)) == on_disk
    assert set(summaries(database)) == TREE_FOLDERS
