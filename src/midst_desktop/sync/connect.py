"""Connecting, reconnecting and disconnecting cloud integrations.

The CLI and the UI both go through these functions. Each one blocks on the
network and the keyring, so the UI calls them from a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Integration, IntegrationStatus
from midst_desktop.sync.cloud import (
    BrowserOpener,
    CloudKind,
    CodePrompt,
    GivenCredentials,
    cloud_kind,
)
from midst_desktop.sync.credentials import CredentialsFormatError, OAuthCredentials
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import ProviderError
from midst_desktop.sync.tokens import TokenMissingError, TokenStore

log = logging.getLogger(__name__)

MAX_TOKEN_FILE_BYTES = 64 * 1024


class ConnectError(ValueError):
    """A connection the person asked for cannot be made; the message says why."""


@dataclass(frozen=True)
class Disconnected:
    integration_id: int
    artifacts_deleted: int
    revoke_problem: str | None


def kind_for(name: str) -> CloudKind:
    try:
        return cloud_kind(name)
    except KeyError:
        raise ConnectError(f"{name} is not a cloud provider") from None
    except ImportError:
        raise ConnectError(f"{name} is not available in this version") from None


def read_refresh_token_file(path: str) -> OAuthCredentials:
    """{"refresh_token", "client_id", "client_secret"?} from a file.

    Raises ConnectError, whose message never holds a secret.
    """
    try:
        with Path(path).expanduser().open("rb") as handle:
            raw = handle.read(MAX_TOKEN_FILE_BYTES + 1)
    except OSError as error:
        raise ConnectError(f"cannot read {path}: {error.strerror}") from None
    if len(raw) > MAX_TOKEN_FILE_BYTES:
        raise ConnectError(f"{path} is too large to be a refresh token file")
    try:
        return OAuthCredentials.from_json(raw.decode("utf-8"))
    except (CredentialsFormatError, UnicodeDecodeError) as error:
        reason = (
            str(error) if isinstance(error, CredentialsFormatError) else "not UTF-8"
        )
        raise ConnectError(f"{path}: {reason}") from None


def sign_in(
    settings: Settings,
    kind: CloudKind,
    opener: BrowserOpener,
    announce: Callable[[str], None],
    prompt: CodePrompt | None = None,
) -> OAuthCredentials:
    """The browser sign-in of a provider. Raises OAuthError (a ProviderError).

    prompt asks for a code to paste when the provider's sign-in needs one.
    """
    return kind.authorize(settings, opener, announce, prompt)


def account_of(
    settings: Settings, kind: CloudKind, credentials: OAuthCredentials
) -> str:
    """The account label the provider gives for these credentials."""
    provider = kind.build(settings, None, GivenCredentials(credentials))
    try:
        label = provider.account_label()
    finally:
        provider.close()
    return label


def connect(
    database: Database,
    settings: Settings,
    kind: CloudKind,
    credentials: OAuthCredentials,
    name: str | None = None,
    store: TokenStore | None = None,
) -> dict[str, Any]:
    """Add an integration for these credentials; returns its JSON.

    The token goes to the keyring only; if the keyring refuses it, the
    integration is not kept. Raises ConnectError when the account is
    connected already, ProviderError when the provider or keyring fails.
    """
    store = store or TokenStore()
    # Ask the keyring first, so a locked one costs no provider round trip.
    store.backend()
    label = account_of(settings, kind, credentials)
    with database.read() as session:
        existing = session.scalars(
            select(Integration).where(
                Integration.provider == kind.provider,
                Integration.account_label == label,
            )
        ).first()
        if existing is not None:
            raise ConnectError(
                f"{kind.title} {label} is connected already as integration "
                f"{existing.id}; to sign in again: "
                f"midst-desktop integrations reconnect {existing.id}"
            )
    with database.write() as session:
        integration = Integration(
            provider=kind.provider,
            display_name=name or (f"{kind.title} ({label})" if label else kind.title),
            account_label=label or None,
            status=IntegrationStatus.ACTIVE,
            folder_config=FolderConfig(
                max_file_size_mb=settings.max_file_size_mb
            ).to_json(),
        )
        session.add(integration)
        session.flush()
        integration_id = integration.id
    try:
        store.save(integration_id, credentials)
    except BaseException:
        with database.write() as session:
            queries.remove_integration(session, integration_id, True)
        raise
    log.info("Added integration_id=%s, provider=%s", integration_id, kind.provider)
    with database.read() as session:
        return queries.integration_json(
            queries.get_integration(session, integration_id)
        )


def reconnect(
    database: Database,
    settings: Settings,
    integration_id: int,
    credentials: OAuthCredentials,
    store: TokenStore | None = None,
) -> dict[str, Any]:
    """Give an integration new credentials; cursor, artifacts and decisions stay.

    Raises ConnectError when the credentials belong to another account.
    """
    store = store or TokenStore()
    with database.read() as session:
        integration = queries.get_integration(session, integration_id)
        provider_name, label = integration.provider, integration.account_label
    kind = kind_for(provider_name)
    store.backend()
    new_label = account_of(settings, kind, credentials)
    if label and new_label and new_label != label:
        raise ConnectError(
            f"integration {integration_id} is {kind.title} {label}, but the sign-in "
            f"was for {new_label}; sign in with {label}"
        )
    try:
        previous: OAuthCredentials | None = store.load(integration_id)
    except ProviderError:
        previous = None
    store.save(integration_id, credentials)
    if previous is not None and previous.refresh_token != credentials.refresh_token:
        # The new token is stored first, so a failure here loses nothing.
        try:
            kind.revoke(settings, previous)
        except ProviderError as error:
            log.warning("Could not revoke the old token: %s", error)
    with database.write() as session:
        integration = queries.get_integration(session, integration_id)
        integration.status = IntegrationStatus.ACTIVE
        integration.last_error = None
        integration.account_label = new_label or integration.account_label
        payload = queries.integration_json(integration)
    log.info("Reconnected integration_id=%s", integration_id)
    return payload


def disconnect(
    database: Database,
    settings: Settings,
    integration_id: int,
    delete_artifacts: bool,
    store: TokenStore | None = None,
) -> Disconnected:
    """Revoke the token at the provider, delete it from the keyring, remove.

    Revocation is best effort (the person may be offline): its problem is
    returned for the person, and the token is deleted locally anyway. A
    keyring that cannot be read stops here, so nothing is half done.
    """
    store = store or TokenStore()
    with database.read() as session:
        provider_name = queries.get_integration(session, integration_id).provider
    kind = kind_for(provider_name)
    problem: str | None = None
    try:
        credentials: OAuthCredentials | None = store.load(integration_id)
    except TokenMissingError:
        credentials = None
    if credentials is not None:
        try:
            kind.revoke(settings, credentials)
        except ProviderError as error:
            problem = str(error)
    store.delete(integration_id)
    with database.write() as session:
        removed = queries.remove_integration(session, integration_id, delete_artifacts)
    if kind.forget is not None:
        kind.forget(settings, integration_id)
    log.info("Removed integration_id=%s", integration_id)
    return Disconnected(integration_id, removed, problem)
