"""Waiting for something a background thread or process does, without timing it."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

DEADLINE_SECONDS = 30


def wait_for(
    condition: Callable[[], bool],
    what: str = "the expected state",
    deadline_seconds: float = DEADLINE_SECONDS,
) -> None:
    """Poll until condition holds; fail the test (never judging speed) if not."""
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)
