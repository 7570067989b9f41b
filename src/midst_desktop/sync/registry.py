"""Which provider serves an integration."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from midst_desktop.config import Settings, load_settings
from midst_desktop.store.models import Integration
from midst_desktop.store.models import Provider as ProviderName
from midst_desktop.sync.providers.base import Provider, SourceUnavailableError
from midst_desktop.sync.providers.local import LocalProvider


def provider_for(
    integration: Integration, settings: Settings | None = None
) -> Provider:
    """The provider for an integration. Raises SourceUnavailableError.

    Cloud providers read their credentials from the keyring when they first
    need them. Without settings, they are read from the environment.
    """
    if integration.provider == ProviderName.LOCAL:
        return LocalProvider(integration.root_path or "")
    from midst_desktop.sync.cloud import build_provider

    try:
        return build_provider(
            settings or load_settings(), integration.provider, integration.id
        )
    except KeyError:
        raise SourceUnavailableError(
            f"{integration.provider} integrations cannot be synced by this version"
        ) from None


def providers_for(settings: Settings) -> Callable[[Integration], Provider]:
    """provider_for bound to the settings (data and cache folders, endpoints)."""
    return partial(provider_for, settings=settings)
