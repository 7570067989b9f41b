"""Dropbox syncs through the engine: the real SDK, the emulator and the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from midst_desktop.config import Settings, load_settings
from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    ArtifactStatus,
    Integration,
    IntegrationStatus,
    RunKind,
    SourceFile,
)
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import AuthExpiredError
from midst_desktop.sync.providers.dropbox import (
    ACCESS_TOKENS,
    DropboxProvider,
    RetryPolicy,
)
from tests.emulators.dropbox import DropboxEmulator
from tests.support import samples


@pytest.fixture
def emu() -> Iterator[DropboxEmulator]:
    with DropboxEmulator() as running:
        running.set_retry_after(0)
        yield running


@pytest.fixture
def dbx_settings(emu: DropboxEmulator, settings: Settings) -> Settings:
    return load_settings(
        data_dir=str(settings.data_dir),
        database_url=settings.database_url,
        environ=emu.environment(),
    )


class Dropbox:
    """An integration connected to the emulator, and the engine that syncs it."""

    def __init__(
        self, emu: DropboxEmulator, database: Database, settings: Settings
    ) -> None:
        self.emu = emu
        self.database = database
        self.credentials = OAuthCredentials(emu.issue_refresh_token(), emu.app_key)
        self.engine = SyncEngine(database, settings, self._provider)
        self.settings = settings
        self.integration_id = 0

    def _provider(self, integration: Integration) -> DropboxProvider:
        return DropboxProvider(
            self.credentials, self.settings, RetryPolicy(base_seconds=0.01)
        )

    def connect(self, **config: object) -> Dropbox:
        folder_config = FolderConfig(**config).to_json()  # type: ignore[arg-type]
        with self.database.write() as session:
            integration = Integration(
                provider="dropbox",
                display_name="Dropbox",
                account_label=self.emu.email,
                folder_config=folder_config,
            )
            session.add(integration)
            session.flush()
            self.integration_id = integration.id
        return self

    def sync(self, kind: str = RunKind.INCREMENTAL):  # type: ignore[no-untyped-def]
        return self.engine.sync(self.integration_id, kind)

    def artifacts(self) -> dict[str, Artifact]:
        with self.database.read() as session:
            rows = session.scalars(
                select(Artifact).where(Artifact.integration_id == self.integration_id)
            ).all()
        found: dict[str, Artifact] = {}
        for artifact in rows:
            assert artifact.source_id not in found, "duplicate artifact"
            found[artifact.source_id] = artifact
        return found

    def available_paths(self) -> set[str]:
        return {a.source_path for a in self.artifacts().values() if a.source_available}

    def set_status(self, source_id: str, status: str) -> str:
        with self.database.write() as session:
            artifact = session.scalars(
                select(Artifact).where(Artifact.source_id == source_id)
            ).one()
            artifact.status = status
            return artifact.id

    def integration(self) -> Integration:
        with self.database.read() as session:
            found = session.get(Integration, self.integration_id)
            assert found is not None
            session.expunge(found)
            return found


@pytest.fixture
def box(emu, database, dbx_settings) -> Callable[..., Dropbox]:
    def make(**config: object) -> Dropbox:
        return Dropbox(emu, database, dbx_settings).connect(**config)

    return make


def test_full_then_incremental_follow_edits_moves_and_deletes(emu, box) -> None:
    thesis = emu.add_file("/Papers/thesis.pdf", samples.pdf([["A thesis"]]))
    notes = emu.add_file("/Papers/2024/notes.md", b"# notes")
    draft = emu.add_file("/Papers/old/draft.txt", b"draft")
    emu.add_file("/Photos/cat.jpg", b"\xff\xd8\xff\xe0 cat")
    dropbox = box(included_folders=["/Papers"])

    full = dropbox.sync(RunKind.FULL)

    assert full.created == 3
    assert set(dropbox.artifacts()) == {thesis, notes, draft}
    approved = dropbox.set_status(thesis, ArtifactStatus.APPROVED)

    emu.move("/Papers/thesis.pdf", "/Papers/Final/Thesis (final).pdf")
    emu.delete("/Papers/old")
    emu.edit_file("/Papers/2024/notes.md", b"# notes, longer")
    added = emu.add_file("/Papers/2024/poem.txt", b"a poem")
    run = dropbox.sync()

    assert run.kind == RunKind.INCREMENTAL
    artifacts = dropbox.artifacts()
    assert set(artifacts) == {thesis, notes, draft, added}
    assert artifacts[thesis].id == approved
    assert artifacts[thesis].status == ArtifactStatus.APPROVED
    assert artifacts[thesis].source_path == "/Papers/Final/Thesis (final).pdf"
    assert artifacts[thesis].source_available
    assert not artifacts[draft].source_available
    assert artifacts[notes].size_bytes == len(b"# notes, longer")
    assert dropbox.available_paths() == {
        "/Papers/Final/Thesis (final).pdf",
        "/Papers/2024/notes.md",
        "/Papers/2024/poem.txt",
    }

    emu.clear_records()
    quiet = dropbox.sync()
    assert (quiet.created, quiet.updated, quiet.removed) == (0, 0, 0)
    assert [r.route for r in emu.records()] == ["files/list_folder/continue"]


def test_a_moved_file_with_the_same_content_is_not_downloaded_again(emu, box) -> None:
    thesis = emu.add_file("/Papers/thesis.pdf", samples.pdf([["A thesis"]]))
    kept = emu.add_file("/Papers/chapter.pdf", samples.pdf([["A chapter"]]))
    dropbox = box()
    dropbox.sync(RunKind.FULL)
    before = dropbox.artifacts()
    with dropbox.database.write() as session:
        edited = session.get(Artifact, before[kept].id)
        assert edited is not None
        edited.title, edited.title_edited = "My chapter", True

    emu.move("/Papers/thesis.pdf", "/Final/Thesis final.pdf")
    emu.move("/Papers/chapter.pdf", "/Final/chapter-2.pdf")
    emu.clear_records()
    run = dropbox.sync()

    assert run.updated == 2
    assert "files/download" not in [r.route for r in emu.records()]
    after = dropbox.artifacts()
    moved = after[thesis]
    assert moved.id == before[thesis].id
    assert moved.source_path == "/Final/Thesis final.pdf"
    assert (moved.artifact_type, moved.confidence, moved.mime_type) == (
        before[thesis].artifact_type,
        before[thesis].confidence,
        before[thesis].mime_type,
    )
    # A title the old name gave follows the new name; one the person set stays.
    assert moved.title == "Thesis final"
    assert after[kept].title == "My chapter"
    with dropbox.database.read() as session:
        assert session.scalars(
            select(SourceFile.content_hash).where(SourceFile.source_id == thesis)
        ).one() == (before[thesis].content_hash)


def test_a_folder_sync_matches_the_folder_whatever_the_case_typed(emu, box) -> None:
    kept = emu.add_file("/Papers/2024/kept.txt", b"kept")
    gone = emu.add_file("/Papers/2024/gone.txt", b"gone")
    other = emu.add_file("/Papers/2023/other.txt", b"other")
    dropbox = box()
    dropbox.sync(RunKind.FULL)
    emu.delete("/Papers/2024/gone.txt")
    emu.delete("/Papers/2023/other.txt")

    run = dropbox.engine.sync(
        dropbox.integration_id, RunKind.FOLDER, folder="papers/2024"
    )

    assert run.status == "succeeded"
    artifacts = dropbox.artifacts()
    assert artifacts[kept].source_available
    assert not artifacts[gone].source_available
    # Outside the folder nothing was looked at.
    assert artifacts[other].source_available


def test_a_file_moved_out_and_back_keeps_its_artifact(emu, box) -> None:
    essay = emu.add_file("/Writing/essay.txt", b"essay")
    dropbox = box(included_folders=["/Writing"])
    dropbox.sync(RunKind.FULL)
    kept = dropbox.set_status(essay, ArtifactStatus.REJECTED)

    emu.move("/Writing/essay.txt", "/Private/essay.txt")
    dropbox.sync()
    assert not dropbox.artifacts()[essay].source_available

    emu.move("/Private/essay.txt", "/Writing/Back/essay.txt")
    dropbox.sync()
    artifact = dropbox.artifacts()[essay]
    assert artifact.source_available
    assert (artifact.id, artifact.status) == (kept, ArtifactStatus.REJECTED)
    assert artifact.source_path == "/Writing/Back/essay.txt"


def test_a_cursor_reset_relists_without_duplicates_or_lost_decisions(
    emu, box, database
) -> None:
    kept = emu.add_file("/Docs/kept.txt", b"kept")
    gone = emu.add_file("/Docs/gone.txt", b"gone")
    dropbox = box()
    dropbox.sync(RunKind.FULL)
    decision = dropbox.set_status(kept, ArtifactStatus.APPROVED)

    emu.reset_cursors()
    emu.delete("/Docs/gone.txt")
    fresh = emu.add_file("/Docs/fresh.txt", b"fresh")
    emu.move("/Docs/kept.txt", "/Docs/Moved/kept.txt")
    run = dropbox.sync()

    assert run.kind == RunKind.FULL
    artifacts = dropbox.artifacts()
    assert set(artifacts) == {kept, gone, fresh}
    assert artifacts[kept].id == decision
    assert artifacts[kept].status == ArtifactStatus.APPROVED
    assert artifacts[kept].source_path == "/Docs/Moved/kept.txt"
    assert not artifacts[gone].source_available
    with database.read() as session:
        files = session.scalar(
            select(func.count())
            .select_from(SourceFile)
            .where(SourceFile.integration_id == dropbox.integration_id)
        )
    assert files == 3
    # The cursor taken by the full run works for the next incremental one.
    emu.add_file("/Docs/later.txt", b"later")
    assert dropbox.sync().kind == RunKind.INCREMENTAL
    assert len(dropbox.artifacts()) == 4


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_random_faults_on_a_tenth_of_requests_give_exactly_the_right_artifacts(
    emu, box
) -> None:
    expected: dict[str, str] = {}
    for n in range(120):
        path = f"/Work/Project {n % 6}/file {n}.{('txt', 'bin', 'md')[n % 3]}"
        expected[emu.add_file(path, b"content %d" % n)] = path
    dropbox = box()
    emu.fail_randomly(0.10, seed=7)

    dropbox.sync(RunKind.FULL)
    for source_id in list(expected)[::10]:
        new_path = f"/Work/Renamed/{source_id[3:]}.txt"
        emu.move(expected[source_id], new_path)
        expected[source_id] = new_path
    for n in range(120, 140):
        path = f"/Work/New/file {n}.txt"
        expected[emu.add_file(path, b"new %d" % n)] = path
    dropbox.sync()
    dropbox.sync()

    artifacts = dropbox.artifacts()
    assert {i: a.source_path for i, a in artifacts.items()} == expected
    assert all(a.source_available for a in artifacts.values())
    assert sum(emu.faults_served().values()) >= 5


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_revoked_grant_needs_reauth_and_keeps_everything(emu, box) -> None:
    emu.add_file("/a.txt", b"a")
    dropbox = box()
    dropbox.sync(RunKind.FULL)
    cursor = dropbox.integration().cursor

    emu.revoke_all()
    ACCESS_TOKENS.forget(dropbox.credentials)
    with pytest.raises(AuthExpiredError):
        dropbox.sync()

    integration = dropbox.integration()
    assert integration.status == IntegrationStatus.NEEDS_REAUTH
    assert "refused the authorization" in (integration.last_error or "")
    assert integration.cursor == cursor
    assert len(dropbox.artifacts()) == 1
