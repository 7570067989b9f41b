"""The headless agent: syncs on start, applies watched changes, syncs on an interval."""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime
from types import FrameType

from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database, StoreError
from midst_desktop.store.models import IntegrationStatus, Provider, RunKind, RunTrigger
from midst_desktop.sync.engine import SyncEngine, SyncRefusedError
from midst_desktop.sync.locks import SyncBusyError
from midst_desktop.sync.providers.base import ProviderError
from midst_desktop.sync.registry import providers_for
from midst_desktop.sync.watch import FolderWatcher

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25
PAUSE_KEY = "schedule_paused_until"


def schedule_paused(database: Database) -> bool:
    until = queries.get_state(database, PAUSE_KEY)
    if until is None:
        return False
    if until == "indefinitely":
        return True
    return bool(datetime.fromisoformat(str(until)) > datetime.now(UTC))


class Agent:
    """Owns the engine and the folder watcher; one thread does every sync."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.engine = SyncEngine(database, settings, providers_for(settings))
        self.watcher = FolderWatcher()
        self.stopping = threading.Event()

    def active_integrations(self) -> list[tuple[int, str, str | None]]:
        with self.database.read() as session:
            return [
                (i.id, i.provider, i.root_path)
                for i in queries.list_integrations(session)
                if i.status == IntegrationStatus.ACTIVE
            ]

    def sync(
        self,
        integration_id: int,
        kind: str,
        trigger: str,
        paths: set[str] | None = None,
    ) -> None:
        try:
            self.engine.sync(integration_id, kind, trigger, paths=paths)
        except (SyncBusyError, SyncRefusedError) as error:
            log.info("Sync of integration_id=%s not run: %s", integration_id, error)
        except (ProviderError, StoreError, OSError) as error:
            log.error("Sync of integration_id=%s failed: %s", integration_id, error)

    def run(self) -> None:
        integrations = self.active_integrations()
        for integration_id, provider, root in integrations:
            if provider == Provider.LOCAL and root:
                self.watcher.watch(integration_id, root)
        self.watcher.start()
        log.info("Agent started with %d integrations", len(integrations))
        for integration_id, _, _ in integrations:
            self.sync(integration_id, RunKind.INCREMENTAL, RunTrigger.STARTUP)
        interval = self.settings.incremental_interval_minutes * 60
        next_round = time.monotonic() + interval
        while not self.stopping.wait(TICK_SECONDS):
            for integration_id, paths in self.watcher.take().items():
                self.sync(
                    integration_id, RunKind.INCREMENTAL, RunTrigger.SCHEDULE, paths
                )
            if time.monotonic() >= next_round:
                next_round = time.monotonic() + interval
                if self.settings.scheduler_enabled and not schedule_paused(
                    self.database
                ):
                    for integration_id, _, _ in self.active_integrations():
                        self.sync(
                            integration_id, RunKind.INCREMENTAL, RunTrigger.SCHEDULE
                        )
        self.watcher.stop()
        log.info("Agent stopped")


def run_agent(database: Database, settings: Settings, serve: bool = False) -> int:
    """Run until SIGINT or SIGTERM. Blocks."""
    agent = Agent(database, settings)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        agent.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if serve:
        log.warning("The local endpoint is not in this version yet; running without it")
    agent.run()
    return 0
