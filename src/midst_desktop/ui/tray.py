"""The tray icon and its menu: state, to-review count, sync, pause, windows, quit."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon
from PySide6.QtWidgets import QMenu, QMessageBox, QSystemTrayIcon

from midst_desktop import __version__
from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.store.models import RunKind
from midst_desktop.ui import icons
from midst_desktop.ui.state import (
    IDLE,
    Notice,
    NotificationBatcher,
    Snapshot,
    review_label,
    take_snapshot,
    tooltip,
    tray_state,
)
from midst_desktop.ui.workers import Workers

log = logging.getLogger(__name__)

# How often the tray looks at the store; a look is one small read on a worker.
REFRESH_MS = 5000


class Schedule(Protocol):
    """What the tray needs of the scheduler (SyncScheduler has it)."""

    @property
    def workers_busy(self) -> int: ...

    def run_now(self, integration_id: int, kind: str = ...) -> None: ...

    def pause(self, until: str) -> None: ...

    def resume(self) -> None: ...


class TrayController(QObject):
    """Builds the menu, keeps state and tooltip current, and shows notices.

    Works without a tray host too: the menu and its actions exist either way,
    and notices then go to the notified signal (the review window shows them).
    """

    state_changed = Signal(str)
    notified = Signal(str, str)
    refreshed = Signal()

    def __init__(
        self,
        database: Database,
        settings: Settings,
        schedule: Schedule,
        open_review: Callable[[], None],
        open_settings: Callable[[], None],
        quit_app: Callable[[], None],
        use_tray: bool | None = None,
        refresh_ms: int = REFRESH_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.settings = settings
        self.schedule = schedule
        self.workers = Workers(self, threads=1)
        self.batcher = NotificationBatcher()
        self.snapshot: Snapshot | None = None
        self.state = IDLE
        self.notices: list[Notice] = []
        self._integrations_shown: tuple[tuple[int, str], ...] | None = None
        self._refreshing = False
        self._open_review = open_review
        self._open_settings = open_settings
        self._quit = quit_app
        self.about_box: QMessageBox | None = None

        self.menu = QMenu()
        self.menu.setAccessibleName("midst-desktop menu")
        self._build_menu()
        if use_tray is None:
            use_tray = QSystemTrayIcon.isSystemTrayAvailable()
        self.tray: QSystemTrayIcon | None = None
        if use_tray:
            self.tray = QSystemTrayIcon(self)
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._activated)
        self._icons: dict[str, QIcon] = {}
        self._show_state(IDLE)
        if self.tray is not None:
            self.tray.show()

        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()
        self.refresh()

    # -- the menu ---------------------------------------------------------

    def _build_menu(self) -> None:
        menu = self.menu
        self.review_count_action = menu.addAction("Looking for artifacts...")
        self.review_count_action.triggered.connect(self._open_review)
        menu.addSeparator()

        self.sync_menu = menu.addMenu("Sync now")
        self.sync_menu.setAccessibleName("Sync now")
        self.pause_menu = menu.addMenu("Pause syncing")
        self.pause_menu.setAccessibleName("Pause syncing")
        self.pause_hour_action = self.pause_menu.addAction("For 1 hour")
        self.pause_hour_action.triggered.connect(lambda: self.pause("1h"))
        self.pause_tomorrow_action = self.pause_menu.addAction("Until tomorrow")
        self.pause_tomorrow_action.triggered.connect(
            lambda: self.pause("until-tomorrow")
        )
        self.pause_forever_action = self.pause_menu.addAction("Until resumed")
        self.pause_forever_action.triggered.connect(lambda: self.pause(None))
        self.resume_action = menu.addAction("Resume syncing")
        self.resume_action.triggered.connect(self.resume)
        self.resume_action.setVisible(False)
        menu.addSeparator()

        self.review_action = menu.addAction("Review artifacts...")
        self.review_action.triggered.connect(self._open_review)
        self.settings_action = menu.addAction("Integrations and settings...")
        self.settings_action.triggered.connect(self._open_settings)
        self.log_action = menu.addAction("Open log folder")
        self.log_action.triggered.connect(self.open_log_folder)
        self.about_action = menu.addAction("About midst-desktop")
        self.about_action.triggered.connect(self.show_about)
        menu.addSeparator()
        self.quit_action = menu.addAction("Quit")
        self.quit_action.triggered.connect(self._quit)
        self._fill_sync_menu(())

    def _fill_sync_menu(self, integrations: tuple[tuple[int, str], ...]) -> None:
        if integrations == self._integrations_shown:
            return
        self._integrations_shown = integrations
        self.sync_menu.clear()
        self.sync_actions: dict[tuple[int, str], QAction] = {}
        if not integrations:
            empty = self.sync_menu.addAction("No integrations yet")
            empty.setEnabled(False)
            return
        everything = self.sync_menu.addAction("All integrations")
        everything.triggered.connect(self.sync_all)
        self.sync_all_action = everything
        self.sync_menu.addSeparator()
        for integration_id, name in integrations:
            submenu = self.sync_menu.addMenu(name)
            submenu.setAccessibleName(f"Sync {name}")
            for kind, words in (
                (RunKind.INCREMENTAL, "Changes since last sync"),
                (RunKind.FULL, "Full sync"),
            ):
                action = submenu.addAction(words)
                action.triggered.connect(
                    lambda _c=False, i=integration_id, k=kind: self.sync_now(i, k)
                )
                self.sync_actions[(integration_id, kind)] = action

    # -- what the actions do ----------------------------------------------

    def sync_now(self, integration_id: int, kind: str) -> None:
        self.schedule.run_now(integration_id, kind)
        log.info("Sync now asked for integration_id=%s (%s)", integration_id, kind)
        self._soon()

    def sync_all(self) -> None:
        for integration_id, _name in self._integrations_shown or ():
            self.schedule.run_now(integration_id, RunKind.INCREMENTAL)
        self._soon()

    def pause(self, duration: str | None) -> None:
        from midst_desktop.cli import parse_pause

        until = parse_pause(duration, datetime.now(UTC))
        self.workers.run(lambda: self.schedule.pause(until), lambda _r: self.refresh())

    def resume(self) -> None:
        self.workers.run(self.schedule.resume, lambda _r: self.refresh())

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.settings.log_dir)))

    def show_about(self) -> None:
        if self.about_box is None:
            self.about_box = QMessageBox(
                QMessageBox.Icon.Information,
                "About midst-desktop",
                f"midst-desktop {__version__}\n\nFinds your creative and academic "
                "work in your folders and drives, and lets you review it. Files "
                "stay where they are.",
                QMessageBox.StandardButton.Close,
            )
            self.about_box.setAccessibleName("About midst-desktop")
        self.about_box.show()
        self.about_box.raise_()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self._open_review()

    # -- keeping current --------------------------------------------------

    def _soon(self) -> None:
        QTimer.singleShot(300, self.refresh)

    def refresh(self) -> None:
        """Look at the store on a worker; the menu follows when it answers."""
        if self._refreshing:
            return
        self._refreshing = True
        previous = self.snapshot
        busy = self.schedule.workers_busy
        since = previous.newest_artifact if previous else None
        after_run = previous.last_run_id if previous else 0
        first = previous is None

        def work() -> Snapshot:
            snapshot = take_snapshot(self.database, busy, since, after_run)
            if first:
                # The first look sets the baseline: nothing is "new" yet.
                return Snapshot(**{**snapshot.__dict__, "new_artifacts": 0})
            return snapshot

        self.workers.run(work, self._landed, self._failed)

    def _failed(self, message: str) -> None:
        self._refreshing = False
        log.warning("The tray could not read the store: %s", message)

    def _landed(self, snapshot: Snapshot) -> None:
        self._refreshing = False
        if self.snapshot is not None and snapshot.newest_artifact is None:
            snapshot = Snapshot(
                **{
                    **snapshot.__dict__,
                    "newest_artifact": self.snapshot.newest_artifact,
                }
            )
        self.snapshot = snapshot
        self.review_count_action.setText(review_label(snapshot.to_review))
        self._fill_sync_menu(
            tuple((i.id, i.display_name) for i in snapshot.integrations)
        )
        state = tray_state(snapshot)
        self.resume_action.setVisible(snapshot.paused_until is not None)
        self.pause_menu.menuAction().setVisible(snapshot.paused_until is None)
        self._show_state(state)
        if self.tray is not None:
            self.tray.setToolTip(tooltip(snapshot))
        self.batcher.observe(snapshot)
        for notice in self.batcher.due(datetime.now(UTC)):
            self._notify(notice)
        self.refreshed.emit()

    def _show_state(self, state: str) -> None:
        changed = state != self.state
        self.state = state
        if self.tray is not None:
            if state not in self._icons:
                self._icons[state] = icons.state_icon(state)
            self.tray.setIcon(self._icons[state])
        if changed:
            self.state_changed.emit(state)

    def _notify(self, notice: Notice) -> None:
        self.notices.append(notice)
        if self.tray is not None and self.tray.supportsMessages():
            level = (
                QSystemTrayIcon.MessageIcon.Warning
                if notice.warning
                else QSystemTrayIcon.MessageIcon.Information
            )
            self.tray.showMessage(notice.title, notice.message, level, 8000)
        self.notified.emit(notice.title, notice.message)

    def shutdown(self) -> None:
        self.timer.stop()
        self.workers.wait()
        if self.tray is not None:
            self.tray.hide()
