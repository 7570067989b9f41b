"""The app without a tray, the first-run onboarding, and the settings window."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QTabBar,
    QWidget,
)
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from midst_desktop import __version__
from midst_desktop.agent import Agent
from midst_desktop.config import Settings, load_settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact, Integration, SourceFile
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.ui.app import NO_TRAY_NOTICE, DesktopApp
from midst_desktop.ui.launch import NO_DISPLAY, gui_problem
from midst_desktop.ui.settings import (
    SettingsWindow,
    needs_onboarding,
    preview_skips,
    suggested_folders,
)
from tests.support.login import exec_arguments
from tests.ui.conftest import Synced, fill_folder, sqlite_only


@pytest.fixture
def empty_agent(database: Database, settings: Settings) -> Iterator[Agent]:
    running = Agent(database, settings, startup_delay=timedelta(hours=1))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.stopping.set()
    thread.join(30)


def artifact_count(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(Artifact)) or 0)


def test_onboarding_leads_to_the_first_integration_and_its_first_sync(
    qtbot: QtBot,
    database: Database,
    settings: Settings,
    empty_agent: Agent,
    tmp_path: Path,
) -> None:
    assert needs_onboarding(database)
    window = SettingsWindow(database, settings, empty_agent.scheduler, onboarding=True)
    qtbot.addWidget(window)
    window.show()
    assert window.pages.currentIndex() == 0
    folder = tmp_path / "Documents"
    fill_folder(folder)

    window.add_folder(str(folder))

    qtbot.waitUntil(lambda: artifact_count(database) >= 6, timeout=60000)
    with database.read() as session:
        [integration] = queries.list_integrations(session)
    assert integration.root_path == str(folder.resolve())
    qtbot.waitUntil(lambda: window.done_button.isVisibleTo(window))
    assert "first sync has started" in window.onboarding_progress.text()
    assert not needs_onboarding(database)
    window.done_button.click()
    assert window.pages.currentIndex() == 1
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    window.shutdown()


@sqlite_only
def test_skipping_onboarding_is_remembered(
    qtbot: QtBot, database: Database, settings: Settings, empty_agent: Agent
) -> None:
    window = SettingsWindow(database, settings, empty_agent.scheduler, onboarding=True)
    qtbot.addWidget(window)
    window.skip_button.click()
    qtbot.waitUntil(lambda: not needs_onboarding(database))
    assert window.pages.currentIndex() == 1
    window.shutdown()


@sqlite_only
def test_adding_a_folder_inside_another_is_refused_with_a_clear_line(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    window.add_folder(str(synced.folder / "writing"))
    qtbot.waitUntil(lambda: "overlaps" in window.last_message)
    assert "\n" not in window.last_message
    with synced.database.read() as session:
        assert len(queries.list_integrations(session)) == 1
    # The person is told in a box, not only in the window's status line, and
    # the window stays usable behind it.
    box = window.error_box
    assert box is not None and box.isVisible()
    assert "overlaps" in box.text()
    assert box.windowModality() == Qt.WindowModality.NonModal
    assert box.accessibleName()
    box.accept()
    window.shutdown()


@sqlite_only
def test_folder_config_preview_counts_what_would_be_skipped_and_saves(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    assert window.table.item(0, 0).text() == "work"
    seen = int(window.table.item(0, 5).text())
    assert seen >= 6

    window.patterns_edit.setPlainText("*.py\n/writing/*")
    qtbot.waitUntil(lambda: window.skip_preview.text().startswith("3 excluded"))
    window.patterns_edit.setPlainText("")
    qtbot.waitUntil(lambda: window.skip_preview.text().startswith("nothing of"))

    window.patterns_edit.setPlainText("*.py")
    window.save_folder_button.click()

    def saved() -> bool:
        with synced.database.read() as session:
            integration = session.get(Integration, synced.integration_id)
            return integration.folder_config["excluded_patterns"] == ["*.py"]

    qtbot.waitUntil(saved)
    window.shutdown()


def test_the_skip_preview_of_a_cloud_drive_matches_paths_inside_it(
    database: Database,
) -> None:
    # A cloud file's source id is the provider's ("id:..."); globs match the
    # path inside the drive, as the sync does.
    with database.write() as session:
        dropbox = Integration(
            provider="dropbox", display_name="Dropbox", folder_config={}
        )
        session.add(dropbox)
        session.flush()
        for number, path in enumerate(
            ["/Photos/cat.jpg", "/Photos/dog.jpg", "/Papers/thesis.pdf"]
        ):
            session.add(
                SourceFile(
                    integration_id=dropbox.id,
                    source_id=f"id:{number:04d}",
                    path=path,
                    name=path.rsplit("/", 1)[-1],
                    size=1000,
                )
            )
        integration_id = dropbox.id

    counts = preview_skips(
        database, integration_id, FolderConfig(excluded_patterns=("/Photos/*",))
    )

    assert counts == {"taken": 1, "excluded": 2}
    only_photos = FolderConfig(included_folders=("/Photos",))
    assert preview_skips(database, integration_id, only_photos) == {
        "taken": 2,
        "outside_the_included_folders": 1,
    }


def saved_folder_config(synced: Synced) -> dict[str, object]:
    with synced.database.read() as session:
        integration = session.get(Integration, synced.integration_id)
        return dict(integration.folder_config)


@sqlite_only
def test_folder_config_save_keeps_and_edits_the_included_folders(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    with synced.database.write() as session:
        integration = session.get(Integration, synced.integration_id)
        integration.folder_config = {
            "included_folders": ["/Work"],
            "excluded_patterns": [],
            "max_file_size_mb": 100,
            "allowed_mime_types": ["text/plain"],
        }
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.included_edit.toPlainText() == "/Work")

    window.patterns_edit.setPlainText("*.py")
    window.save_folder_button.click()
    qtbot.waitUntil(lambda: saved_folder_config(synced)["excluded_patterns"] != [])
    assert saved_folder_config(synced) == {
        "included_folders": ["/Work"],
        "excluded_patterns": ["*.py"],
        "max_file_size_mb": 100,
        "allowed_mime_types": ["text/plain"],
    }

    window.included_edit.setPlainText("/Work\nNotes/2024/")
    window.save_folder_button.click()
    qtbot.waitUntil(
        lambda: (
            saved_folder_config(synced)["included_folders"] == ["/Work", "/Notes/2024"]
        )
    )
    assert saved_folder_config(synced)["allowed_mime_types"] == ["text/plain"]

    window.included_edit.setPlainText("/Work/../..")
    window.save_folder_button.click()
    qtbot.waitUntil(lambda: "not a folder path" in window.last_message)
    assert "\n" not in window.last_message
    assert saved_folder_config(synced)["included_folders"] == ["/Work", "/Notes/2024"]
    window.shutdown()


def answer_question(qtbot: QtBot, button: str, asked: list[str]) -> None:
    """Click a button of the next question box once it shows, as a person would."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            QTimer.singleShot(20, answer)
            return
        asked.append(box.text())
        [choice] = [b for b in box.buttons() if b.text().replace("&", "") == button]
        qtbot.mouseClick(choice, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer)


@sqlite_only
@pytest.mark.parametrize(
    ("button", "kept"), [("Keep artifacts", True), ("Delete artifacts", False)]
)
def test_disconnect_asks_whether_the_artifacts_stay_and_does_as_answered(
    qtbot: QtBot, synced: Synced, agent: Agent, button: str, kept: bool
) -> None:
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    before = artifact_count(synced.database)
    assert before >= 6
    asked: list[str] = []

    answer_question(qtbot, button, asked)
    with qtbot.waitSignal(window.integrations_changed, timeout=10000):
        qtbot.mouseClick(window.remove_button, Qt.MouseButton.LeftButton)

    assert asked == [
        f"Disconnect work? Its {before:,} artifacts can stay (with your reviews) "
        "or be deleted."
    ]
    with synced.database.read() as session:
        assert queries.list_integrations(session) == []
    assert artifact_count(synced.database) == (before if kept else 0)
    qtbot.waitUntil(lambda: window.table.rowCount() == 0)
    window.shutdown()


@sqlite_only
def test_cancelling_the_disconnect_question_removes_nothing(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    before = artifact_count(synced.database)
    asked: list[str] = []
    # What the window reads once shown (its rows, then the selected one's
    # details) lands first, so that a job started by the click would show.
    qtbot.waitUntil(lambda: not window.workers.busy)

    answer_question(qtbot, "Cancel", asked)
    qtbot.mouseClick(window.remove_button, Qt.MouseButton.LeftButton)

    assert len(asked) == 1
    assert not window.workers.busy
    with synced.database.read() as session:
        assert len(queries.list_integrations(session)) == 1
    assert artifact_count(synced.database) == before
    window.shutdown()


@sqlite_only
def test_start_at_login_writes_an_entry_that_starts_this_app(
    qtbot: QtBot,
    synced: Synced,
    agent: Agent,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    entry = tmp_path / "xdg" / "autostart" / "midst-desktop.desktop"
    assert not window.login_box.isChecked()

    window.login_box.setChecked(True)
    fields = dict(
        line.split("=", 1) for line in entry.read_text().splitlines() if "=" in line
    )
    assert fields["Type"] == "Application"
    assert fields["X-GNOME-Autostart-enabled"] == "true"
    started = subprocess.run(
        [*exec_arguments(fields["Exec"]), "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    assert started.stdout.split() == ["midst-desktop", __version__]

    window.login_box.setChecked(False)
    assert not entry.exists()
    window.shutdown()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def health_status(port: int) -> int | None:
    """The endpoint's answer to GET /health, or None when nothing listens."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
    except httpx.ConnectError:
        return None
    return answer.status_code


@pytest.fixture
def prompt_agent(synced: Synced) -> Iterator[Agent]:
    """The real agent whose start-up rescan runs at once."""
    running = Agent(synced.database, synced.settings, startup_delay=timedelta(0))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.stopping.set()
    thread.join(30)


def minutes_to_next(agent: Agent, integration_id: int, kind: str) -> float:
    next_run = agent.scheduler.next_run(integration_id, kind)
    if next_run is None:
        return -1.0
    return (next_run - datetime.now(UTC)).total_seconds() / 60


@sqlite_only
def test_schedule_and_endpoint_settings_are_saved_and_used_at_once(
    qtbot: QtBot, synced: Synced, prompt_agent: Agent
) -> None:
    agent = prompt_agent
    window = SettingsWindow(
        synced.database,
        synced.settings,
        agent.scheduler,
        apply_settings=agent.apply_settings,
    )
    qtbot.addWidget(window)
    # After the start-up rescan, the next look for changes is 15 min away.
    qtbot.waitUntil(
        lambda: minutes_to_next(agent, synced.integration_id, "incremental") > 10
    )
    assert minutes_to_next(agent, synced.integration_id, "incremental") <= 15
    port = free_port()
    assert health_status(port) is None

    window.incremental_minutes.setValue(30)
    window.full_hours.setValue(2)
    window.endpoint_box.setChecked(True)
    window.endpoint_port.setValue(port)
    window.save_general_button.click()
    qtbot.waitUntil(lambda: window.last_message == "Saved and in use")

    assert 25 < minutes_to_next(agent, synced.integration_id, "incremental") <= 30
    assert minutes_to_next(agent, synced.integration_id, "full") <= 120
    assert health_status(port) == 200

    window.endpoint_box.setChecked(False)
    window.save_general_button.click()
    qtbot.waitUntil(lambda: health_status(port) is None)
    again = load_settings(
        data_dir=str(synced.settings.data_dir),
        database_url=synced.settings.database_url,
        environ={},
    )
    assert again.incremental_interval_minutes == 30
    assert again.full_interval_hours == 2
    assert not again.endpoint_enabled
    window.shutdown()


@sqlite_only
def test_an_endpoint_port_in_use_is_saved_and_said_and_the_rest_applies(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    window = SettingsWindow(
        synced.database,
        synced.settings,
        agent.scheduler,
        apply_settings=agent.apply_settings,
    )
    qtbot.addWidget(window)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        window.full_hours.setValue(6)
        window.endpoint_box.setChecked(True)
        window.endpoint_port.setValue(port)
        window.save_general_button.click()
        qtbot.waitUntil(lambda: window.last_message.startswith("Saved, but"))

    assert f"cannot listen on 127.0.0.1:{port}" in window.last_message
    assert agent.scheduler.settings.full_interval_hours == 6
    assert agent.endpoint_port is None
    window.shutdown()


@sqlite_only
def test_without_a_running_agent_settings_wait_for_the_next_start(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    window.incremental_minutes.setValue(45)
    window.endpoint_token.setText('tok"en')
    window.save_general_button.click()
    qtbot.waitUntil(lambda: window.last_message.startswith("Saved to"))

    assert window.last_message.endswith("used from the next start")
    again = load_settings(
        data_dir=str(synced.settings.data_dir),
        database_url=synced.settings.database_url,
        environ={},
    )
    assert again.incremental_interval_minutes == 45
    assert again.endpoint_token == 'tok"en'
    window.shutdown()


def test_suggested_folders_are_the_cloud_folders_that_exist(tmp_path: Path) -> None:
    (tmp_path / "OneDrive").mkdir()
    (tmp_path / "OneDrive - University").mkdir()
    found = suggested_folders(tmp_path)
    assert found == [
        ("OneDrive", tmp_path / "OneDrive"),
        ("OneDrive", tmp_path / "OneDrive - University"),
    ]
    icloud = tmp_path / "Library" / "Mobile Documents" / "com~apple~CloudDocs"
    icloud.mkdir(parents=True)
    assert suggested_folders(tmp_path)[0] == ("iCloud Drive", icloud)


@sqlite_only
def test_add_local_folder_offers_the_onedrive_folder_that_exists(
    qtbot: QtBot,
    database: Database,
    settings: Settings,
    empty_agent: Agent,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    onedrive = home / "OneDrive"
    fill_folder(onedrive)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("OneDrive", raising=False)
    window = SettingsWindow(database, settings, empty_agent.scheduler)
    qtbot.addWidget(window)
    window.show()

    qtbot.mouseClick(window.add_button, Qt.MouseButton.LeftButton)

    menu = window.add_menu
    assert menu is not None and menu.isVisible()
    assert menu.accessibleName() == "Add local folder"
    words = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert words == [f"Use OneDrive ({onedrive})", "Choose a folder..."]
    menu.actions()[0].trigger()
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    with database.read() as session:
        [integration] = queries.list_integrations(session)
    assert integration.root_path == str(onedrive.resolve())
    qtbot.waitUntil(lambda: artifact_count(database) >= 6, timeout=60000)
    window.shutdown()


@sqlite_only
def test_without_a_tray_the_review_window_opens_and_says_why(
    qtbot: QtBot, synced: Synced
) -> None:
    agent = Agent(synced.database, synced.settings, startup_delay=timedelta(hours=1))
    desktop = DesktopApp(
        synced.database, synced.settings, agent, use_tray=False, learn=False
    )
    desktop.start()
    try:
        review = desktop.review
        assert review is not None and review.isVisible()
        qtbot.addWidget(review)
        assert review.notice.text() == NO_TRAY_NOTICE
        assert review.notice.isVisibleTo(review)
        qtbot.waitUntil(lambda: agent.scheduler.running, timeout=10000)
        # The menu works without a tray host: it opens the settings window.
        desktop.tray.settings_action.trigger()
        assert desktop.settings_window is not None
        assert desktop.settings_window.isVisible()
        qtbot.addWidget(desktop.settings_window)
        assert desktop.settings_window.pages.currentIndex() == 1
    finally:
        desktop.shutdown()
    assert agent.stopping.is_set()
    assert not agent.scheduler.running


@sqlite_only
def test_an_open_review_window_shows_what_a_sync_found_without_being_asked(
    qtbot: QtBot, synced: Synced
) -> None:
    agent = Agent(synced.database, synced.settings, startup_delay=timedelta(hours=1))
    desktop = DesktopApp(
        synced.database, synced.settings, agent, use_tray=False, learn=False
    )
    desktop.start()
    try:
        review = desktop.review
        assert review is not None
        qtbot.addWidget(review)
        qtbot.waitUntil(lambda: agent.scheduler.running, timeout=10000)
        qtbot.waitUntil(lambda: review.model.counted, timeout=10000)
        before = review.model.rowCount()
        qtbot.waitUntil(lambda: desktop.tray.snapshot is not None, timeout=10000)

        (synced.folder / "writing" / "new-poem.txt").write_text(
            "A new poem\n\nwith two stanzas\nof short lines\n"
        )
        desktop.tray.sync_actions[(synced.integration_id, "incremental")].trigger()

        def shown() -> bool:
            model = review.model
            titles = {
                model.data(model.index(row, 0)) for row in range(model.rowCount())
            }
            return model.rowCount() == before + 1 and "new-poem" in titles

        qtbot.waitUntil(shown, timeout=30000)
        assert review.tabs.tabText(0) == f"Pending ({before + 1:,})"
    finally:
        desktop.shutdown()


def test_without_a_display_the_app_is_not_started() -> None:
    assert gui_problem({"PATH": "/usr/bin"}) == NO_DISPLAY


def test_a_display_nobody_serves_falls_back_to_the_agent(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DISPLAY": ":87", "XAUTHORITY": str(tmp_path / "none")}
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("WAYLAND_DISPLAY", None)
    assert gui_problem(env) == "Qt cannot start on this display"


def test_the_app_survives_many_turns_of_the_event_loop(qapp: object) -> None:
    # PySide6 on Python 3.11 loses a reference to None in each of these calls;
    # without the workaround in midst_desktop.ui the process aborts well
    # before this many.
    from PySide6.QtWidgets import QApplication

    import midst_desktop.ui  # noqa: F401

    for _ in range(20_000):
        QApplication.processEvents()
    assert sys.getrefcount(None) > 1_000_000


def unnamed_widgets(top: QWidget) -> list[str]:
    """The interactive widgets under top that a screen reader could not name."""
    kinds = (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QAbstractItemView,
        QTabBar,
    )
    return [
        f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
        for kind in kinds
        for w in top.findChildren(kind)
        if not w.accessibleName()
        # Qt's own inner parts (a spin box's line edit, a tab bar's scroll
        # buttons, a line edit's clear button) take their owner's name.
        and not isinstance(
            w.parent(), QAbstractSpinBox | QComboBox | QTabBar | QLineEdit
        )
    ]


@sqlite_only
def test_every_widget_of_the_settings_window_and_its_dialogs_has_a_name(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    from midst_desktop.ui.settings import PasteCodeDialog

    window = SettingsWindow(synced.database, synced.settings, agent.scheduler)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    assert unnamed_widgets(window) == []

    onboarding = SettingsWindow(
        synced.database, synced.settings, agent.scheduler, onboarding=True
    )
    qtbot.addWidget(onboarding)
    assert unnamed_widgets(onboarding) == []

    paste = PasteCodeDialog("Paste the code Dropbox shows.", window)
    qtbot.addWidget(paste)
    assert unnamed_widgets(paste) == []

    asked: list[str] = []
    unnamed: list[list[str]] = []

    def look_then_cancel() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, look_then_cancel)
            return
        asked.append(box.accessibleName())
        unnamed.append(unnamed_widgets(box))
        box.reject()

    QTimer.singleShot(0, look_then_cancel)
    window.ask_to_disconnect()
    assert asked == ["Disconnect"]
    assert unnamed == [[]]
    window.shutdown()
    onboarding.shutdown()
