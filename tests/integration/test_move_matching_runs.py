"""Which runs match renames: any run after an interrupted one, and any that changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.sync.engine import SyncEngine
from tests.support.store import add_local, artifacts_by_source, engine, write


def test_a_rename_an_interrupted_run_left_unmatched_is_matched_by_the_next_run(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = tmp_path / "Work"
    write(root / "essay.md", "the words of the essay")
    integration_id = add_local(database, root)
    syncer = engine(database, settings)
    syncer.sync(integration_id, "full")
    original = artifacts_by_source(database)["essay.md"].id
    (root / "essay.md").rename(root / "renamed essay.md")

    def stopped(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt  # the process stopped before matching

    monkeypatch.setattr(SyncEngine, "_match_moves", stopped)
    with pytest.raises(KeyboardInterrupt):
        syncer.sync(integration_id, "incremental")
    monkeypatch.undo()
    # Nothing changed on disk since: only the interrupted run says to look.
    run = syncer.sync(integration_id, "incremental")

    artifacts = artifacts_by_source(database)
    assert artifacts["renamed essay.md"].id == original
    assert "essay.md" not in artifacts
    assert run.updated == 1


def test_content_that_comes_back_under_a_new_name_later_keeps_its_artifact(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Work"
    write(root / "poem.md", "a poem about the sea")
    integration_id = add_local(database, root)
    syncer = engine(database, settings)
    syncer.sync(integration_id, "full")
    original = artifacts_by_source(database)["poem.md"].id
    (root / "poem.md").unlink()
    syncer.sync(integration_id, "incremental")
    syncer.sync(integration_id, "incremental")  # a finished run with no change

    write(root / "drafts" / "sea poem.md", "a poem about the sea")
    syncer.sync(integration_id, "incremental")

    artifacts = artifacts_by_source(database)
    assert artifacts["drafts/sea poem.md"].id == original
    assert artifacts["drafts/sea poem.md"].source_available
