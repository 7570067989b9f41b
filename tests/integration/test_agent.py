"""The headless agent: a sync at start, then watched changes applied as they happen."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from midst_desktop.agent import Agent
from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.store.models import Run
from tests.support.store import add_local, artifacts_by_source, write
from tests.support.waiting import wait_for


@pytest.fixture
def running_agent(
    database: Database, settings: Settings, tmp_path: Path
) -> Iterator[tuple[Agent, Path, int]]:
    root = tmp_path / "Work"
    for number in range(20):
        write(root / f"folder{number % 4}" / f"essay {number}.md", f"text {number}")
    integration_id = add_local(database, root)
    agent = Agent(database, settings, startup_delay=timedelta(0))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    yield agent, root, integration_id
    agent.stopping.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


def running_runs(database: Database) -> list[Run]:
    with database.read() as session:
        return list(session.scalars(select(Run).where(Run.finished_at.is_(None))))


def finished_runs(database: Database) -> list[Run]:
    with database.read() as session:
        return list(session.scalars(select(Run).where(Run.finished_at.is_not(None))))


def test_the_agent_syncs_at_start_then_applies_watched_changes(
    database: Database, running_agent: tuple[Agent, Path, int]
) -> None:
    _, root, _ = running_agent
    wait_for(lambda: len(finished_runs(database)) == 1)
    assert finished_runs(database)[0].trigger == "startup"
    assert len(artifacts_by_source(database)) == 20

    write(root / "folder1" / "new poem.md", "fresh")
    (root / "folder2" / "essay 2.md").write_text("rewritten and longer")
    (root / "folder3" / "essay 3.md").unlink()
    (root / "folder0" / "essay 0.md").rename(root / "folder0" / "renamed.md")

    def applied() -> bool:
        artifacts = artifacts_by_source(database)
        return (
            "folder1/new poem.md" in artifacts
            and artifacts["folder2/essay 2.md"].size_bytes
            == len("rewritten and longer")
            and not artifacts["folder3/essay 3.md"].source_available
            and "folder0/renamed.md" in artifacts
        )

    def settled() -> bool:
        # A run commits its batches before its move pass and before it is
        # closed, and events may be split over two debounced runs: wait for
        # every run to end and the rename to be matched.
        return (
            applied()
            and not running_runs(database)
            and "folder0/essay 0.md" not in artifacts_by_source(database)
        )

    wait_for(settled)
    artifacts = artifacts_by_source(database)
    assert len(artifacts) == 21
    assert "folder0/essay 0.md" not in artifacts
    watched_runs = [r for r in finished_runs(database) if r.trigger == "schedule"]
    assert watched_runs
    assert all(r.status == "succeeded" for r in watched_runs)


def test_a_burst_of_writes_becomes_one_small_watched_sync_of_just_those_files(
    database: Database, running_agent: tuple[Agent, Path, int]
) -> None:
    agent, root, _ = running_agent
    wait_for(lambda: len(finished_runs(database)) == 1, "the start-up sync")
    wait_for(lambda: agent.scheduler.workers_busy == 0, "idle workers")
    scopes: list[set[str] | None] = []
    real_sync = agent.engine.sync

    def recording_sync(
        integration_id: int,
        kind: str = "incremental",
        trigger: str = "manual",
        paths: set[str] | None = None,
    ) -> Run:
        # The real sync runs; only the scope it was given is remembered.
        scopes.append(None if paths is None else set(paths))
        return real_sync(integration_id, kind, trigger, paths=paths)

    agent.engine.sync = recording_sync  # type: ignore[method-assign]
    burst = {f"folder1/burst {number}.md" for number in range(50)}

    for relative in sorted(burst):
        write(root / relative, f"burst text for {relative}")

    def all_applied() -> bool:
        return burst <= set(artifacts_by_source(database)) and not running_runs(
            database
        )

    wait_for(all_applied, "the 50 written files applied", deadline_seconds=90)
    watched_runs = [r for r in finished_runs(database) if r.trigger == "schedule"]
    # Debounced: one sync on a quiet machine, a few at most on a busy one;
    # without the debounce every event would start a sync of its own.
    assert 1 <= len(scopes) == len(watched_runs) <= 3
    for scope in scopes:
        assert scope is not None, "a watched change started a sync of everything"
        assert scope <= burst
    assert set().union(*(s for s in scopes if s is not None)) == burst
    assert all(r.status == "succeeded" for r in watched_runs)
    assert sum(r.created for r in watched_runs) == 50
    # Only the burst was looked at, never the 20 files already there.
    assert all(r.listed <= 50 for r in watched_runs)
    assert len(artifacts_by_source(database)) == 70
