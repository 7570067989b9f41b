"""The token store: cloud credentials in the OS keyring, never anywhere else.

Service `midst-desktop`, user = the integration id. The backend is chosen once
per process from the secure ones (Secret Service, KWallet, macOS Keychain,
Windows Credential Locker); a plaintext, null or failing backend is refused,
whatever PYTHON_KEYRING_BACKEND says. Every call runs with a time-out, so an
unlock prompt nobody answers cannot hang the caller. Calls block: the UI makes
them from a worker thread.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked, PasswordDeleteError

from midst_desktop.sync.credentials import CredentialsFormatError, OAuthCredentials
from midst_desktop.sync.providers.base import (
    AuthExpiredError,
    CredentialsUnavailableError,
)

log = logging.getLogger(__name__)

SERVICE = "midst-desktop"
# Long enough for a person to type their keyring password into the prompt.
KEYRING_TIMEOUT_SECONDS = 60.0
UNLOCK_HINT = "unlock your keyring and try again"
# The user name the health check reads; no integration id is a word.
HEALTH_CHECK_USER = "health-check"

# The secure backends per platform, best first; keyrings.alt (plaintext or
# file-encrypted), null and fail are never among them.
SECURE_BACKENDS: dict[str, tuple[str, ...]] = {
    "linux": (
        "keyring.backends.SecretService:Keyring",
        "keyring.backends.kwallet:DBusKeyring",
        "keyring.backends.libsecret:Keyring",
    ),
    "darwin": ("keyring.backends.macOS:Keyring",),
    "win32": ("keyring.backends.Windows:WinVaultKeyring",),
}

T = TypeVar("T")

_backend: KeyringBackend | None = None
_backend_lock = threading.Lock()
# Called on the thread that asks the keyring, with the operation's name; the
# UI tests record them to prove that no call comes from the GUI thread.
_caller_hooks: list[Callable[[str], None]] = []


def watch_callers(hook: Callable[[str], None]) -> Callable[[], None]:
    """Call hook(operation) on each caller's thread; returns the unwatch."""
    _caller_hooks.append(hook)
    return lambda: _caller_hooks.remove(hook)


def _notify_callers(what: str) -> None:
    for hook in list(_caller_hooks):
        hook(what)


class TokenMissingError(AuthExpiredError):
    """The keyring answered, but holds no token for the integration."""


def _platform() -> str:
    return "linux" if sys.platform.startswith(("linux", "freebsd")) else sys.platform


def _run_with_timeout(call: Callable[[], T], timeout: float, what: str) -> T:
    """Run a keyring call on a daemon thread; give up after timeout seconds.

    A thread left waiting on a prompt does not keep the process alive.
    """
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=target, name=f"keyring-{what}", daemon=True).start()
    if not done.wait(timeout):
        raise CredentialsUnavailableError(
            f"the keyring did not answer within {timeout:g} s; {UNLOCK_HINT}"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def _load_backend(dotted: str) -> KeyringBackend | None:
    """An instance of the backend if it can work on this machine, else None."""
    module_name, _, class_name = dotted.partition(":")
    try:
        backend_class = getattr(importlib.import_module(module_name), class_name)
        # Reading priority is keyring's viability check; it raises when the
        # service is missing (no D-Bus session, no daemon to activate).
        priority = backend_class.priority
    except Exception as error:
        log.debug("Keyring backend %s is not usable: %s", dotted, error)
        return None
    if not isinstance(priority, (int, float)) or priority <= 0:
        return None
    return backend_class()  # type: ignore[no-any-return]


def _choose_backend() -> KeyringBackend:
    for dotted in SECURE_BACKENDS.get(_platform(), ()):
        backend = _load_backend(dotted)
        if backend is not None:
            return backend
    raise CredentialsUnavailableError(
        "no secure keyring is available (on Linux: a Secret Service such as "
        f"GNOME Keyring or KWallet); start or {UNLOCK_HINT}"
    )


def _translate(error: BaseException) -> CredentialsUnavailableError:
    if isinstance(error, CredentialsUnavailableError):
        return error
    if isinstance(error, KeyringLocked):
        return CredentialsUnavailableError(f"the keyring is locked; {UNLOCK_HINT}")
    # Keyring and D-Bus messages name services and paths, never a secret.
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    return CredentialsUnavailableError(
        f"the keyring cannot be used ({reason}); {UNLOCK_HINT}"
    )


class TokenStore:
    """Reads, writes and deletes integrations' credentials in the keyring.

    Every method blocks for at most timeout seconds, then raises
    CredentialsUnavailableError ("unlock your keyring"), as it does for a
    locked or missing keyring.
    """

    def __init__(self, timeout_seconds: float = KEYRING_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout_seconds

    def backend(self) -> KeyringBackend:
        """The secure backend, chosen on first use and kept for the process."""
        global _backend  # noqa: PLW0603 - one choice per process, by design
        with _backend_lock:
            if _backend is None:
                # A failed choice is not remembered: the keyring may come up
                # later in the session (a login keyring unlocked after start).
                try:
                    _backend = _run_with_timeout(
                        _choose_backend, self.timeout, "choose"
                    )
                except BaseException as error:
                    raise _translate(error) from None
                log.info("Using the keyring backend %s", type(_backend).__module__)
            return _backend

    def _call(self, what: str, call: Callable[[KeyringBackend], T]) -> T:
        _notify_callers(what)
        backend = self.backend()
        try:
            return _run_with_timeout(lambda: call(backend), self.timeout, what)
        except PasswordDeleteError:
            raise
        except BaseException as error:
            raise _translate(error) from None

    def save(self, integration_id: int, credentials: OAuthCredentials) -> None:
        """Store (or replace) an integration's credentials."""
        secret = credentials.to_json()
        self._call(
            "save", lambda b: b.set_password(SERVICE, str(integration_id), secret)
        )
        log.info("Stored the credentials of integration_id=%s", integration_id)

    def load(self, integration_id: int) -> OAuthCredentials:
        """An integration's credentials.

        Raises TokenMissingError (an AuthExpiredError: reconnect) when the
        keyring holds none, CredentialsUnavailableError when it cannot be read.
        """
        secret = self._call(
            "load", lambda b: b.get_password(SERVICE, str(integration_id))
        )
        if secret is None:
            raise TokenMissingError(
                f"the keyring holds no token for integration {integration_id}; "
                f"reconnect it: midst-desktop integrations reconnect {integration_id}"
            )
        try:
            return OAuthCredentials.from_json(secret)
        except CredentialsFormatError as error:
            raise TokenMissingError(
                f"the keyring entry of integration {integration_id} is damaged "
                f"({error}); reconnect it"
            ) from None

    def check(self) -> None:
        """Read an entry nobody writes: raises CredentialsUnavailableError
        when the keyring is locked, missing or not answering."""
        self._call("check", lambda b: b.get_password(SERVICE, HEALTH_CHECK_USER))

    def delete(self, integration_id: int) -> bool:
        """Delete an integration's credentials; False when there were none."""
        try:
            self._call(
                "delete", lambda b: b.delete_password(SERVICE, str(integration_id))
            )
        except PasswordDeleteError:
            return False
        log.info("Deleted the credentials of integration_id=%s", integration_id)
        return True
