"""Running store, keyring and sync calls off the GUI thread, with signals back."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class _Signals(QObject):
    # Only the job's number crosses threads: results stay in a plain dict.
    # PySide6 6.12 can free a Python object carried by a queued Signal(object)
    # too early under load ("deallocating None"), which ends the process.
    finished = Signal(int)
    # A job's number, how many of its parts are done, and how many there are.
    progressed = Signal(int, int, int)


class _Job(QRunnable):
    def __init__(
        self,
        number: int,
        work: Callable[[], Any],
        results: dict[int, tuple[bool, Any]],
        signals: _Signals,
        counted: Callable[[Progress], Any] | None = None,
    ) -> None:
        super().__init__()
        self._number = number
        self._work = work
        self._counted = counted
        self._results = results
        self.signals = signals

    def report(self, done: int, total: int) -> None:
        self.signals.progressed.emit(self._number, done, total)

    def run(self) -> None:
        try:
            if self._counted is not None:
                outcome: tuple[bool, Any] = (True, self._counted(self.report))
            else:
                outcome = (True, self._work())
        except Exception as error:  # reported to the person, never lost
            log.warning("Background task failed: %s", error)
            outcome = (False, words_for(error))
        self._results[self._number] = outcome
        self.signals.finished.emit(self._number)


class Workers(QObject):
    """A thread pool whose jobs report on the GUI thread through signals.

    Every database, keyring or network call of the UI goes through run(), so
    the window keeps painting while the store or a provider is slow.
    """

    def __init__(self, parent: QObject | None = None, threads: int = 2) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._numbers = itertools.count(1)
        self._results: dict[int, tuple[bool, Any]] = {}
        self._callbacks: dict[
            int, tuple[Callable[[Any], None] | None, Callable[[str], None] | None]
        ] = {}
        self._progress: dict[int, Progress] = {}
        self._signals = _Signals(self)
        self._signals.finished.connect(self._finished)
        self._signals.progressed.connect(self._progressed)

    def run(
        self,
        work: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        number = next(self._numbers)
        self._callbacks[number] = (on_done, on_error)
        job = _Job(number, work, self._results, self._signals)
        self.pool.start(job)

    def run_counted(
        self,
        work: Callable[[Progress], Any],
        on_progress: Progress,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        """Like run(), for work that reports (done, total) as it goes.

        work is called on the worker thread with a report function; each
        report reaches on_progress on the GUI thread, before on_done.
        """
        number = next(self._numbers)
        self._callbacks[number] = (on_done, on_error)
        self._progress[number] = on_progress
        job = _Job(number, _nothing, self._results, self._signals, counted=work)
        self.pool.start(job)

    def _progressed(self, number: int, done: int, total: int) -> None:
        on_progress = self._progress.get(number)
        if on_progress is not None:
            on_progress(done, total)

    def _finished(self, number: int) -> None:
        self._progress.pop(number, None)
        ok, value = self._results.pop(number)
        on_done, on_error = self._callbacks.pop(number, (None, None))
        if ok and on_done is not None:
            on_done(value)
        elif not ok and on_error is not None:
            on_error(str(value))

    @property
    def busy(self) -> bool:
        return bool(self._callbacks)

    def wait(self, msecs: int = 30000) -> bool:
        """Wait for every job (shutting down, tests); True when all ended."""
        return bool(self.pool.waitForDone(msecs))


def _nothing() -> None:
    return None


def words_for(error: Exception) -> str:
    """One line the person can act on; the database's own text stays in the log."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from midst_desktop.store.db import StoreError, describe_store_error

    if isinstance(error, StoreError):
        return str(error)  # worded for the person by the store
    if isinstance(error, OperationalError):
        # A driver error that did not pass through the store's own wording.
        if "database is locked" in str(error.orig):
            return str(describe_store_error(error))
        return (
            "the database could not be reached; check that it is running and "
            "try again (the log has the details)"
        )
    if isinstance(error, DBAPIError):
        return "the database refused the change (the log has the details)"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
