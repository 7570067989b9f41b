"""What the engine, providers and scheduler report, for whoever listens (metrics).

The sync layer must not import the endpoint, and the endpoint may not be
running at all, so reporting goes through this small hub: a report with no
listener costs a function call.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Protocol

log = logging.getLogger(__name__)


class Listener(Protocol):
    """Receives reports; each method must be quick and must not raise."""

    def task_executed(self, task_type: str, status: str) -> None: ...

    def classified(self, seconds: float) -> None: ...

    def provider_error(self, provider: str, kind: str) -> None: ...

    def token_expiry(self, integration_id: int, expires_at: datetime) -> None: ...


_listeners: list[Listener] = []
_lock = threading.Lock()


def subscribe(listener: Listener) -> None:
    with _lock:
        _listeners.append(listener)


def unsubscribe(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


def _each() -> list[Listener]:
    with _lock:
        return list(_listeners)


def task_executed(task_type: str, status: str) -> None:
    """A scheduled sync ended: task_type as in the operations guide."""
    for listener in _each():
        listener.task_executed(task_type, status)


def classified(seconds: float) -> None:
    """One file was classified, taking this long."""
    for listener in _each():
        listener.classified(seconds)


def provider_error(provider: str, kind: str) -> None:
    """A provider request failed: kind is transient, rate_limit, auth or other."""
    for listener in _each():
        listener.provider_error(provider, kind)


def token_expiry(integration_id: int, expires_at: datetime) -> None:
    """An integration's access token (new or refreshed) expires then (UTC)."""
    for listener in _each():
        listener.token_expiry(integration_id, expires_at)
