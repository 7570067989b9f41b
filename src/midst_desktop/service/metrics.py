"""Prometheus metrics on a registry of their own, named as in the operations guide.

Labels carry integration ids and fixed words only: never a file name, a path
or an e-mail address.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from midst_desktop.store import queries
from midst_desktop.store.db import Database, StoreError
from midst_desktop.store.models import IntegrationStatus

log = logging.getLogger(__name__)

CLASSIFICATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
PROVIDER_ERROR_KINDS = ("transient", "rate_limit", "auth", "other")

SchedulerNumbers = Callable[[], tuple[int, int, int]]
"""Returns (queue length, workers busy, workers total)."""

TokenExpiries = Callable[[], dict[int, float]]
"""Returns seconds until each cloud integration's access token expires."""


class _StoreCollector(Collector):
    """Numbers read at scrape time from the store and the scheduler."""

    def __init__(
        self,
        database: Database,
        scheduler_numbers: SchedulerNumbers,
        token_expiries: TokenExpiries,
    ) -> None:
        self.database = database
        self.scheduler_numbers = scheduler_numbers
        self.token_expiries = token_expiries

    def collect(self) -> Iterator[Metric]:
        queue, busy, total = self.scheduler_numbers()
        queue_length = GaugeMetricFamily(
            "midst_orch_queue_length", "Syncs waiting for a worker", labels=["queue"]
        )
        queue_length.add_metric(["artifact_sync"], queue)
        yield queue_length
        yield GaugeMetricFamily(
            "midst_orch_workers_busy", "Workers running a sync", value=busy
        )
        yield GaugeMetricFamily(
            "midst_orch_workers_total", "Workers in the pool", value=total
        )
        yield from self._from_store()
        expiry = GaugeMetricFamily(
            "midst_oauth_token_expiry_seconds",
            "Seconds until the access token of an integration expires",
            labels=["integration"],
        )
        for integration_id, seconds in sorted(self.token_expiries().items()):
            expiry.add_metric([str(integration_id)], seconds)
        yield expiry

    def _from_store(self) -> Iterator[Metric]:
        artifacts = GaugeMetricFamily(
            "midst_artifacts", "Artifacts by review status", labels=["status"]
        )
        last_success = GaugeMetricFamily(
            "midst_sync_last_success_timestamp_seconds",
            "When each integration last synced successfully",
            labels=["integration"],
        )
        auth = GaugeMetricFamily(
            "midst_integration_auth_ok",
            "1 while an integration's credentials work, 0 when it needs reconnecting",
            labels=["integration"],
        )
        try:
            with self.database.read() as session:
                counts = queries.count_by_status(session)
                integrations = queries.list_integrations(session)
                rows = [
                    (i.id, i.last_synced_at, i.status != IntegrationStatus.NEEDS_REAUTH)
                    for i in integrations
                ]
        except StoreError as error:
            log.warning("Metrics could not read the store: %s", error)
            return
        for status, number in sorted(counts.items()):
            artifacts.add_metric([status], number)
        for integration_id, synced, auth_ok in rows:
            if synced is not None:
                last_success.add_metric([str(integration_id)], synced.timestamp())
            auth.add_metric([str(integration_id)], 1.0 if auth_ok else 0.0)
        yield artifacts
        yield last_success
        yield auth


class Metrics:
    """The registry, and the listener that events.py reports to."""

    def __init__(
        self,
        database: Database,
        scheduler_numbers: SchedulerNumbers,
        token_expiries: TokenExpiries | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.tasks_executed = Counter(
            "midst_orch_tasks_executed",
            "Scheduled syncs run, by type and final status",
            ["type", "status"],
            registry=self.registry,
        )
        self.classification_duration = Histogram(
            "midst_orch_classification_duration_seconds",
            "Time to classify one file",
            buckets=CLASSIFICATION_BUCKETS,
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "midst_provider_errors",
            "Failed provider requests, by provider and kind",
            ["provider", "kind"],
            registry=self.registry,
        )
        self._expiries: dict[int, datetime] = {}
        self._expiries_guard = threading.Lock()
        ProcessCollector(registry=self.registry)
        self.registry.register(
            _StoreCollector(
                database, scheduler_numbers, token_expiries or self._seconds_left
            )
        )

    def task_executed(self, task_type: str, status: str) -> None:
        self.tasks_executed.labels(type=task_type, status=status).inc()

    def classified(self, seconds: float) -> None:
        self.classification_duration.observe(seconds)

    def provider_error(self, provider: str, kind: str) -> None:
        if kind not in PROVIDER_ERROR_KINDS:
            kind = "other"
        self.provider_errors.labels(provider=provider, kind=kind).inc()

    def token_expiry(self, integration_id: int, expires_at: datetime) -> None:
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)  # the SDKs give UTC
        with self._expiries_guard:
            self._expiries[integration_id] = expires_at

    def _seconds_left(self) -> dict[int, float]:
        now = datetime.now(UTC)
        with self._expiries_guard:
            return {
                integration_id: (expires_at - now).total_seconds()
                for integration_id, expires_at in self._expiries.items()
            }

    def render(self) -> bytes:
        """The Prometheus text exposition of everything."""
        return generate_latest(self.registry)
