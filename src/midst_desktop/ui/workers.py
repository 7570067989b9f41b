"""Running store, keyring and sync calls off the GUI thread, with signals back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Job(QRunnable):
    def __init__(self, work: Callable[[], Any], signals: _Signals) -> None:
        super().__init__()
        self._work = work
        self.signals = signals

    def run(self) -> None:
        try:
            result = self._work()
        except Exception as error:  # reported to the person, never lost
            log.warning("Background task failed: %s", error)
            self.signals.failed.emit(str(error) or type(error).__name__)
            return
        self.signals.done.emit(result)


class Workers(QObject):
    """A thread pool whose jobs report on the GUI thread through signals.

    Every database, keyring or network call of the UI goes through run(), so
    the window keeps painting while the store or a provider is slow.
    """

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        # The signal objects live until their job has reported.
        self._pending: set[_Signals] = set()

    def run(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        signals = _Signals()
        self._pending.add(signals)

        def finished(result: Any) -> None:
            self._pending.discard(signals)
            if on_done is not None:
                on_done(result)

        def failed(message: str) -> None:
            self._pending.discard(signals)
            if on_error is not None:
                on_error(message)

        signals.done.connect(finished)
        signals.failed.connect(failed)
        self.pool.start(_Job(work, signals))

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def wait(self, msecs: int = 30000) -> bool:
        """Wait for every job (shutting down, tests); True when all ended."""
        return bool(self.pool.waitForDone(msecs))
