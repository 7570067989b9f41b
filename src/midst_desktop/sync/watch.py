"""Watching local folders: changed paths gathered, de-duplicated and debounced."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

log = logging.getLogger(__name__)

# Never "opened" or "closed without writing": on a large tree those overflow
# the inotify queue, and watchdog 7's re-walk then keeps a core busy forever.
EVENT_FILTER = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileClosedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
DEBOUNCE_SECONDS = 0.5


class _Collector(FileSystemEventHandler):
    def __init__(self, watcher: FolderWatcher, integration_id: int, root: str) -> None:
        self.watcher = watcher
        self.integration_id = integration_id
        self.root = root

    def on_any_event(self, event: FileSystemEvent) -> None:
        if isinstance(event, DirModifiedEvent):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw)
            if path and (path == self.root or path.startswith(self.root + os.sep)):
                relative = os.path.relpath(path, self.root).replace(os.sep, "/")
                self.watcher.mark(
                    self.integration_id, "" if relative == "." else relative
                )


class FolderWatcher:
    """Collects changed relative paths per integration and hands them over.

    With on_changes, a timer hands them over once no event has come for the
    debounce time, so a burst of events becomes one small sync and nothing
    polls. Without it, take() returns them.
    """

    def __init__(
        self,
        on_changes: Callable[[int, set[str]], None] | None = None,
        debounce: float = DEBOUNCE_SECONDS,
    ) -> None:
        self._observer = Observer()
        self._lock = threading.Lock()
        self._changed: dict[int, set[str]] = {}
        self._last_event = 0.0
        self._on_changes = on_changes
        self._debounce = debounce
        self._timer: threading.Timer | None = None

    def watch(self, integration_id: int, root: str) -> None:
        """Start watching a folder recursively; slow on huge cold trees."""
        handler = _Collector(self, integration_id, os.path.realpath(root))
        self._observer.schedule(
            handler, os.path.realpath(root), recursive=True, event_filter=EVENT_FILTER
        )

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._on_changes = None
        self._observer.stop()
        self._observer.join(timeout=5)

    def mark(self, integration_id: int, relative: str) -> None:
        with self._lock:
            self._changed.setdefault(integration_id, set()).add(relative)
            self._last_event = time.monotonic()
            if self._on_changes is not None:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = threading.Timer(self._debounce, self._settled)
                self._timer.daemon = True
                self._timer.start()

    def _settled(self) -> None:
        with self._lock:
            changed, self._changed = self._changed, {}
            callback = self._on_changes
        if callback is None:
            return
        for integration_id, paths in changed.items():
            callback(integration_id, paths)

    def take(self, settle: float = DEBOUNCE_SECONDS) -> dict[int, set[str]]:
        """Changed paths, once no event has come for `settle` seconds."""
        with self._lock:
            if not self._changed or time.monotonic() - self._last_event < settle:
                return {}
            changed, self._changed = self._changed, {}
            return changed
