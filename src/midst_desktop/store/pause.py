"""The schedule's pause, kept in the store so it survives a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from midst_desktop.store import queries
from midst_desktop.store.db import Database

PAUSE_KEY = "schedule_paused_until"
PAUSED_FOREVER = "indefinitely"


def paused_until(database: Database) -> str | None:
    """The stored end of a pause: an ISO time, 'indefinitely', or None."""
    value = queries.get_state(database, PAUSE_KEY)
    return None if value is None else str(value)


def is_paused(database: Database, now: datetime | None = None) -> bool:
    """Whether scheduled syncs are paused now; a pause past its end is not."""
    until = paused_until(database)
    if until is None:
        return False
    if until == PAUSED_FOREVER:
        return True
    return datetime.fromisoformat(until) > (now or datetime.now(UTC))


def set_pause(database: Database, until: str | None) -> None:
    """Pause until an ISO time or 'indefinitely'; None resumes."""
    queries.set_state(database, PAUSE_KEY, until)
