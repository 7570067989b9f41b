"""Connecting Dropbox: the SDK's PKCE flows against the emulator's authorize page."""

from __future__ import annotations

import os
import socket
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from midst_desktop.config import Settings, load_settings
from midst_desktop.sync.oauth import OAuthError
from midst_desktop.sync.providers.dropbox import DropboxProvider, RetryPolicy
from midst_desktop.sync.providers.dropbox_auth import (
    PASTE_PROMPT,
    authorize_dropbox,
    read_pasted_code,
)
from tests.emulators.dropbox import DropboxEmulator, consent, read_auth_code
from tests.support.waiting import wait_for


@pytest.fixture
def emu() -> Iterator[DropboxEmulator]:
    with DropboxEmulator() as running:
        yield running


def settings_for(emu: DropboxEmulator, tmp_path: Path, **extra: str) -> Settings:
    environ = {**emu.environment(), "MIDST_OAUTH_TIMEOUT_SECONDS": "20", **extra}
    return load_settings(data_dir=str(tmp_path / "data"), environ=environ)


class Person:
    """Reads what the app shows, and does what a person would in the browser."""

    def __init__(self, allow: bool = True, typo: bool = False) -> None:
        self.allow = allow
        self.typo = typo
        self.shown: list[str] = []
        self.opened: list[str] = []

    def announce(self, text: str) -> None:
        self.shown.append(text)

    def open_browser(self, url: str) -> bool:
        self.opened.append(url)
        return False  # no display: the person uses the address shown

    def paste(self, prompt: str, timeout: float) -> str:
        url = next(
            line
            for text in self.shown
            for line in text.splitlines()
            if line.startswith("http")
        )
        page = consent(url, allow=self.allow)
        if not self.allow:
            return ""
        code = read_auth_code(page.text)
        return ("wrong" + code if self.typo else code) + "\n"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_paste_flow_connects_with_pkce_and_an_offline_token(emu, tmp_path) -> None:
    settings = settings_for(emu, tmp_path)
    person = Person()

    credentials = authorize_dropbox(
        settings, person.open_browser, person.announce, person.paste
    )

    assert emu.refresh_token_valid(credentials.refresh_token)
    assert credentials.client_id == emu.app_key
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(person.opened[0]).query))
    assert person.opened[0].startswith(emu.auth_url + "?")
    assert query["code_challenge_method"] == "S256"
    assert query["token_access_type"] == "offline"
    assert "redirect_uri" not in query
    assert set(query["scope"].split()) == {
        "account_info.read",
        "files.metadata.read",
        "files.content.read",
    }
    # The access token granted with the code serves the first calls.
    emu.clear_records()
    provider = DropboxProvider(credentials, settings, RetryPolicy())
    assert provider.account_label() == emu.email
    provider.close()
    assert emu.request_count("oauth2/token") == 0


def test_a_mistyped_code_is_a_clear_error(emu, tmp_path) -> None:
    settings = settings_for(emu, tmp_path)
    person = Person(typo=True)

    with pytest.raises(OAuthError) as raised:
        authorize_dropbox(settings, person.open_browser, person.announce, person.paste)

    message = str(raised.value)
    assert "did not accept the code" in message
    assert "\n" not in message
    assert not any(secret in message for secret in emu.secrets_issued())


def test_a_refused_consent_pastes_nothing_and_connects_nothing(emu, tmp_path) -> None:
    settings = settings_for(emu, tmp_path)
    person = Person(allow=False)

    with pytest.raises(OAuthError, match="no code was pasted"):
        authorize_dropbox(settings, person.open_browser, person.announce, person.paste)
    assert emu.secrets_issued() == []


def test_without_an_app_key_the_sign_in_says_how_to_get_one(emu, tmp_path) -> None:
    settings = settings_for(emu, tmp_path, MIDST_DROPBOX_APP_KEY="")
    settings = load_settings(
        data_dir=str(tmp_path / "data"),
        environ={k: v for k, v in emu.environment().items() if "APP_KEY" not in k},
    )
    person = Person()

    with pytest.raises(OAuthError, match="dropbox_app_key"):
        authorize_dropbox(settings, person.open_browser, person.announce, person.paste)
    assert person.opened == []


def test_a_redirect_that_is_not_loopback_is_refused(emu, tmp_path) -> None:
    settings = settings_for(
        emu, tmp_path, MIDST_DROPBOX_REDIRECT_URI="https://example.com/cb"
    )
    person = Person()

    with pytest.raises(OAuthError, match=r"127\.0\.0\.1"):
        authorize_dropbox(settings, person.open_browser, person.announce, person.paste)


def test_the_loopback_flow_uses_the_registered_redirect(emu, tmp_path) -> None:
    port = free_port()
    redirect = f"http://127.0.0.1:{port}/"
    emu.register_redirect_uri(redirect)
    settings = settings_for(emu, tmp_path, MIDST_DROPBOX_REDIRECT_URI=redirect)
    pages: list[str] = []

    def browser(url: str) -> bool:
        # A browser follows the redirect back to the app's loopback page.
        threading.Thread(target=lambda: pages.append(consent(url).text)).start()
        return True

    credentials = authorize_dropbox(settings, browser, lambda text: None)

    assert emu.refresh_token_valid(credentials.refresh_token)
    # The browser's thread may still be reading the last page.
    wait_for(
        lambda: any("close this window" in page for page in pages),
        "the browser shown the page that says it can be closed",
    )


def test_a_taken_loopback_port_falls_back_to_pasting(emu, tmp_path, caplog) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        redirect = f"http://127.0.0.1:{port}/"
        emu.register_redirect_uri(redirect)
        settings = settings_for(emu, tmp_path, MIDST_DROPBOX_REDIRECT_URI=redirect)
        person = Person()

        credentials = authorize_dropbox(
            settings, person.open_browser, person.announce, person.paste
        )

    assert emu.refresh_token_valid(credentials.refresh_token)
    assert "paste the code instead" in caplog.text
    assert "redirect_uri" not in person.opened[0]


def test_a_code_never_pasted_times_out(monkeypatch) -> None:
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stdin", os.fdopen(read_end, "r"))
    try:
        with pytest.raises(OAuthError, match=r"within 0\.2 s"):
            read_pasted_code(PASTE_PROMPT, 0.2)
    finally:
        os.close(write_end)
