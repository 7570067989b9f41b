"""The settings window's Connect buttons against the Drive and Dropbox emulators.

The buttons are clicked in the real window; the person's browser is an HTTP
client that allows access on the emulator's consent page; tokens go to the
real Secret Service of the test session (scripts/with-keyring.sh).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from midst_desktop.agent import Agent
from midst_desktop.config import Settings, load_settings
from midst_desktop.store.db import Database, open_database
from midst_desktop.sync import oauth
from midst_desktop.sync.tokens import TokenMissingError, TokenStore, watch_callers
from midst_desktop.ui.settings import SettingsWindow
from tests.conftest import missing
from tests.emulators.dropbox import DropboxEmulator, consent, read_auth_code
from tests.emulators.gdrive import DriveEmulator
from tests.support.gdrive import consent_in_browser, drive
from tests.ui.conftest import sqlite_only

__all__ = ["drive"]


@pytest.fixture
def keyring_session() -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")


@pytest.fixture
def dropbox() -> Iterator[DropboxEmulator]:
    with DropboxEmulator() as running:
        running.set_retry_after(0)
        yield running


class App:
    """A store, an agent and the settings window, pointed at one emulator."""

    def __init__(self, tmp_path: Path, database_url: str, emulator: dict[str, str]):
        self.settings: Settings = load_settings(
            data_dir=str(tmp_path / "data"),
            database_url=database_url,
            environ={
                **emulator,
                "MIDST_CLOUD_RETRY_BASE_MS": "1",
                "MIDST_OAUTH_TIMEOUT_SECONDS": "20",
            },
        )
        self.database: Database = open_database(self.settings.database_url)
        self.agent = Agent(
            self.database, self.settings, startup_delay=timedelta(hours=1)
        )
        self._thread = threading.Thread(target=self.agent.run, daemon=True)
        self._thread.start()
        self.window: SettingsWindow | None = None

    def open(self, qtbot: QtBot) -> SettingsWindow:
        window = SettingsWindow(self.database, self.settings, self.agent.scheduler)
        qtbot.addWidget(window)
        window.show()
        self.window = window
        return window

    def close(self) -> None:
        if self.window is not None:
            self.window.shutdown()
        self.agent.stopping.set()
        self._thread.join(30)
        store = TokenStore()
        for integration_id in range(1, 4):
            store.delete(integration_id)
        self.database.dispose()


@pytest.fixture
def make_app(
    tmp_path: Path, database_url: str, keyring_session: None
) -> Iterator[Callable[[dict[str, str]], App]]:
    made: list[App] = []

    def make(emulator: dict[str, str]) -> App:
        made.append(App(tmp_path, database_url, emulator))
        return made[-1]

    yield make
    for app in made:
        app.close()


def listed(window: SettingsWindow) -> list[list[str]]:
    return [
        [window.table.item(row, column).text() for column in range(4)]
        for row in range(window.table.rowCount())
    ]


class KeyringCallers:
    """The keyring operations asked for while watching, and on which thread."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self._unwatch: Callable[[], None] | None = None

    def _record(self, what: str) -> None:
        on_gui = threading.current_thread() is threading.main_thread()
        self.calls.append((what, on_gui))

    def start(self) -> None:
        self._unwatch = watch_callers(self._record)

    def stop(self) -> list[tuple[str, bool]]:
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        return self.calls


@pytest.fixture
def keyring_callers() -> Iterator[KeyringCallers]:
    callers = KeyringCallers()
    yield callers
    callers.stop()


@pytest.fixture
def ticks(qapp: object) -> Iterator[list[int]]:
    """Ticks of a 10 ms timer: proof that the GUI thread kept running."""
    counted: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: counted.append(1))
    timer.start()
    yield counted
    timer.stop()


@sqlite_only
def test_connect_google_drive_signs_in_and_lists_the_account(
    qtbot: QtBot,
    make_app: Callable[[dict[str, str]], App],
    drive: DriveEmulator,
    monkeypatch: pytest.MonkeyPatch,
    ticks: list[int],
    keyring_callers: KeyringCallers,
) -> None:
    app = make_app(drive.environment())
    consented: list[str] = []

    def browser(url: str) -> bool:
        consent_in_browser(url)
        consented.append(url)
        return True

    monkeypatch.setattr(oauth, "default_opener", browser)
    # The real keyring, made slow: the window must not wait for it.
    real_save = TokenStore.save
    saving: list[int] = []

    def slow_save(store: TokenStore, *args: object) -> None:
        saving.append(len(ticks))
        time.sleep(1.0)
        real_save(store, *args)  # type: ignore[arg-type]
        saving.append(len(ticks))

    monkeypatch.setattr(TokenStore, "save", slow_save)
    window = app.open(qtbot)
    ticks.clear()
    keyring_callers.start()

    qtbot.mouseClick(window.drive_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(listed(window)), timeout=60000)
    asked = keyring_callers.stop()

    [row] = listed(window)
    assert row[1:3] == ["Google Drive", drive.account.email]
    assert consented and consented[0].startswith(drive.url)
    stored = TokenStore().load(1)
    assert stored.refresh_token in drive.account.refresh_tokens
    assert "Connected" in window.last_message
    # While the keyring took its second, the GUI thread kept ticking.
    assert saving[1] - saving[0] >= 10
    # Every keyring call of the connection came from a worker thread.
    assert "save" in {what for what, _ in asked}
    assert not [what for what, on_gui in asked if on_gui]


@sqlite_only
def test_connect_dropbox_asks_for_the_code_in_a_dialog(
    qtbot: QtBot,
    make_app: Callable[[dict[str, str]], App],
    dropbox: DropboxEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(dropbox.environment())
    pages: list[str] = []

    def browser(url: str) -> bool:
        pages.append(consent(url).text)
        return True

    monkeypatch.setattr(oauth, "default_opener", browser)
    window = app.open(qtbot)

    qtbot.mouseClick(window.dropbox_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.code_asker.dialog is not None)
    assert window.code_asker.dialog.code.accessibleName() == "Code"  # type: ignore[union-attr]
    paste_code(qtbot, window, pages)
    qtbot.waitUntil(lambda: bool(listed(window)), timeout=60000)

    [row] = listed(window)
    assert row[1:3] == ["Dropbox", dropbox.email]
    assert dropbox.refresh_token_valid(TokenStore().load(1).refresh_token)
    assert window.code_asker.dialog is None


def paste_code(qtbot: QtBot, window: SettingsWindow, pages: list[str]) -> None:
    """Wait for the dialog, type the code the browser page shows, press Connect."""
    qtbot.waitUntil(lambda: window.code_asker.dialog is not None and bool(pages))
    dialog = window.code_asker.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.code, read_auth_code(pages.pop()))
    qtbot.mouseClick(dialog.connect_button, Qt.MouseButton.LeftButton)


@sqlite_only
def test_reconnect_dropbox_after_access_was_revoked(
    qtbot: QtBot,
    make_app: Callable[[dict[str, str]], App],
    dropbox: DropboxEmulator,
    monkeypatch: pytest.MonkeyPatch,
    keyring_callers: KeyringCallers,
) -> None:
    app = make_app(dropbox.environment())
    pages: list[str] = []
    monkeypatch.setattr(
        oauth, "default_opener", lambda url: bool(pages.append(consent(url).text))
    )
    window = app.open(qtbot)
    qtbot.mouseClick(window.dropbox_button, Qt.MouseButton.LeftButton)
    paste_code(qtbot, window, pages)
    qtbot.waitUntil(lambda: bool(listed(window)), timeout=60000)
    first = TokenStore().load(1).refresh_token
    dropbox.revoke_all()

    window.table.selectRow(0)
    keyring_callers.start()
    qtbot.mouseClick(window.reconnect_button, Qt.MouseButton.LeftButton)
    paste_code(qtbot, window, pages)
    qtbot.waitUntil(lambda: "active again" in window.last_message, timeout=60000)
    asked = keyring_callers.stop()

    # The reconnection read and replaced the token from a worker thread only.
    assert {"load", "save"} <= {what for what, _ in asked}
    assert not [what for what, on_gui in asked if on_gui]
    again = TokenStore().load(1).refresh_token
    assert again != first and dropbox.refresh_token_valid(again)
    assert listed(window)[0][1:4] == ["Dropbox", dropbox.email, "active"]


@sqlite_only
def test_cancelling_the_dropbox_code_connects_nothing_and_says_so(
    qtbot: QtBot,
    make_app: Callable[[dict[str, str]], App],
    dropbox: DropboxEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = make_app(dropbox.environment())
    monkeypatch.setattr(oauth, "default_opener", lambda url: True)
    window = app.open(qtbot)

    qtbot.mouseClick(window.dropbox_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.code_asker.dialog is not None)
    dialog = window.code_asker.dialog
    assert dialog is not None
    dialog.reject()
    qtbot.waitUntil(lambda: "no code was pasted" in window.last_message)

    assert not window.workers.busy
    assert listed(window) == []
    with pytest.raises(TokenMissingError):
        TokenStore().load(1)


@sqlite_only
def test_connect_dropbox_through_a_registered_redirect_needs_no_code(
    qtbot: QtBot,
    make_app: Callable[[dict[str, str]], App],
    dropbox: DropboxEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/"
    dropbox.register_redirect_uri(redirect)
    app = make_app({**dropbox.environment(), "MIDST_DROPBOX_REDIRECT_URI": redirect})
    pages: list[str] = []
    monkeypatch.setattr(
        oauth, "default_opener", lambda url: bool(pages.append(consent(url).text))
    )
    window = app.open(qtbot)

    qtbot.mouseClick(window.dropbox_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(listed(window)), timeout=60000)

    assert listed(window)[0][1:3] == ["Dropbox", dropbox.email]
    # The browser's thread may still be reading the last page.
    qtbot.waitUntil(lambda: any("close this window" in page for page in pages))
    assert window.code_asker.dialog is None
