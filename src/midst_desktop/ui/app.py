"""The desktop app: the agent on a worker thread, the tray, and the windows."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from midst_desktop.agent import Agent
from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.ui import icons
from midst_desktop.ui.review import ReviewWindow
from midst_desktop.ui.settings import SettingsWindow, needs_onboarding
from midst_desktop.ui.tray import TrayController

log = logging.getLogger(__name__)

NO_TRAY_NOTICE = (
    "This desktop has no system tray, so midst-desktop runs in this window. "
    "Syncing goes on while it is open; closing it quits the app."
)
AGENT_STOP_SECONDS = 30.0


class DesktopApp(QObject):
    """Wires the agent, the tray and the windows; owns their lifetime."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        agent: Agent,
        use_tray: bool | None = None,
        learn: bool = True,
    ) -> None:
        super().__init__()
        self.database = database
        self.settings = settings
        self.agent = agent
        self.learn = learn
        self.review: ReviewWindow | None = None
        self.settings_window: SettingsWindow | None = None
        self._agent_thread: threading.Thread | None = None
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.has_tray = use_tray
        self.tray = TrayController(
            database,
            settings,
            agent.scheduler,
            lambda: self._show(self.open_review),
            lambda: self._show(self.open_settings),
            self.quit,
            use_tray=use_tray,
        )
        self.tray.notified.connect(self._notified)
        self.tray.refreshed.connect(self._tray_refreshed)
        # The newest run and how many were running, at the tray's last look.
        self._runs_seen: tuple[int, int] | None = None

    def start(self) -> None:
        """Start syncing, then show what this desktop can show."""
        self._agent_thread = threading.Thread(
            target=self.agent.run, name="midst-agent", daemon=True
        )
        self._agent_thread.start()
        if not self.has_tray:
            log.info("No system tray: showing the review window instead")
            review = self.open_review()
            review.show_notice(NO_TRAY_NOTICE)
        self._first_run()

    def _first_run(self) -> None:
        self.tray.workers.run(
            lambda: needs_onboarding(self.database),
            self._onboard_if,
        )

    def _onboard_if(self, needed: bool) -> None:
        if needed:
            self.open_settings(onboarding=True)

    def _show(self, opener: Callable[[], object]) -> None:
        opener()

    def open_review(self) -> ReviewWindow:
        if self.review is None:
            self.review = ReviewWindow(self.database, self.settings, learn=self.learn)
            self.review.setWindowIcon(icons.state_icon("idle"))
            self.review.counts_changed.connect(lambda _c: self.tray.refresh())
            if not self.has_tray:
                self.review.destroyed.connect(self.quit)
        self.review.show()
        self.review.raise_()
        self.review.activateWindow()
        return self.review

    def open_settings(self, onboarding: bool = False) -> SettingsWindow:
        if self.settings_window is None:
            window = SettingsWindow(
                self.database,
                self.settings,
                self.agent.scheduler,
                onboarding,
                apply_settings=self.agent.apply_settings,
            )
            window.integrations_changed.connect(self._integrations_changed)
            self.settings_window = window
        window = self.settings_window
        if onboarding:
            window.show_onboarding()
        window.show()
        window.raise_()
        return window

    def _integrations_changed(self) -> None:
        # The schedule learns of a new or removed integration at once.
        self.tray.workers.run(self.agent.scheduler.refresh)
        self.tray.refresh()
        if self.review is not None:
            self.review.refresh_sources()

    def _tray_refreshed(self) -> None:
        """After a run has ended, an open review window reads its tab again."""
        snapshot = self.tray.snapshot
        if snapshot is None:
            return
        runs = (snapshot.last_run_id, snapshot.busy)
        ended = self._runs_seen not in (None, runs) and snapshot.busy == 0
        self._runs_seen = runs
        if ended and self.review is not None and self.review.isVisible():
            self.review.sync_landed()

    def _notified(self, title: str, message: str) -> None:
        if not self.has_tray:
            review = self.review
            if review is not None:
                review.statusBar().showMessage(f"{title}: {message}", 15000)

    def quit(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def shutdown(self) -> None:
        """Stop the agent (its sync in hand ends after the batch) and the workers."""
        if self.review is not None:
            self.review.remember()
            self.review.shutdown()
        self.tray.shutdown()
        self.agent.stopping.set()
        if self._agent_thread is not None:
            self._agent_thread.join(AGENT_STOP_SECONDS)


def run_app(database: Database, settings: Settings) -> int:
    """Run the desktop app until Quit. Blocks; needs a display."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("midst-desktop")
    app.setApplicationDisplayName("midst-desktop")
    app.setDesktopFileName("midst-desktop")
    app.setWindowIcon(icons.state_icon("idle"))
    has_tray = QSystemTrayIcon.isSystemTrayAvailable()
    # With a tray, closing a window leaves the app in the tray.
    app.setQuitOnLastWindowClosed(not has_tray)

    desktop = DesktopApp(database, settings, Agent(database, settings), has_tray)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        # Queued, not called: a quit() before exec() has started is lost, and
        # the signal may come between start-up and the event loop.
        QTimer.singleShot(0, app.quit)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # Python runs signal handlers only between bytecodes; a timer gives it some.
    pulse = QTimer()
    pulse.timeout.connect(lambda: None)
    pulse.start(500)

    desktop.start()
    log.info("Desktop app started (tray %s)", "on" if has_tray else "not available")
    code = app.exec()
    desktop.shutdown()
    log.info("Desktop app stopped")
    return int(code)
