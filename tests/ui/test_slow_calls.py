"""The windows keep painting while the keyring and the network are slow."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from midst_desktop.agent import Agent
from midst_desktop.cli import main
from midst_desktop.config import load_settings
from midst_desktop.store.db import open_database
from midst_desktop.sync import tokens
from midst_desktop.sync.tokens import TokenMissingError, TokenStore
from midst_desktop.ui.settings import SettingsWindow
from tests.conftest import missing
from tests.emulators import gdrive as emu
from tests.emulators.gdrive import DriveEmulator
from tests.support.gdrive import drive

__all__ = ["drive"]

KEYRING_DELAY = 1.0
NETWORK_DELAY = 0.5


class SlowKeyring:
    """The real keyring, answering each call a second late (a busy daemon)."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.backend, name)

        def slowly(*args: Any) -> Any:
            time.sleep(KEYRING_DELAY)
            return call(*args)

        return slowly


def test_disconnecting_a_drive_over_a_slow_keyring_and_network_never_freezes(
    qtbot: QtBot,
    drive: DriveEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")
    for key, value in drive.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIDST_CLOUD_RETRY_BASE_MS", "1")
    data_dir, url = tmp_path / "data", f"sqlite:///{tmp_path / 'midst.db'}"
    token_file = tmp_path / "token.json"
    refresh_token = drive.account.issue_refresh_token()
    token_file.write_text(
        json.dumps(
            {
                "refresh_token": refresh_token,
                "client_id": emu.DEFAULT_CLIENT_ID,
                "client_secret": emu.DEFAULT_CLIENT_SECRET,
            }
        )
    )
    assert (
        main(
            [
                "--data-dir",
                str(data_dir),
                "--database-url",
                url,
                "integrations",
                "add",
                "google-drive",
                "--refresh-token-file",
                str(token_file),
            ]
        )
        == 0
    )
    settings = load_settings(data_dir=str(data_dir), database_url=url)
    database = open_database(url)
    window = SettingsWindow(database, settings, Agent(database, settings).scheduler)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.table.rowCount() == 1)
    window.table.selectRow(0)

    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    monkeypatch.setattr(tokens, "_backend", SlowKeyring(TokenStore().backend()))
    drive.latency = NETWORK_DELAY
    timer.start()
    started = time.monotonic()
    window.disconnect_selected(delete_artifacts=False)
    qtbot.waitUntil(lambda: window.last_message.startswith("Removed"))
    took = time.monotonic() - started
    timer.stop()
    drive.latency = 0.0

    assert window.last_message.endswith("and revoked its access")
    assert refresh_token in drive.account.revoked
    with pytest.raises(TokenMissingError):
        TokenStore().load(1)
    # The keyring and the revocation took well over a second, and all the
    # while the event loop kept turning: no gap between two timer ticks is
    # anywhere near that long.
    assert took >= KEYRING_DELAY + NETWORK_DELAY
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) >= 20
    assert max(gaps) < KEYRING_DELAY / 2
    window.shutdown()
    database.dispose()
