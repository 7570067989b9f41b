"""The token store against a real Secret Service (gnome-keyring on a private bus)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.providers.base import CredentialsUnavailableError
from midst_desktop.sync.tokens import (
    SERVICE,
    TokenMissingError,
    TokenStore,
    _run_with_timeout,
)
from tests.conftest import missing

ROOT = Path(__file__).resolve().parents[2]
WITH_KEYRING = ROOT / "scripts" / "with-keyring.sh"


@pytest.fixture
def store() -> TokenStore:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")
    return TokenStore(timeout_seconds=20)


def run_python(code: str, env: dict[str, str], keyring_session: bool) -> str:
    """Run code in a fresh interpreter, on its own keyring session if asked."""
    command = [sys.executable, "-c", textwrap.dedent(code)]
    if keyring_session:
        command = [str(WITH_KEYRING), *command]
    result = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_credentials_round_trip_under_the_app_service(store: TokenStore) -> None:
    credentials = OAuthCredentials("refresh-secret-1", "client-1", "client-secret-1")
    store.save(41, credentials)

    assert store.load(41) == credentials
    seen = subprocess.run(
        ["secret-tool", "lookup", "service", SERVICE, "username", "41"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "refresh-secret-1" in seen

    assert store.delete(41) is True
    with pytest.raises(TokenMissingError, match="reconnect"):
        store.load(41)
    assert store.delete(41) is False


def test_a_new_token_replaces_the_old_one(store: TokenStore) -> None:
    store.save(42, OAuthCredentials("old", "client"))
    store.save(42, OAuthCredentials("new", "client"))
    assert store.load(42).refresh_token == "new"
    store.delete(42)


def test_a_locked_keyring_is_a_clear_error_not_a_hang() -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")
    output = run_python(
        """
        import secretstorage
        from midst_desktop.sync.credentials import OAuthCredentials
        from midst_desktop.sync.tokens import TokenStore
        store = TokenStore(timeout_seconds=20)
        store.save(7, OAuthCredentials("refresh-secret", "client"))
        bus = secretstorage.dbus_init()
        secretstorage.get_default_collection(bus).lock()
        try:
            store.load(7)
        except Exception as error:
            print(type(error).__name__, "|", error)
        """,
        env=dict(os.environ),
        keyring_session=True,
    )
    assert "CredentialsUnavailableError | the keyring is locked" in output
    assert "unlock your keyring" in output
    assert "refresh-secret" not in output


def test_a_missing_keyring_is_refused_never_a_plaintext_fallback(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DBUS_SESSION_BUS_ADDRESS"
    }
    # keyring would honour this and silently store nothing; we must not.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    env["HOME"] = str(tmp_path)
    output = run_python(
        """
        from midst_desktop.sync.credentials import OAuthCredentials
        from midst_desktop.sync.tokens import TokenStore
        for step in ("save", "load"):
            try:
                if step == "save":
                    TokenStore().save(1, OAuthCredentials("refresh-secret", "c"))
                else:
                    TokenStore().load(1)
            except Exception as error:
                print(step, type(error).__name__, "|", error)
        """,
        env=env,
        keyring_session=False,
    )
    assert "save CredentialsUnavailableError | no secure keyring" in output
    assert "load CredentialsUnavailableError | no secure keyring" in output
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == []


def test_a_keyring_call_that_never_returns_times_out() -> None:
    with pytest.raises(CredentialsUnavailableError, match="did not answer"):
        _run_with_timeout(lambda: time.sleep(30), 0.3, "test")


def test_the_plaintext_backends_are_not_installed() -> None:
    import importlib.util

    assert importlib.util.find_spec("keyrings") is None


def test_the_health_check_asks_the_secure_backends_never_the_configured_one(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key != "DBUS_SESSION_BUS_ADDRESS"
    }
    env["HOME"] = str(tmp_path)
    output = run_python(
        """
        import keyring
        from keyring.backend import KeyringBackend
        from midst_desktop.service.health import keyring_state

        class InMemory(KeyringBackend):
            priority = 1
            def get_password(self, service, username):
                return None
            def set_password(self, service, username, password):
                pass
            def delete_password(self, service, username):
                pass

        # A working but insecure backend that keyring itself would now use.
        keyring.set_keyring(InMemory())
        print("STATE", keyring_state())
        """,
        env=env,
        keyring_session=False,
    )
    assert "STATE no secure keyring is available" in output
