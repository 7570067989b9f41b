"""A real sync process, SIGKILLed at 20 moments, resumes with no duplicate and no loss.

The sync runs as the person runs it (`midst-desktop sync`) in a child
process against a real SQLite file or PostgreSQL server. Between kills the
folder changes (new folders, renames, moves, deletions, edits) and the person
approves and rejects artifacts through the command line. Kills are aimed by
watching the run's committed counts, so they land inside runs: in the middle
of creating artifacts, in the rename pass, or after a seeded random delay.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.registry import provider_for
from tests.support.crash import FolderModel
from tests.support.processes import cli_env, kill_hard, run_cli, start_cli
from tests.support.store import (
    add_local,
    artifacts_by_source,
    engine,
    source_files,
    write,
)

pytestmark = pytest.mark.slow

KILLS = 20
SEED = 20261204
BATCH_SIZE = 25
FOLDERS, FILES_PER_FOLDER = 150, 20
RENAMED_PER_MOVE_CYCLE = 6
POLL_SECONDS = 0.004
# A run of this folder takes seconds; one still going after this is stuck.
STUCK_SECONDS = 120


@dataclass(frozen=True)
class RunRow:
    id: int
    status: str
    created: int
    updated: int
    error_message: str | None


@dataclass
class Kill:
    run_id: int
    aim: str


class Store:
    """Reads the store from outside the process under test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, poolclass=NullPool)
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def latest_run(self) -> RunRow | None:
        rows = self.rows(
            "SELECT id, status, created, updated, error_message FROM runs "
            "ORDER BY id DESC LIMIT 1"
        )
        return RunRow(*rows[0]) if rows else None

    def run(self, run_id: int) -> RunRow:
        (row,) = self.rows(
            "SELECT id, status, created, updated, error_message FROM runs "
            "WHERE id = :id",
            id=run_id,
        )
        return RunRow(*row)

    def known_source_ids(self) -> set[str]:
        return {row[0] for row in self.rows("SELECT source_id FROM source_files")}

    def sqlite_check(self, statement: str) -> list[Any]:
        database = make_url(self.url).database
        assert database
        conn = sqlite3.connect(database)
        try:
            return conn.execute(statement).fetchall()
        finally:
            conn.close()


def assert_consistent(store: Store, reviews: dict[str, tuple[str, str]]) -> None:
    """What must hold after every kill, whatever the moment."""
    if store.is_sqlite:
        assert store.sqlite_check("PRAGMA integrity_check") == [("ok",)]
    assert not store.rows(
        "SELECT source_id FROM artifacts GROUP BY integration_id, source_id "
        "HAVING count(*) > 1"
    )
    assert not store.rows(
        "SELECT source_id FROM source_files GROUP BY integration_id, source_id "
        "HAVING count(*) > 1"
    )
    # Each artifact belongs to exactly one source file and has its text row:
    # a batch writes all three together or not at all.
    assert not store.rows(
        "SELECT a.id FROM artifacts a LEFT JOIN source_files f "
        "ON f.artifact_id = a.id GROUP BY a.id HAVING count(f.id) <> 1"
    )
    assert not store.rows(
        "SELECT a.id FROM artifacts a LEFT JOIN artifact_texts t "
        "ON t.artifact_id = a.id WHERE t.id IS NULL"
    )
    statuses = dict(store.rows("SELECT id, status FROM artifacts"))
    for artifact_id, (status, _identity) in reviews.items():
        assert statuses.get(artifact_id) == status, artifact_id


def build_tree(root: Path, rng: random.Random) -> FolderModel:
    model = FolderModel(root, rng)
    for number in range(FOLDERS):
        # Every third folder is renamed later; edits go to the others, so no
        # file is both renamed and edited before a run sees it (a documented
        # limit of rename matching, not what this test is about).
        model.add_folder(f"folder {number:03d}", FILES_PER_FOLDER, number % 3 == 0)
    return model


def change_folder(
    model: FolderModel, cycle: int, reviews: dict[str, tuple[str, str]], moves: bool
) -> int:
    """One round of changes; returns how many files were renamed or moved."""
    rng = model.rng
    model.add_folder(
        f"new {cycle:02d}-{rng.randrange(1000)}", rng.randint(100, 160), True
    )
    reviewed = {identity for _status, identity in reviews.values()}
    never_moved = model.never_moved()
    gone = rng.choice(never_moved)
    model.delete(gone)
    if cycle % 5 == 0:
        # A file the person decided on leaves too; its decision must stay.
        decided = [p for p in model.never_moved() if p in reviewed]
        if decided:
            model.delete(rng.choice(decided))
    if not moves:
        model.edit(rng.choice(model.in_folders(model.fixed)))
        return 0
    # Rename whole folders, preferring ones that hold reviewed files, some of
    # them for the second time (a rename whose first match a kill cut off).
    holders = sorted(
        {model.where[i].split("/", 1)[0] for i in reviewed if i in model.where}
        & model.movable
    )
    others = sorted(model.movable - set(holders))
    chosen = rng.sample(holders, min(3, len(holders)))
    chosen += rng.sample(others, RENAMED_PER_MOVE_CYCLE - len(chosen))
    moved = 0
    for folder in chosen:
        moved += len(model.in_folders({folder}))
        model.rename_folder(folder, f"renamed {cycle:02d} {folder}")
    # And single files moved across folders.
    for number, path in enumerate(rng.sample(model.in_folders(model.movable), 3)):
        target = f"{rng.choice(sorted(model.movable))}/moved {cycle:02d}-{number}"
        model.move_file(path, f"{target} {Path(path).name}")
        moved += 1
    return moved


def sync_and_kill(
    store: Store,
    data_dir: Path,
    aim: Callable[[RunRow, float], bool],
    env: dict[str, str],
) -> RunRow | None:
    """Start `sync 1`, SIGKILL it once aim(run, seconds since it began) holds.

    Returns the run as the kill left it, or None when the process ended (or
    never started a run) before the aim was met.
    """
    before = store.latest_run()
    last_id = before.id if before else 0
    process = start_cli(data_dir, store.url, "sync", "1", env=env)
    seen_at: float | None = None
    run_id: int | None = None
    deadline = time.monotonic() + STUCK_SECONDS
    try:
        while process.poll() is None:
            assert time.monotonic() < deadline, "the sync neither ended nor ran"
            row = store.latest_run()
            if row is not None and row.id > last_id:
                run_id = row.id
                seen_at = seen_at or time.monotonic()
                if aim(row, time.monotonic() - seen_at):
                    break
            time.sleep(POLL_SECONDS)
    finally:
        code = kill_hard(process)
    if run_id is None:
        return None
    after = store.run(run_id)
    if code != -9 or after.status != "running":
        return None
    return after


def review_some(
    store: Store,
    data_dir: Path,
    model: FolderModel,
    reviews: dict[str, tuple[str, str]],
    cycle: int,
    env: dict[str, str],
) -> None:
    """Approve or reject (every other time) a few files' artifacts, by the CLI."""
    never_moved = set(model.never_moved())
    candidates = sorted(
        (artifact_id, source_id)
        for artifact_id, source_id in store.rows(
            "SELECT id, source_id FROM artifacts "
            "WHERE status = 'pending' AND source_available = TRUE"
        )
        if source_id in never_moved and artifact_id not in reviews
    )
    chosen = model.rng.sample(candidates, min(3, len(candidates)))
    if not chosen:
        return
    ids = [artifact_id for artifact_id, _ in chosen]
    if cycle % 4 == 0:
        status, args = "approved", ["artifacts", "approve", *ids]
    else:
        status = "rejected"
        args = ["artifacts", "reject", *ids, "--reason", f"cycle {cycle}"]
    result = run_cli(data_dir, store.url, *args, env=env)
    assert result.returncode == 0, result.stderr
    for artifact_id, source_id in chosen:
        reviews[artifact_id] = (status, model.files[source_id])


def aim_for(
    cycle: int, store: Store, model: FolderModel, moved: int, edits: int
) -> tuple[str, Callable[[RunRow, float], bool]]:
    rng = model.rng
    if moved:
        # Renames show as 'updated' only in the rename pass at the end of a run
        # (edits, the other source of 'updated', are fewer than `edits`).
        threshold = rng.randint(edits + 1, moved - 2 * BATCH_SIZE)
        return "rename pass", lambda row, _age: row.updated >= threshold
    if cycle % 4 == 1:
        delay = rng.uniform(0.0, 0.05)
        return "random delay", lambda _row, age: age >= delay
    pending = len(set(model.files) - store.known_source_ids())
    threshold = rng.randint(1, max(1, pending - 3 * BATCH_SIZE))
    return "creating", lambda row, _age: row.created >= threshold


def sync_to_the_end(store: Store, data_dir: Path, env: dict[str, str]) -> Any:
    """`sync 1 --json`, waiting out the moment a killed process's lock lingers.

    PostgreSQL frees a killed client's advisory lock once its backend notices
    the closed connection; until then the sync says it is already running.
    """
    for _attempt in range(20):
        done = run_cli(data_dir, store.url, "sync", "1", "--json", env=env)
        if done.returncode == 0:
            return json.loads(done.stdout)
        assert "already syncing" in done.stderr, done.stderr
        time.sleep(0.5)
    raise AssertionError("the sync lock was never released")


def crash_loop(store: Store, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    data_dir = tmp_path / "data"
    model = build_tree(tmp_path / "Documents", rng)
    env = cli_env(ORCH_ARTIFACT_BATCH_SIZE=str(BATCH_SIZE))
    if not store.is_sqlite:
        # The SQLite run keeps every default, content extraction included; the
        # PostgreSQL run is about the store's transactions, and skipping the
        # extraction worker's start in each of its 25 processes keeps the
        # pair within its time budget.
        env["MIDST_EXTRACT_CONTENT"] = "false"
    added = run_cli(
        data_dir, store.url, "integrations", "add", "local", str(model.root)
    )
    assert added.returncode == 0, added.stderr

    reviews: dict[str, tuple[str, str]] = {}
    kills: list[Kill] = []
    edits = 0
    attempts = 0
    changed_since_kill = True  # the first run imports the whole tree
    while len(kills) < KILLS:
        attempts += 1
        assert attempts <= 2 * KILLS, f"only {len(kills)} kills landed in runs"
        cycle = len(kills)
        moved = 0
        if not changed_since_kill:
            moves = cycle % 4 == 3
            moved = change_folder(model, cycle, reviews, moves)
            edits += 0 if moves else 1
        aim, condition = aim_for(cycle, store, model, moved, edits)
        killed = sync_and_kill(store, data_dir, condition, env)
        if killed is None:
            # The run ended before the aim; change the folder and aim again.
            changed_since_kill = False
            continue
        kills.append(Kill(killed.id, aim))
        assert_consistent(store, reviews)
        if cycle % 2 == 0:
            review_some(store, data_dir, model, reviews, cycle, env)
        changed_since_kill = False

    final = sync_to_the_end(store, data_dir, env)
    assert final["status"] == "succeeded"
    counts = sync_to_the_end(store, data_dir, env)["counts"]
    assert counts["created"] == counts["updated"] == counts["removed"] == 0
    assert counts["unchanged"] == len(model.files)

    assert_final_state(store, model, reviews, kills)


def assert_final_state(
    store: Store,
    model: FolderModel,
    reviews: dict[str, tuple[str, str]],
    kills: list[Kill],
) -> None:
    assert_consistent(store, reviews)
    artifacts = {
        row[0]: row
        for row in store.rows(
            "SELECT id, source_id, status, source_available, content_hash "
            "FROM artifacts"
        )
    }
    available = {row[1]: row for row in artifacts.values() if row[3]}
    unavailable = {row[1]: row for row in artifacts.values() if not row[3]}
    # Exactly the folder's files, each once, with the content it has now.
    assert set(available) == set(model.files)
    assert len(available) == len(artifacts) - len(unavailable)
    for path, row in available.items():
        assert row[4] == model.digest(path), path
    # Nothing is unavailable but files that were really deleted.
    assert set(unavailable) <= model.deleted, sorted(set(unavailable) - model.deleted)
    live = store.rows(
        "SELECT source_id, artifact_id, skip_reason FROM source_files "
        "WHERE vanished_at IS NULL"
    )
    assert {row[0] for row in live} == set(model.files)
    assert all(row[1] is not None and row[2] is None for row in live)

    # Every decision survived, on the file it was made on, wherever it went.
    for artifact_id, (status, identity) in reviews.items():
        row = artifacts[artifact_id]
        assert row[2] == status
        if identity in model.deleted:
            assert not row[3] and row[1] == identity
        else:
            assert row[3] and row[1] == model.where[identity], identity
    assert any(
        identity != model.where.get(identity) for _s, identity in reviews.values()
    )

    # Every killed run was closed as interrupted; nothing is left running.
    for kill in kills:
        run = store.run(kill.run_id)
        assert run.status == "failed", kill
        assert run.error_message and run.error_message.startswith("interrupted")
    assert not store.rows("SELECT id FROM runs WHERE status = 'running'")
    aims = {kill.aim for kill in kills}
    assert aims == {"creating", "random delay", "rename pass"}
    if store.is_sqlite:
        assert store.sqlite_check("PRAGMA integrity_check") == [("ok",)]
        store.sqlite_check(
            "INSERT INTO artifact_fts(artifact_fts) VALUES ('integrity-check')"
        )
        assert not store.rows("SELECT integration_id FROM sync_locks")


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    store = Store(database_url)
    yield store
    store.engine.dispose()


def test_sync_killed_twenty_times_ends_with_exactly_the_folders_files(
    store: Store, tmp_path: Path
) -> None:
    crash_loop(store, tmp_path)


# A run cut off between the two halves of a move, then a second rename: the
# same file is stored at three stages. Path-scoped syncs (as the watcher runs
# them) produce that state without a kill, so these tests are exact.


def _three_stages(
    database: Database, settings: Settings, root: Path
) -> tuple[int, Any]:
    write(root / "a.md", "one poem")
    integration_id = add_local(database, root)
    sync = engine(database, settings)
    sync.sync(integration_id)
    (root / "a.md").rename(root / "b.md")
    sync.sync(integration_id, paths=["b.md"])  # sees b, not yet that a left
    (root / "b.md").rename(root / "c.md")
    return integration_id, sync


def test_a_file_stored_at_three_stages_of_a_move_keeps_one_artifact(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    integration_id, sync = _three_stages(database, settings, tmp_path / "Documents")
    first = artifacts_by_source(database)
    with database.write() as session:
        queries.move_status(session, [first["a.md"].id], "approved")

    sync.sync(integration_id)

    after = artifacts_by_source(database)
    assert set(after) == {"c.md"}
    assert after["c.md"].id == first["a.md"].id
    assert after["c.md"].status == "approved"
    assert set(source_files(database)) == {"c.md"}
    again = sync.sync(integration_id)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)


def test_the_stage_someone_reviewed_wins_over_an_untouched_one(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    integration_id, sync = _three_stages(database, settings, tmp_path / "Documents")
    middle = artifacts_by_source(database)["b.md"]
    with database.write() as session:
        queries.move_status(session, [middle.id], "rejected", "draft")

    sync.sync(integration_id)

    after = artifacts_by_source(database)
    assert set(after) == {"c.md"}
    assert after["c.md"].id == middle.id
    assert after["c.md"].status == "rejected"
    assert after["c.md"].review_reason == "draft"


class ReviewingDatabase(Database):
    """The store, with the person approving one file's artifact mid-run.

    The approval lands just before the run's next write after the artifact
    exists: for a renamed file, between reading the move candidates and
    writing the move. Only the moment is arranged.
    """

    def __init__(self, url: str, source_id: str) -> None:
        super().__init__(url)
        self.source_id = source_id
        self.approved: str | None = None

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        if self.approved is None:
            with self.read() as session:
                found = session.scalar(
                    select(Artifact.id).where(Artifact.source_id == self.source_id)
                )
            if found is not None:
                with self.write() as session:
                    queries.move_status(session, [found], "approved")
                self.approved = found
        with super().write_connection() as conn:
            yield conn


def test_an_approval_made_while_the_rename_pass_runs_is_never_dropped(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    write(root / "a.md", "one poem")
    integration_id = add_local(database, root)
    engine(database, settings).sync(integration_id)
    first = artifacts_by_source(database)["a.md"]
    (root / "a.md").rename(root / "b.md")

    reviewing = ReviewingDatabase(database.url, "b.md")
    try:
        SyncEngine(reviewing, settings, provider_for).sync(integration_id)
    finally:
        reviewing.dispose()

    after = artifacts_by_source(database)
    assert reviewing.approved is not None
    assert after["b.md"].id == reviewing.approved
    assert after["b.md"].status == "approved"
    # The old artifact is not merged into the reviewed one: both are kept.
    assert after["a.md"].id == first.id
    assert not after["a.md"].source_available
