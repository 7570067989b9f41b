"""What a bundled build must carry that only shows when used: keyring, CAs, Drive."""

from __future__ import annotations

import importlib
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

# The keyring backend each platform's tokens live in, by entry point name.
KEYRING_BACKENDS = {"linux": "SecretService", "darwin": "macOS", "win32": "Windows"}
# Modules that backend needs besides keyring's own.
KEYRING_NEEDS = {"linux": ("secretstorage", "jeepney")}


def keyring_backend(platform: str = sys.platform) -> str:
    """'ok' when this platform's backend can be found by keyring and imported.

    keyring finds backends through its package metadata's entry points, so
    the metadata must be bundled as well as the modules.
    """
    wanted = KEYRING_BACKENDS.get(platform, KEYRING_BACKENDS["linux"])
    found = {ep.name: ep for ep in entry_points(group="keyring.backends")}
    if wanted not in found:
        return f"keyring has no entry point for {wanted} (metadata not bundled)"
    for module in (found[wanted].module, *KEYRING_NEEDS.get(platform, ())):
        try:
            importlib.import_module(module)
        except ImportError as error:
            return f"{module} does not import: {error}"
    return "ok"


def ca_bundle() -> str:
    """'ok' when certifi's CA file is there and holds certificates."""
    try:
        import certifi

        path = Path(certifi.where())
        text = path.read_text(encoding="ascii", errors="replace")
    except (ImportError, OSError) as error:
        return f"certifi's CA file cannot be read: {error}"
    if text.count("BEGIN CERTIFICATE") < 10:
        return f"certifi's CA file {path.name} holds too few certificates"
    return "ok"


def drive_discovery() -> str:
    """'ok' when Drive v3's discovery document is bundled (no download needed)."""
    try:
        from googleapiclient.discovery_cache import get_static_doc

        text = get_static_doc("drive", "v3")
    except ImportError as error:
        return f"the Google API client does not import: {error}"
    if text is None:
        return "Drive v3's discovery document is not bundled"
    document = json.loads(text)
    if document.get("name") != "drive" or "list" not in (
        document.get("resources", {}).get("changes", {}).get("methods", {})
    ):
        return "Drive v3's discovery document lacks changes.list"
    return "ok"


def self_check() -> dict[str, str]:
    """Each check by name: 'ok' or what is missing."""
    return {
        "keyring_backend": keyring_backend(),
        "ca_bundle": ca_bundle(),
        "drive_discovery": drive_discovery(),
    }


def main() -> int:
    """Print the checks as JSON; 0 when all pass, 1 otherwise."""
    report = self_check()
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0 if all(value == "ok" for value in report.values()) else 1
