"""The health document: the operations guide's two health responses in one."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import text

from midst_desktop import __version__
from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database, StoreError
from midst_desktop.store.models import IntegrationStatus, Provider
from midst_desktop.store.pause import paused_until
from midst_desktop.sync.providers.base import CredentialsUnavailableError
from midst_desktop.sync.tokens import TokenStore

# A keyring that does not answer in this time is reported, not waited for:
# a locked collection on a desktop may hold a call until someone unlocks it.
KEYRING_CHECK_SECONDS = 3.0
PROCESS_STARTED = time.monotonic()


def keyring_state() -> str:
    """'ok', or a sentence for the person (locked, missing, not answering).

    Asks the token store, so the backend is the one the tokens live in,
    chosen among the secure ones only. Blocks for at most
    KEYRING_CHECK_SECONDS.
    """
    try:
        TokenStore(timeout_seconds=KEYRING_CHECK_SECONDS).check()
    except CredentialsUnavailableError as error:
        return str(error)
    except Exception as error:  # a broken backend must not break /health
        return f"keyring unavailable: {type(error).__name__}"
    return "ok"


class SchedulerState(Protocol):
    """What the health document reads of a running schedule."""

    @property
    def running(self) -> bool: ...

    @property
    def queue_length(self) -> int: ...

    @property
    def workers_busy(self) -> int: ...


def _integration_check(status: str) -> str:
    if status == IntegrationStatus.ACTIVE:
        return "ok"
    return str(status)


def health_report(
    database: Database,
    settings: Settings,
    scheduler: SchedulerState | None = None,
) -> dict[str, Any]:
    """Everything /health and `health --json` say; never raises for a bad store."""
    checks: dict[str, str] = {}
    integrations: list[dict[str, Any]] = []
    artifacts: dict[str, int] = {}
    last_run: dict[str, Any] | None = None
    try:
        with database.read() as session:
            session.execute(text("SELECT 1"))
            integrations = [
                queries.integration_json(i) for i in queries.list_integrations(session)
            ]
            artifacts = queries.count_by_status(session)
            runs = queries.latest_runs(session, 1)
            last_run = queries.run_json(runs[0]) if runs else None
        checks["database"] = "ok"
    except StoreError as error:
        checks["database"] = str(error)
    database_ok = checks["database"] == "ok"

    cloud = [i for i in integrations if i["provider"] != Provider.LOCAL]
    checks["keyring"] = keyring_state() if cloud else "ok"
    paused = paused_until(database) if database_ok else None
    if scheduler is None:
        checks["scheduler"] = "not running in this process"
    elif not settings.scheduler_enabled:
        checks["scheduler"] = "disabled"
    elif paused:
        checks["scheduler"] = "paused"
    else:
        checks["scheduler"] = "ok" if scheduler.running else "stopped"
    for integration in integrations:
        checks[f"integration_{integration['id']}"] = _integration_check(
            integration["status"]
        )

    attention = any(
        value != "ok"
        for key, value in checks.items()
        if key.startswith("integration_") or key == "keyring"
    )
    scheduler_broken = scheduler is not None and checks["scheduler"] == "stopped"
    if not database_ok:
        status = "unhealthy"
    elif attention or scheduler_broken:
        status = "degraded"
    else:
        status = "healthy"
    return {
        "ok": database_ok,
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(),
        "uptime": round(time.monotonic() - PROCESS_STARTED, 3),
        "version": __version__,
        "checks": checks,
        "workers": settings.worker_count,
        "queueLength": 0 if scheduler is None else scheduler.queue_length,
        "workersBusy": 0 if scheduler is None else scheduler.workers_busy,
        "schedulerRunning": scheduler is not None and scheduler.running,
        "paused_until": paused,
        "integrations": [
            {
                key: i[key]
                for key in ("id", "provider", "status", "last_synced_at", "last_error")
            }
            for i in integrations
        ],
        "artifacts": artifacts,
        "last_run": last_run,
        "database": "sqlite" if settings.database_is_sqlite else "postgresql",
    }
