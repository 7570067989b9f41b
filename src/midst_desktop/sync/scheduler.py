"""The sync schedule: per integration an incremental and a full job (APScheduler 3).

Jobs live in memory and are rebuilt from the database at every start, never
pickled: the database already says which integrations exist, when each last
synced and whether the schedule is paused. Jobs coalesce, so a run missed ten
times (the machine slept) runs once; each job runs one instance at a time,
and a per-integration lock keeps the incremental and the full job of one
integration from overlapping. Another process syncing the same integration
is stopped by the engine's sync lock.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from midst_desktop import events
from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Integration, IntegrationStatus, RunKind
from midst_desktop.store.pause import PAUSED_FOREVER, is_paused, paused_until, set_pause

log = logging.getLogger(__name__)

# An overdue sync waits this long after start-up, so the app comes up first.
STARTUP_DELAY = timedelta(seconds=5)
# How often the jobs are rebuilt from the database (integrations added,
# removed, reconnected by the CLI or another process).
REFRESH_INTERVAL = timedelta(minutes=5)
# A wall-clock jump this much larger than the monotonic clock's means the
# machine slept; overdue work then runs at once instead of after the wait.
WAKE_CHECK_SECONDS = 60.0
WAKE_JUMP_SECONDS = 120.0
TASK_TYPES: dict[str, str] = {
    RunKind.FULL: "artifact_sync_full",
    RunKind.INCREMENTAL: "artifact_sync_incremental",
}

RunSync = Callable[[int, str, str, "set[str] | None"], str]
"""Runs one sync (integration id, kind, trigger, paths) and returns its status."""


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SyncScheduler:
    """The life of the schedule: start, rebuild, pause, resume, run now, stop."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        run_sync: RunSync,
        startup_delay: timedelta = STARTUP_DELAY,
        on_refresh: Callable[[list[Integration]], None] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self._run_sync = run_sync
        self._startup_delay = startup_delay
        self._on_refresh = on_refresh
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(settings.worker_count)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                # Late is fine: a sync missed while asleep still runs, once.
                "misfire_grace_time": None,
            },
            timezone=UTC,
        )
        self._integration_locks: dict[int, threading.Lock] = {}
        self._startup_runs: set[str] = set()
        self._locks_guard = threading.Lock()
        self._busy = 0
        self._busy_guard = threading.Lock()
        self._waker: threading.Thread | None = None
        self._resume_timer: threading.Timer | None = None
        self._stopping = threading.Event()

    # -- state, for /health and /metrics ----------------------------------

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running) and not self._stopping.is_set()

    @property
    def paused(self) -> bool:
        return is_paused(self.database)

    @property
    def workers_busy(self) -> int:
        return self._busy

    @property
    def queue_length(self) -> int:
        """Syncs that are due or asked for and wait for a free worker."""
        now = datetime.now(UTC)
        return sum(
            1
            for job in self._scheduler.get_jobs()
            if job.id.count(":") >= 1
            and job.next_run_time is not None
            and job.next_run_time <= now
        )

    def next_run(self, integration_id: int, kind: str) -> datetime | None:
        job = self._scheduler.get_job(f"{integration_id}:{kind}")
        return None if job is None else job.next_run_time

    # -- life -------------------------------------------------------------

    def start(self) -> None:
        """Build the jobs from the database and start; paused if it was."""
        if not self.settings.scheduler_enabled:
            log.info("Scheduler disabled (ORCH_SCHEDULER_ENABLED=false); no syncs run")
            return
        paused = self.paused
        self._scheduler.start(paused=paused)
        self.refresh(startup=True)
        self._scheduler.add_job(
            self.refresh,
            IntervalTrigger(seconds=REFRESH_INTERVAL.total_seconds()),
            id="refresh",
            replace_existing=True,
        )
        if paused:
            self._plan_resume()
            log.info("Scheduler started paused until %s", paused_until(self.database))
        else:
            log.info("Scheduler started")
        self._waker = threading.Thread(
            target=self._watch_for_wake, name="midst-wake", daemon=True
        )
        self._waker.start()

    def stop(self, wait: bool = True) -> None:
        """Stop scheduling; with wait, let running syncs end first."""
        self._stopping.set()
        if self._resume_timer is not None:
            self._resume_timer.cancel()
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        if self._waker is not None:
            self._waker.join(timeout=5)
        log.info("Scheduler stopped")

    def wakeup(self) -> None:
        """Look at the jobs now (after a sleep, a clock change, a test's jump)."""
        if self._scheduler.running:
            self._scheduler.wakeup()

    # -- the jobs ---------------------------------------------------------

    def refresh(self, startup: bool = False) -> None:
        """Make the jobs match the active integrations in the database."""
        with self.database.read() as session:
            active = [
                i
                for i in queries.list_integrations(session)
                if i.status in (IntegrationStatus.ACTIVE, IntegrationStatus.ERROR)
            ]
        wanted: set[str] = set()
        for integration in active:
            for kind in (RunKind.INCREMENTAL, RunKind.FULL):
                job_id = f"{integration.id}:{kind}"
                wanted.add(job_id)
                if self._scheduler.get_job(job_id) is None:
                    self._add_interval_job(integration, kind, startup)
        for job in self._scheduler.get_jobs():
            if job.id.count(":") == 1 and job.id not in wanted:
                job.remove()
                log.info("Removed the schedule of job %s", job.id)
        if self._on_refresh is not None:
            self._on_refresh(active)

    def set_intervals(self, incremental_minutes: int, full_hours: int) -> None:
        """Use new intervals now: each job's next run counts from its last sync."""
        self.settings = dataclasses.replace(
            self.settings,
            incremental_interval_minutes=incremental_minutes,
            full_interval_hours=full_hours,
        )
        if not self._scheduler.running or self._stopping.is_set():
            return
        with self.database.read() as session:
            scheduled = [
                integration
                for integration in queries.list_integrations(session)
                if self._scheduler.get_job(f"{integration.id}:{RunKind.INCREMENTAL}")
            ]
        for integration in scheduled:
            for kind in (RunKind.INCREMENTAL, RunKind.FULL):
                self._add_interval_job(integration, kind, startup=False)

    def _interval(self, kind: str) -> timedelta:
        if kind == RunKind.FULL:
            return timedelta(hours=self.settings.full_interval_hours)
        return timedelta(minutes=self.settings.incremental_interval_minutes)

    def _add_interval_job(
        self, integration: Integration, kind: str, startup: bool
    ) -> None:
        interval = self._interval(kind)
        now = datetime.now(UTC)
        soon = now + self._startup_delay
        if kind == RunKind.FULL:
            last = _as_utc(integration.last_full_sync_at)
            if last is None and integration.cursor is None:
                # Never synced: the incremental job's first run is a full one.
                last = now
        else:
            last = _as_utc(integration.last_synced_at)
        due = soon if last is None else last + interval
        # A local folder may have changed while nothing watched it: a stat-only
        # rescan at start-up is cheap, so it always runs.
        local_at_start = (
            startup and kind == RunKind.INCREMENTAL and integration.provider == "local"
        )
        overdue = due <= soon
        first = soon if overdue or local_at_start else due
        job_id = f"{integration.id}:{kind}"
        if startup and (overdue or local_at_start):
            with self._locks_guard:
                self._startup_runs.add(job_id)
        self._scheduler.add_job(
            self._run_job,
            IntervalTrigger(
                seconds=interval.total_seconds(), start_date=first, timezone=UTC
            ),
            args=(integration.id, kind),
            id=job_id,
            next_run_time=first,
            replace_existing=True,
        )
        log.info(
            "Scheduled %s sync of integration_id=%s every %s, next at %s",
            kind,
            integration.id,
            interval,
            first.isoformat(timespec="seconds"),
        )

    def run_now(self, integration_id: int, kind: str = RunKind.INCREMENTAL) -> None:
        """Sync one integration as soon as a worker is free (Sync now)."""
        self._scheduler.add_job(
            self._run_job,
            DateTrigger(datetime.now(UTC), timezone=UTC),
            args=(integration_id, kind, "manual"),
            id=f"{integration_id}:{kind}:now",
            replace_existing=True,
        )

    def sync_paths(self, integration_id: int, paths: set[str]) -> None:
        """Apply watched changes: one small sync of just those paths."""
        if not self._scheduler.running or self._stopping.is_set():
            return
        self._scheduler.add_job(
            self._run_job,
            DateTrigger(datetime.now(UTC), timezone=UTC),
            args=(integration_id, RunKind.INCREMENTAL, "schedule", paths),
            id=f"{integration_id}:watched:{time.monotonic_ns()}",
        )

    def _lock_for(self, integration_id: int) -> threading.Lock:
        with self._locks_guard:
            return self._integration_locks.setdefault(integration_id, threading.Lock())

    def _run_job(
        self,
        integration_id: int,
        kind: str,
        trigger: str | None = None,
        paths: set[str] | None = None,
    ) -> None:
        # Never call into the scheduler from here: shutdown() holds its locks
        # while it waits for running jobs.
        if self._stopping.is_set():
            return
        if trigger is None:
            # An interval job: its first run may be the start-up catch-up.
            job_id = f"{integration_id}:{kind}"
            with self._locks_guard:
                first = job_id in self._startup_runs
                self._startup_runs.discard(job_id)
            trigger = "startup" if first else "schedule"
        with self._lock_for(integration_id):
            if self._stopping.is_set():
                return
            with self._busy_guard:
                self._busy += 1
            try:
                status = self._run_sync(integration_id, kind, trigger, paths)
            finally:
                with self._busy_guard:
                    self._busy -= 1
        events.task_executed(TASK_TYPES.get(kind, f"artifact_sync_{kind}"), status)

    # -- pause and resume -------------------------------------------------

    def pause(self, until: str) -> None:
        """Pause every integration's schedule; until is ISO time or 'indefinitely'."""
        set_pause(self.database, until)
        if self._scheduler.running:
            self._scheduler.pause()
            self._plan_resume()
        log.info("Schedule paused until %s", until)

    def resume(self) -> None:
        set_pause(self.database, None)
        self._resume_jobs()
        log.info("Schedule resumed")

    def _resume_jobs(self) -> None:
        if self._scheduler.running:
            self._scheduler.resume()

    def _plan_resume(self) -> None:
        """A timed pause ends by itself, even across a restart."""
        until = paused_until(self.database)
        if until is None or until == PAUSED_FOREVER:
            return
        # The scheduler is paused, so a job would not fire: a timer does it.
        delay = (datetime.fromisoformat(until) - datetime.now(UTC)).total_seconds()
        if self._resume_timer is not None:
            self._resume_timer.cancel()
        timer = threading.Timer(max(delay, 0.0), self._end_timed_pause, args=(until,))
        timer.daemon = True
        timer.start()
        self._resume_timer = timer

    def _end_timed_pause(self, until: str) -> None:
        if self._stopping.is_set() or paused_until(self.database) != until:
            return  # resumed by hand, or paused again with another end
        set_pause(self.database, None)
        self._resume_jobs()
        log.info("Pause ended; scheduled syncs run again")

    def sync_pause_state(self) -> None:
        """Follow a pause or resume made by another process (the CLI)."""
        if not self._scheduler.running:
            return
        paused = self.paused
        state_paused = self._scheduler.state == STATE_PAUSED
        if paused and not state_paused:
            self._scheduler.pause()
            self._plan_resume()
            log.info("Schedule paused until %s", paused_until(self.database))
        elif not paused and state_paused:
            if paused_until(self.database) is not None:
                set_pause(self.database, None)  # a timed pause that has ended
            self._resume_jobs()
            log.info("Schedule resumed")

    # -- sleep -----------------------------------------------------------

    def _watch_for_wake(self) -> None:
        wall, mono = time.time(), time.monotonic()
        while not self._stopping.wait(WAKE_CHECK_SECONDS):
            new_wall, new_mono = time.time(), time.monotonic()
            jump = (new_wall - wall) - (new_mono - mono)
            wall, mono = new_wall, new_mono
            if jump > WAKE_JUMP_SECONDS:
                log.info(
                    "Woke from sleep after about %d min; running overdue syncs once",
                    jump // 60,
                )
                self.wakeup()
            self.sync_pause_state()
