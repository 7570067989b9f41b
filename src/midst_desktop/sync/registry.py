"""Which provider serves an integration."""

from __future__ import annotations

from midst_desktop.store.models import Integration
from midst_desktop.store.models import Provider as ProviderName
from midst_desktop.sync.providers.base import Provider, SourceUnavailableError
from midst_desktop.sync.providers.local import LocalProvider


def provider_for(integration: Integration) -> Provider:
    """The provider for an integration. Raises SourceUnavailableError."""
    if integration.provider == ProviderName.LOCAL:
        return LocalProvider(integration.root_path or "")
    raise SourceUnavailableError(
        f"{integration.provider} integrations cannot be synced by this version"
    )
