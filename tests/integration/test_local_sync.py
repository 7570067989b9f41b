"""The sync engine on a real folder, against SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import RunKind
from tests.support import samples
from tests.support.store import (
    add_local,
    artifacts_by_source,
    counts,
    engine,
    source_files,
    write,
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "Documents"
    # Real files: a sync reads what is in them.
    write(root / "papers" / "quantum paper.pdf").write_bytes(
        samples.pdf([["Quantum states"]])
    )
    write(root / "poems" / "winter.md", "snow")
    write(root / "talks" / "keynote.pptx").write_bytes(samples.pptx([["Keynote"]]))
    write(root / "data" / "results.csv", "a,b\n1,2\n")
    write(root / "proj" / "node_modules" / "lib" / "index.js", "x")
    write(root / "Smart Contracts.txt", "terms")
    return root


def test_full_sync_creates_a_pending_artifact_per_file(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree, excluded_patterns=("*/node_modules/*",))

    run = engine(database, settings).sync(integration_id)

    artifacts = artifacts_by_source(database)
    assert set(artifacts) == {
        "papers/quantum paper.pdf",
        "poems/winter.md",
        "talks/keynote.pptx",
        "data/results.csv",
        "Smart Contracts.txt",
    }
    assert {a.status for a in artifacts.values()} == {"pending"}
    assert artifacts["talks/keynote.pptx"].artifact_type == "presentation"
    assert artifacts["data/results.csv"].artifact_type == "dataset"
    assert artifacts["papers/quantum paper.pdf"].artifact_type == "academic_paper"
    assert artifacts["Smart Contracts.txt"].artifact_type != "visual_art"
    assert all(0 < a.confidence <= 1 for a in artifacts.values())
    assert all(a.content_hash and len(a.content_hash) == 64 for a in artifacts.values())
    assert run.kind == RunKind.FULL
    assert run.status == "succeeded"
    assert counts(run)["created"] == 5


def test_excluded_and_too_large_files_are_recorded_with_their_reason(
    database: Database, settings: Settings, tree: Path
) -> None:
    big = tree / "video" / "huge.mp4"
    big.parent.mkdir()
    with big.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    integration_id = add_local(
        database, tree, excluded_patterns=("*/node_modules/*",), max_file_size_mb=1
    )

    run = engine(database, settings).sync(integration_id)

    files = source_files(database)
    assert files["video/huge.mp4"].skip_reason == "too_large"
    assert files["video/huge.mp4"].artifact_id is None
    assert files["proj/node_modules/"].skip_reason == "excluded"
    assert "video/huge.mp4" not in artifacts_by_source(database)
    assert run.skipped == 2


def test_a_second_sync_with_nothing_changed_changes_nothing(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    before = {
        k: (a.updated_at, a.status) for k, a in artifacts_by_source(database).items()
    }

    run = sync.sync(integration_id)

    assert run.kind == RunKind.INCREMENTAL
    assert counts(run) == {
        "listed": 6,
        "created": 0,
        "updated": 0,
        "unchanged": 6,
        "skipped": 0,
        "removed": 0,
    }
    after = {
        k: (a.updated_at, a.status) for k, a in artifacts_by_source(database).items()
    }
    assert after == before


def test_incremental_sync_sees_exactly_an_edit_an_add_a_delete_a_rename_and_a_move(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree, excluded_patterns=("*/node_modules/*",))
    sync = engine(database, settings)
    sync.sync(integration_id)
    first = artifacts_by_source(database)
    with database.write() as session:
        queries.move_status(session, [first["poems/winter.md"].id], "approved")
        queries.move_status(
            session, [first["talks/keynote.pptx"].id], "rejected", "old talk"
        )

    (tree / "data" / "results.csv").write_text("a,b\n1,2\n3,4\n")
    write(tree / "poems" / "spring.md", "rain")
    (tree / "Smart Contracts.txt").unlink()
    (tree / "poems" / "winter.md").rename(tree / "poems" / "winter night.md")
    (tree / "talks").mkdir(exist_ok=True)
    (tree / "talks" / "keynote.pptx").rename(tree / "papers" / "keynote.pptx")

    run = sync.sync(integration_id)

    after = artifacts_by_source(database)
    assert counts(run)["created"] == 1
    assert counts(run)["removed"] == 1
    assert counts(run)["updated"] == 3
    renamed = after["poems/winter night.md"]
    assert renamed.id == first["poems/winter.md"].id
    assert renamed.status == "approved"
    assert renamed.title == "winter night"
    moved = after["papers/keynote.pptx"]
    assert moved.id == first["talks/keynote.pptx"].id
    assert moved.status == "rejected"
    assert moved.review_reason == "old talk"
    assert (
        after["data/results.csv"].content_hash != first["data/results.csv"].content_hash
    )
    assert after["data/results.csv"].size_bytes == len("a,b\n1,2\n3,4\n")
    gone = after["Smart Contracts.txt"]
    assert gone.source_available is False
    assert gone.id == first["Smart Contracts.txt"].id
    assert after["poems/spring.md"].status == "pending"
    assert "poems/winter.md" not in after
    assert len(after) == 6


def test_a_file_copied_elsewhere_and_deleted_keeps_its_artifact_by_content_hash(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    original = artifacts_by_source(database)["papers/quantum paper.pdf"]
    with database.write() as session:
        queries.move_status(session, [original.id], "approved")

    # A copy gets a new inode: only the content can match it.
    shutil.copyfile(tree / "papers" / "quantum paper.pdf", tree / "archive.pdf")
    (tree / "papers" / "quantum paper.pdf").unlink()
    sync.sync(integration_id)

    after = artifacts_by_source(database)
    assert after["archive.pdf"].id == original.id
    assert after["archive.pdf"].status == "approved"
    assert after["archive.pdf"].source_available is True


def test_a_deleted_file_that_comes_back_is_available_again(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    poem = tree / "poems" / "winter.md"
    saved = poem.read_bytes()
    poem.unlink()
    sync.sync(integration_id)
    assert artifacts_by_source(database)["poems/winter.md"].source_available is False

    poem.write_bytes(saved)
    sync.sync(integration_id)

    assert artifacts_by_source(database)["poems/winter.md"].source_available is True


def test_folder_sync_touches_only_that_subtree(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    write(tree / "poems" / "autumn.md", "leaves")
    write(tree / "papers" / "new paper.pdf", "%PDF-1.4")
    (tree / "data" / "results.csv").unlink()

    run = sync.sync(integration_id, RunKind.FOLDER, folder="poems")

    after = artifacts_by_source(database)
    assert "poems/autumn.md" in after
    assert "papers/new paper.pdf" not in after
    assert after["data/results.csv"].source_available is True
    assert counts(run)["listed"] == 2


def test_a_type_the_person_set_survives_a_change_of_the_file(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    csv = artifacts_by_source(database)["data/results.csv"]
    with database.write() as session:
        queries.edit_artifact(session, csv.id, title="Survey", artifact_type="other")

    (tree / "data" / "results.csv").write_text("changed,content\n")
    sync.sync(integration_id)

    after = artifacts_by_source(database)["data/results.csv"]
    assert after.artifact_type == "other"
    assert after.classified_by == "user"
    assert after.title == "Survey"


def test_changed_paths_from_a_watcher_sync_only_those_paths(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    write(tree / "poems" / "new.md", "x")
    write(tree / "talks" / "unseen.pptx", "x")
    os.remove(tree / "data" / "results.csv")

    run = sync.sync(integration_id, paths=["poems/new.md", "data/results.csv"])

    after = artifacts_by_source(database)
    assert "poems/new.md" in after
    assert "talks/unseen.pptx" not in after
    assert after["data/results.csv"].source_available is False
    assert counts(run)["created"] == 1
    assert counts(run)["removed"] == 1


def test_files_skipped_under_an_old_folder_config_are_taken_in_under_a_new_one(
    database: Database, settings: Settings, tree: Path
) -> None:
    (tree / "notes.log").write_text("kept out for now")
    integration_id = add_local(
        database, tree, excluded_patterns=("*/node_modules/*", "*.log")
    )
    sync = engine(database, settings)
    sync.sync(integration_id)
    assert source_files(database)["notes.log"].skip_reason == "excluded"

    with database.write() as session:
        integration = queries.get_integration(session, integration_id)
        integration.folder_config = {
            **integration.folder_config,
            "excluded_patterns": [],
        }
    run = sync.sync(integration_id)

    after = artifacts_by_source(database)
    assert "notes.log" in after
    assert "proj/node_modules/lib/index.js" in after
    assert "proj/node_modules/" not in source_files(database)
    assert counts(run)["created"] == 2


def test_every_title_of_a_large_import_is_found_by_full_text_search(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    # More than two statements' worth of texts (300 rows each on SQLite),
    # and a batch that ends in the middle of one.
    root = tmp_path / "Notes"
    for number in range(700):
        write(root / f"folder{number // 100}" / f"zebra{number:03d} note.md", "x")
    integration_id = add_local(database, root)
    settings = Settings(**{**settings.__dict__, "batch_size": 450})

    engine(database, settings).sync(integration_id)

    with database.read() as session:
        for number in (0, 299, 300, 449, 450, 599, 600, 699):
            wanted = queries.ArtifactFilter(search=f"zebra{number:03d}")
            found = queries.list_artifacts(session, wanted, limit=5)
            assert [a.source_id for a in found] == [
                f"folder{number // 100}/zebra{number:03d} note.md"
            ]


def test_rename_matching_reads_the_vanished_files_from_their_own_index(
    database: Database, settings: Settings, tree: Path
) -> None:
    integration_id = add_local(database, tree)
    sync = engine(database, settings)
    sync.sync(integration_id)
    shutil.move(tree / "poems" / "winter.md", tree / "poems" / "winter 2.md")

    sync.sync(integration_id)

    with database.engine.connect() as conn:
        if database.is_sqlite:
            plans = [
                " ".join(
                    str(row[-1])
                    for row in conn.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement,
                        (integration_id, False, False),
                    )
                )
                for statement in (
                    sync._sql.moves_by_fingerprint,
                    sync._sql.moves_by_hash,
                )
            ]
            assert all(
                "SEARCH old USING INDEX ix_source_files_vanished" in plan
                for plan in plans
            )
        else:
            definition = conn.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes "
                "WHERE indexname = 'ix_source_files_vanished'"
            ).scalar_one()
            assert "WHERE (vanished_at IS NOT NULL)" in definition
    moved = artifacts_by_source(database)["poems/winter 2.md"]
    assert moved.source_available is True
