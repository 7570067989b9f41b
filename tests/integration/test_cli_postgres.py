"""The command line on PostgreSQL, and one sync per integration across processes."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from midst_desktop.store.db import Database, open_database
from midst_desktop.store.models import Artifact, Run
from midst_desktop.sync.locks import sync_lock
from tests.conftest import missing
from tests.support.cli import Cli, Outcome, assert_no_traceback, child_environment
from tests.support.postgres import PostgresServer
from tests.support.store import write

FILES = 400
RACE_TIMEOUT_SECONDS = 120
_databases = itertools.count()


def make_tree(root: Path, files: int = FILES) -> Path:
    for number in range(files):
        write(root / f"folder{number % 20}" / f"essay {number}.md", f"essay {number}")
    return root


def runs(database: Database) -> list[Run]:
    with database.read() as session:
        return list(session.scalars(select(Run).order_by(Run.id)))


def artifact_count(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Artifact)) or 0)


@pytest.fixture
def postgres_database(
    postgres_server: PostgresServer | None,
) -> Iterator[tuple[str, Database]]:
    if postgres_server is None:
        missing(f"PostgreSQL could not start: {getattr(pytest, 'postgres_error', '')}")
        raise AssertionError("unreachable")
    url = postgres_server.create_database(
        f"cli{next(_databases)}", template="midst_template"
    )
    database = open_database(url)
    yield url, database
    database.dispose()


def test_midst_database_url_puts_the_same_data_in_postgresql(
    tmp_path: Path,
    postgres_database: tuple[str, Database],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    database_url, database = postgres_database
    root = make_tree(tmp_path / "Documents", files=12)
    cli = Cli(tmp_path / "data")
    env = child_environment(MIDST_DATABASE_URL=database_url)

    cli.run("integrations", "add", "local", str(root), env=env)
    run = cli.run("sync", "1", "--json", env=env).json()
    # The same variable, read by main() in this process.
    monkeypatch.setenv("MIDST_DATABASE_URL", database_url)
    listed = cli.call_json("artifacts", "list", "--limit", "100")
    report = cli.call_json("health")

    assert run["counts"]["created"] == 12
    assert len(listed) == 12
    assert artifact_count(database) == 12
    assert report["database"] == "postgresql"
    assert report["checks"]["database"] == "ok"
    assert not (tmp_path / "data" / "midst.db").exists()
    # Full-text search runs on PostgreSQL's own index.
    found = cli.call_json("artifacts", "list", "--search", "essay 3")
    assert [a["source_id"] for a in found] == ["folder3/essay 3.md"]
    # backup is SQLite's; PostgreSQL has pg_dump, and the CLI says so.
    refused = cli.call("backup", str(tmp_path / "store.db"), expect=1)
    assert "pg_dump" in refused.error_line


def test_a_sync_while_another_process_holds_the_integration_says_already_syncing(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    root = make_tree(tmp_path / "Documents", files=20)
    cli = Cli(tmp_path / "data", database_url=database_url)
    cli.call("integrations", "add", "local", str(root))

    with sync_lock(database, 1):
        busy = cli.run("sync", "1", "--json", expect=1)
        every = cli.run("sync", expect=1)
    free = cli.call_json("sync", "1")

    assert "already syncing" in busy.error_line
    assert busy.stdout == ""
    assert "already syncing" in every.error_line
    assert free["status"] == "succeeded"
    assert [r.id for r in runs(database)] == [free["id"]]
    assert artifact_count(database) == 20


def test_two_syncs_of_one_integration_started_together_never_both_run(
    tmp_path: Path, database_url: str, database: Database
) -> None:
    root = make_tree(tmp_path / "Documents")
    cli = Cli(tmp_path / "data", database_url=database_url)
    cli.call("integrations", "add", "local", str(root))

    started = [cli.start("sync", "1", "--type", "full", "--json") for _ in range(2)]
    outcomes = []
    for process in started:
        out, err = process.communicate(timeout=RACE_TIMEOUT_SECONDS)
        outcomes.append(Outcome(process.returncode, out, err))

    for outcome in outcomes:
        assert_no_traceback(outcome)
        assert outcome.code in {0, 1}, outcome.stderr
        if outcome.code == 1:
            assert "already syncing" in outcome.error_line
    assert 0 in {o.code for o in outcomes}
    finished = runs(database)
    assert len(finished) == sum(o.code == 0 for o in outcomes)
    assert {r.status for r in finished} == {"succeeded"}
    spans = sorted((r.started_at, r.finished_at) for r in finished)
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert isinstance(first_end, datetime)
        assert first_end <= second_start
    assert artifact_count(database) == FILES
