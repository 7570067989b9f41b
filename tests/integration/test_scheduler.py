"""The sync schedule under a controllable clock, on a real store and folder."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select, update

from midst_desktop.config import Settings
from midst_desktop.store.db import Database, open_database
from midst_desktop.store.models import Integration, Run, RunKind
from midst_desktop.store.pause import is_paused
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.locks import SyncBusyError
from midst_desktop.sync.registry import provider_for
from midst_desktop.sync.scheduler import SyncScheduler
from tests.support.store import add_local, write
from tests.support.waiting import wait_for

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Recorder:
    """Runs real syncs and remembers each (kind, trigger, status)."""

    engine: SyncEngine
    calls: list[tuple[int, str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(
        self, integration_id: int, kind: str, trigger: str, paths: set[str] | None
    ) -> str:
        try:
            status = str(
                self.engine.sync(integration_id, kind, trigger, paths=paths).status
            )
        except SyncBusyError:
            status = "skipped"
        with self.lock:
            self.calls.append((integration_id, kind, trigger, status))
        return status

    def count(self, kind: str | None = None) -> int:
        with self.lock:
            return sum(1 for c in self.calls if kind is None or c[1] == kind)


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "Writing"
    for number in range(12):
        write(root / f"drafts{number % 3}" / f"chapter {number}.md", f"text {number}")
    return root


def make_scheduler(
    database: Database, settings: Settings
) -> tuple[SyncScheduler, Recorder]:
    recorder = Recorder(SyncEngine(database, settings, provider_for))
    scheduler = SyncScheduler(database, settings, recorder, startup_delay=timedelta(0))
    return scheduler, recorder


def settle(scheduler: SyncScheduler) -> None:
    """Wait until no sync runs and the scheduler has looked at its jobs again."""
    wait_for(lambda: scheduler.workers_busy == 0, "idle workers")
    scheduler.wakeup()
    time.sleep(0.2)
    wait_for(lambda: scheduler.workers_busy == 0, "idle workers")


def test_jobs_run_on_their_intervals_and_a_long_sleep_costs_one_run(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
) -> None:
    integration_id = add_local(database, folder)
    SyncEngine(database, settings, provider_for).sync(integration_id, RunKind.FULL)
    scheduler, recorder = make_scheduler(database, settings)

    scheduler.start()
    try:
        # A local folder gets a stat-only rescan at start-up.
        wait_for(lambda: recorder.count() == 1, "the start-up rescan")
        assert recorder.calls[0][1:3] == (RunKind.INCREMENTAL, "startup")
        settle(scheduler)
        assert recorder.count() == 1

        clock.shift(timedelta(minutes=15))
        scheduler.wakeup()
        wait_for(lambda: recorder.count() == 2, "the 15-minute incremental")
        assert recorder.calls[1][1:] == (RunKind.INCREMENTAL, "schedule", "succeeded")

        # Three hours asleep: twelve missed incrementals become one.
        clock.shift(timedelta(hours=3))
        scheduler.wakeup()
        wait_for(lambda: recorder.count() == 3, "the catch-up after sleep")
        settle(scheduler)
        assert recorder.count(RunKind.INCREMENTAL) == 3
        assert recorder.count(RunKind.FULL) == 0

        clock.shift(timedelta(hours=21))
        scheduler.wakeup()
        wait_for(lambda: recorder.count(RunKind.FULL) == 1, "the daily full sync")
        settle(scheduler)
        assert recorder.count(RunKind.FULL) == 1
    finally:
        scheduler.stop()


def test_an_overdue_full_sync_runs_once_shortly_after_start(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
) -> None:
    integration_id = add_local(database, folder)
    SyncEngine(database, settings, provider_for).sync(integration_id, RunKind.FULL)
    with database.write() as session:
        session.execute(
            update(Integration)
            .where(Integration.id == integration_id)
            .values(last_full_sync_at=T0 - timedelta(days=3))
        )
    scheduler, recorder = make_scheduler(database, settings)

    scheduler.start()
    try:
        wait_for(lambda: recorder.count(RunKind.FULL) == 1, "the overdue full sync")
        settle(scheduler)
    finally:
        scheduler.stop()

    fulls = [c for c in recorder.calls if c[1] == RunKind.FULL]
    assert fulls == [(integration_id, RunKind.FULL, "startup", "succeeded")]
    next_full = scheduler.next_run(integration_id, RunKind.FULL)
    assert next_full is None or next_full >= T0 + timedelta(hours=24)


def test_a_pause_survives_a_restart_and_resume_runs_what_is_due_once(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
) -> None:
    integration_id = add_local(database, folder)
    SyncEngine(database, settings, provider_for).sync(integration_id, RunKind.FULL)
    first, _ = make_scheduler(database, settings)
    first.start()
    first.pause("indefinitely")
    first.stop()

    second, recorder = make_scheduler(database, settings)
    second.start()
    try:
        assert is_paused(database)
        clock.shift(timedelta(hours=2))
        settle(second)
        assert recorder.count() == 0

        second.resume()
        wait_for(lambda: recorder.count() == 1, "the run after resume")
        settle(second)
        assert recorder.count() == 1
        assert not is_paused(database)
    finally:
        second.stop()


def test_a_timed_pause_ends_by_itself(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
) -> None:
    integration_id = add_local(database, folder)
    SyncEngine(database, settings, provider_for).sync(integration_id, RunKind.FULL)
    scheduler, recorder = make_scheduler(database, settings)
    scheduler.start()
    try:
        wait_for(lambda: recorder.count() == 1, "the start-up rescan")
        settle(scheduler)
        scheduler.pause((T0 + timedelta(hours=1)).isoformat())

        clock.shift(timedelta(minutes=45))
        scheduler.sync_pause_state()
        settle(scheduler)
        assert recorder.count() == 1

        clock.shift(timedelta(minutes=30))
        scheduler.sync_pause_state()
        wait_for(lambda: recorder.count() == 2, "the run after the pause ended")
        assert not is_paused(database)
    finally:
        scheduler.stop()


def test_a_pause_made_from_the_command_line_is_followed(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
) -> None:
    from midst_desktop.store.pause import set_pause

    integration_id = add_local(database, folder)
    SyncEngine(database, settings, provider_for).sync(integration_id, RunKind.FULL)
    scheduler, recorder = make_scheduler(database, settings)
    scheduler.start()
    try:
        wait_for(lambda: recorder.count() == 1, "the start-up rescan")
        settle(scheduler)
        set_pause(database, "indefinitely")  # as `midst-desktop pause` does
        scheduler.sync_pause_state()
        clock.shift(timedelta(minutes=20))
        settle(scheduler)
        assert recorder.count() == 1
    finally:
        scheduler.stop()


def test_the_scheduler_can_be_turned_off(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
) -> None:
    from dataclasses import replace

    add_local(database, folder)
    scheduler, recorder = make_scheduler(
        database, replace(settings, scheduler_enabled=False)
    )
    scheduler.start()
    try:
        clock.shift(timedelta(hours=2))
        scheduler.wakeup()
        time.sleep(0.2)
        assert recorder.count() == 0
        assert not scheduler.running
    finally:
        scheduler.stop()


def test_two_agents_on_one_store_never_sync_an_integration_at_once(
    database: Database,
    settings: Settings,
    database_url: str,
    tmp_path: Path,
) -> None:
    root = tmp_path / "Big"
    for number in range(1500):
        write(root / f"part{number % 30}" / f"note {number}.txt", f"note {number}")
    integration_id = add_local(database, root)
    other_database = open_database(database_url)
    schedulers = []
    recorders = []
    try:
        for db in (database, other_database):
            scheduler, recorder = make_scheduler(db, settings)
            schedulers.append(scheduler)
            recorders.append(recorder)
        for scheduler in schedulers:
            scheduler.start()
        wait_for(
            lambda: all(r.count() >= 1 for r in recorders), "both agents tried once"
        )
        for scheduler in schedulers:
            settle(scheduler)
    finally:
        for scheduler in schedulers:
            scheduler.stop()
        other_database.dispose()

    with database.read() as session:
        runs = list(
            session.scalars(
                select(Run)
                .where(Run.integration_id == integration_id)
                .order_by(Run.started_at)
            )
        )
    assert runs, "at least one agent synced"
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None
        assert earlier.finished_at <= later.started_at, "two runs overlapped"
    statuses = [c[3] for r in recorders for c in r.calls]
    assert statuses.count("succeeded") == len(runs)


def test_a_jump_of_the_wall_clock_is_taken_for_a_wake_and_runs_the_overdue_sync(
    database: Database,
    settings: Settings,
    folder: Path,
    clock: time_machine.Coordinates,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from midst_desktop.sync import scheduler as scheduler_module

    # The wake check looks once a minute; here every 50 ms, so the test is short.
    monkeypatch.setattr(scheduler_module, "WAKE_CHECK_SECONDS", 0.05)
    integration_id = add_local(database, folder)
    SyncEngine(database, settings, provider_for).sync(integration_id, RunKind.FULL)
    scheduler, recorder = make_scheduler(database, settings)
    scheduler.start()
    try:
        wait_for(lambda: recorder.count() == 1, "the start-up rescan")
        settle(scheduler)

        # The machine sleeps for two hours: the wall clock jumps, the monotonic
        # clock does not, and nobody calls wakeup().
        clock.shift(timedelta(hours=2))
        wait_for(lambda: recorder.count() == 2, "the run after the wake")
        settle(scheduler)
        assert recorder.count() == 2
        assert recorder.calls[1][1:3] == (RunKind.INCREMENTAL, "schedule")
    finally:
        scheduler.stop()


@dataclass
class HeldSyncs:
    """Real syncs that wait at a gate once started, counting who runs at once."""

    engine: SyncEngine
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    running: dict[int, int] = field(default_factory=dict)
    most_per_integration: int = 0
    calls: list[tuple[int, str]] = field(default_factory=list)

    def __call__(
        self, integration_id: int, kind: str, trigger: str, paths: set[str] | None
    ) -> str:
        with self.lock:
            self.calls.append((integration_id, kind))
            self.running[integration_id] = self.running.get(integration_id, 0) + 1
            self.most_per_integration = max(
                self.most_per_integration, self.running[integration_id]
            )
        try:
            assert self.gate.wait(timeout=60), "the gate was never opened"
            return str(
                self.engine.sync(integration_id, kind, trigger, paths=paths).status
            )
        finally:
            with self.lock:
                self.running[integration_id] -= 1

    def inside(self) -> set[int]:
        with self.lock:
            return {i for i, number in self.running.items() if number}

    def count(self) -> int:
        with self.lock:
            return len(self.calls)


def test_two_workers_sync_two_integrations_at_once_but_never_one_twice(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    from dataclasses import replace

    first = add_local(database, write(tmp_path / "Essays" / "a.md", "a").parent)
    second = add_local(database, write(tmp_path / "Poems" / "b.md", "b").parent)
    two_workers = replace(settings, worker_count=2)
    held = HeldSyncs(SyncEngine(database, two_workers, provider_for))
    scheduler = SyncScheduler(database, two_workers, held, startup_delay=timedelta(0))
    scheduler.start()
    try:
        # Both start-up syncs are inside at once: the pool runs them in parallel.
        wait_for(lambda: held.inside() == {first, second}, "both syncs running")
        assert scheduler.workers_busy == 2
        held.gate.set()
        wait_for(lambda: held.count() == 2 and not held.inside(), "both done")
        settle(scheduler)

        # One integration held in a sync, a worker free: a second sync of
        # the same integration waits for the first instead of joining it.
        held.gate.clear()
        scheduler.run_now(first, RunKind.INCREMENTAL)
        wait_for(lambda: held.inside() == {first}, "the held sync")
        scheduler.run_now(first, RunKind.FULL)
        # Nothing waits for a worker any more: the free one has taken it.
        wait_for(lambda: scheduler.queue_length == 0, "the second sync taken")
        assert scheduler.workers_busy == 1
        held.gate.set()
        wait_for(lambda: held.count() == 4 and not held.inside(), "all done")
    finally:
        held.gate.set()
        scheduler.stop()

    assert held.most_per_integration == 1
    assert held.calls[2:] == [(first, RunKind.INCREMENTAL), (first, RunKind.FULL)]
