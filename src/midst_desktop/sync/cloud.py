"""Cloud provider kinds: how each one is connected, built, labelled and revoked.

A provider module (sync/providers/gdrive.py, sync/providers/dropbox.py)
defines CLOUD_KIND; the CLI, the registry and the UI only go through it.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from midst_desktop.config import Settings
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.providers.base import Provider
from midst_desktop.sync.tokens import TokenStore

log = logging.getLogger(__name__)

# CLI word -> the module that defines its CLOUD_KIND.
KIND_MODULES = {
    "google-drive": "midst_desktop.sync.providers.gdrive",
    "dropbox": "midst_desktop.sync.providers.dropbox",
}
DOWNLOADS_FOLDER = "downloads"


class CredentialsSource(Protocol):
    """Where a provider gets its credentials, and puts a rotated refresh token."""

    def load(self) -> OAuthCredentials: ...

    def save(self, credentials: OAuthCredentials) -> None: ...


class KeyringCredentials:
    """An integration's credentials in the keyring (read when first needed)."""

    def __init__(self, integration_id: int, store: TokenStore | None = None) -> None:
        self.integration_id = integration_id
        self.store = store or TokenStore()

    def load(self) -> OAuthCredentials:
        return self.store.load(self.integration_id)

    def save(self, credentials: OAuthCredentials) -> None:
        self.store.save(self.integration_id, credentials)


class AccessTokens:
    """Access tokens kept in memory across the runs of one process.

    Only the refresh token lives in the keyring; keeping the short-lived
    access token (and its expiry) in memory lets the agent's next incremental
    run go straight to the provider without a refresh: one request when
    nothing changed. Entries are keyed by a digest, never by the token.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, datetime]] = {}

    @staticmethod
    def _key(credentials: OAuthCredentials) -> str:
        material = f"{credentials.client_id}\0{credentials.refresh_token}"
        return hashlib.sha256(material.encode()).hexdigest()

    def get(self, credentials: OAuthCredentials) -> tuple[str, datetime] | None:
        with self._lock:
            return self._tokens.get(self._key(credentials))

    def put(self, credentials: OAuthCredentials, token: str, expiry: datetime) -> None:
        with self._lock:
            self._tokens[self._key(credentials)] = (token, expiry)

    def forget(self, credentials: OAuthCredentials) -> None:
        with self._lock:
            self._tokens.pop(self._key(credentials), None)


class GivenCredentials:
    """Credentials held in memory: a new connection not stored yet."""

    def __init__(self, credentials: OAuthCredentials) -> None:
        self.credentials = credentials

    def load(self) -> OAuthCredentials:
        return self.credentials

    def save(self, credentials: OAuthCredentials) -> None:
        self.credentials = credentials


# An opener shows a URL to the person (the system browser by default).
BrowserOpener = Callable[[str], object]
# Asks the person for a code shown in the browser: gets the question and the
# time-out in seconds, returns what was pasted ('' for nothing).
CodePrompt = Callable[[str, float], str]


class Authorize(Protocol):
    """A provider's sign-in: the browser, then new credentials."""

    def __call__(
        self,
        settings: Settings,
        opener: BrowserOpener,
        announce: Callable[[str], None],
        prompt: CodePrompt | None = None,
    ) -> OAuthCredentials: ...


@dataclass(frozen=True)
class CloudKind:
    """Everything the app needs to know about one kind of cloud drive.

    build(settings, integration_id, credentials) makes the provider; it reads
    the credentials only when it first talks to the service, so keyring and
    auth errors surface inside a run. integration_id is None while connecting.
    authorize(settings, opener, announce, prompt) runs the sign-in in the
    browser and returns new credentials (raises OAuthError); a sign-in that
    ends in a code to paste asks prompt for it (standard input by default).
    revoke(settings, credentials) revokes them at the provider (raises
    ProviderError). forget(settings, integration_id), when given, deletes what
    the provider keeps in the cache folder for a removed integration.
    """

    cli_name: str
    provider: str
    title: str
    build: Callable[[Settings, int | None, CredentialsSource], Provider]
    authorize: Authorize
    revoke: Callable[[Settings, OAuthCredentials], None]
    forget: Callable[[Settings, int], None] | None = None


def cloud_kind(name: str) -> CloudKind:
    """The kind for a CLI word ("google-drive") or a stored provider name.

    Raises KeyError when there is no such cloud provider.
    """
    cli_name = name.replace("_", "-")
    if cli_name not in KIND_MODULES:
        raise KeyError(name)
    module = importlib.import_module(KIND_MODULES[cli_name])
    kind: CloudKind = module.CLOUD_KIND
    return kind


def build_provider(settings: Settings, provider: str, integration_id: int) -> Provider:
    """The provider of a stored cloud integration, with keyring credentials."""
    kind = cloud_kind(provider)
    return kind.build(settings, integration_id, KeyringCredentials(integration_id))


def downloads_dir(settings: Settings) -> Path:
    """The private folder downloads go to, created 0700."""
    folder = settings.cache_dir / DOWNLOADS_FOLDER
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    return folder


@contextmanager
def temporary_download(settings: Settings) -> Iterator[BinaryIO]:
    """A private file for one download; it is gone when the block ends.

    On Linux the file has no name at all (O_TMPFILE), so even a killed
    process leaves nothing behind.
    """
    with tempfile.TemporaryFile(dir=downloads_dir(settings)) as handle:
        yield handle
