"""The headless agent: the schedule, watched folders, and the optional endpoint."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import TYPE_CHECKING

from midst_desktop import events
from midst_desktop.config import Settings
from midst_desktop.store.db import Database, StoreError
from midst_desktop.store.models import Integration, Provider, RunStatus
from midst_desktop.sync.engine import SyncCancelledError, SyncEngine, SyncRefusedError
from midst_desktop.sync.locks import SyncBusyError
from midst_desktop.sync.providers.base import ProviderError
from midst_desktop.sync.registry import providers_for
from midst_desktop.sync.scheduler import STARTUP_DELAY, SyncScheduler
from midst_desktop.sync.watch import FolderWatcher

if TYPE_CHECKING:
    from midst_desktop.service.endpoint import Endpoint
    from midst_desktop.service.metrics import Metrics

log = logging.getLogger(__name__)

NOT_RUN = "skipped"


class Agent:
    """Owns the engine, the schedule, the folder watcher and the endpoint.

    run() blocks until stopping is set (by a signal, the tray, or a test);
    then the sync in hand stops after its batch, recorded as cancelled.
    """

    def __init__(
        self,
        database: Database,
        settings: Settings,
        serve: bool = False,
        startup_delay: timedelta = STARTUP_DELAY,
    ) -> None:
        self.database = database
        self.settings = settings
        self.serve = serve or settings.endpoint_enabled
        self.engine = SyncEngine(database, settings, providers_for(settings))
        self.scheduler = SyncScheduler(
            database,
            settings,
            self.sync,
            startup_delay=startup_delay,
            on_refresh=self._watch_new_folders,
        )
        self.watcher = FolderWatcher(on_changes=self.scheduler.sync_paths)
        self._watched: set[int] = set()
        self.stopping = threading.Event()
        self.endpoint_port: int | None = None
        self._endpoint: Endpoint | None = None
        self._metrics: Metrics | None = None
        # Guards the endpoint and the running flag: the settings window
        # changes them from a worker thread while run() owns them.
        self._endpoint_guard = threading.Lock()
        self._running = False

    def sync(
        self,
        integration_id: int,
        kind: str,
        trigger: str,
        paths: set[str] | None = None,
    ) -> str:
        """Run one sync; returns the run's status, or 'skipped'. Never raises."""
        try:
            run = self.engine.sync(integration_id, kind, trigger, paths=paths)
        except (SyncBusyError, SyncRefusedError) as error:
            log.info("Sync of integration_id=%s not run: %s", integration_id, error)
            return NOT_RUN
        except SyncCancelledError:
            return RunStatus.CANCELLED
        except (ProviderError, StoreError, OSError) as error:
            log.error("Sync of integration_id=%s failed: %s", integration_id, error)
            return RunStatus.FAILED
        return str(run.status)

    def _watch_new_folders(self, active: list[Integration]) -> None:
        for integration in active:
            if (
                integration.provider == Provider.LOCAL
                and integration.root_path
                and integration.id not in self._watched
            ):
                try:
                    self.watcher.watch(integration.id, integration.root_path)
                except OSError as error:
                    log.warning(
                        "Cannot watch the folder of integration_id=%s: %s",
                        integration.id,
                        error.strerror or error,
                    )
                    continue
                self._watched.add(integration.id)

    def run(self) -> int:
        """Run until stopping is set. Returns the exit code."""
        from midst_desktop.service.endpoint import EndpointError

        with self._endpoint_guard:
            if self.serve:
                try:
                    self._open_endpoint()
                except EndpointError as error:
                    log.error("%s", error)
                    return 1
            self._running = True

        # With the scheduler off nothing syncs by itself, watched changes
        # included; syncs run only when asked for.
        if self.settings.scheduler_enabled:
            self.watcher.start()
        self.scheduler.start()
        log.info("Agent started")
        self.stopping.wait()

        log.info("Agent stopping")
        self.engine.stop()
        self.watcher.stop()
        self.scheduler.stop(wait=True)
        with self._endpoint_guard:
            self._running = False
            self._close_endpoint()
        log.info("Agent stopped")
        return 0

    def apply_settings(
        self,
        incremental_interval_minutes: int,
        full_interval_hours: int,
        endpoint_enabled: bool,
        endpoint_port: int,
        endpoint_token: str,
    ) -> None:
        """Use new schedule and endpoint settings now, without a restart.

        Blocks while the endpoint stops and starts; raises EndpointError when
        the new port cannot be had (the endpoint is then off).
        """
        self.settings = dataclasses.replace(
            self.settings,
            incremental_interval_minutes=incremental_interval_minutes,
            full_interval_hours=full_interval_hours,
            endpoint_enabled=endpoint_enabled,
            endpoint_port=endpoint_port,
            endpoint_token=endpoint_token,
        )
        self.scheduler.set_intervals(incremental_interval_minutes, full_interval_hours)
        with self._endpoint_guard:
            self.serve = endpoint_enabled
            if not self._running:
                return  # run() starts what the settings now say
            self._close_endpoint()
            if endpoint_enabled:
                self._open_endpoint()

    def _open_endpoint(self) -> None:
        """Start the endpoint with the current settings; raises EndpointError."""
        from midst_desktop.service.endpoint import Endpoint
        from midst_desktop.service.health import health_report
        from midst_desktop.service.metrics import Metrics

        metrics = Metrics(
            self.database,
            lambda: (
                self.scheduler.queue_length,
                self.scheduler.workers_busy,
                self.settings.worker_count,
            ),
        )
        endpoint = Endpoint(
            self.settings.endpoint_port,
            self.settings.endpoint_token,
            lambda: health_report(self.database, self.settings, self.scheduler),
            metrics.render,
        )
        endpoint.start()
        events.subscribe(metrics)
        self._endpoint, self._metrics = endpoint, metrics
        self.endpoint_port = endpoint.port

    def _close_endpoint(self) -> None:
        if self._endpoint is not None:
            self._endpoint.stop()
        if self._metrics is not None:
            events.unsubscribe(self._metrics)
        self._endpoint, self._metrics = None, None
        self.endpoint_port = None


def run_agent(database: Database, settings: Settings, serve: bool = False) -> int:
    """Run until SIGINT or SIGTERM. Blocks."""
    stop_asked = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop_asked.set()

    # Handlers first: a Ctrl+C while the agent is still starting is a clean
    # stop too, not an interrupted start-up.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    agent = Agent(database, settings, serve=serve)
    agent.stopping = stop_asked
    return agent.run()
