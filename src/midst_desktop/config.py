"""Settings: defaults, then the TOML file, then MIDST_* (and ORCH_*) variables."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

APP_NAME = "midst-desktop"
CONFIG_FILE_NAME = "config.toml"
DATABASE_FILE_NAME = "midst.db"

# The operations guide's names, accepted as aliases of our own.
ORCH_ALIASES: dict[str, str] = {
    "ORCH_ARTIFACT_BATCH_SIZE": "batch_size",
    "ORCH_PARALLEL_DOWNLOADS": "parallel_downloads",
    "ORCH_WORKER_COUNT": "worker_count",
    "ORCH_ARTIFACT_MAX_FILE_SIZE": "max_file_size_mb",
    "ORCH_SCHEDULER_ENABLED": "scheduler_enabled",
}

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything the agent reads from its configuration, resolved."""

    data_dir: Path
    config_dir: Path
    log_dir: Path
    cache_dir: Path
    database_url: str
    batch_size: int = 5000
    parallel_downloads: int = 3
    worker_count: int = 4
    max_file_size_mb: int = 100
    scheduler_enabled: bool = True
    incremental_interval_minutes: int = 15
    full_interval_hours: int = 24
    log_level: str = "INFO"
    # OAuth apps; a person or an organisation may register its own (README).
    google_client_id: str = ""
    # From MIDST_GOOGLE_CLIENT_SECRET only; after a sign-in it is kept in the
    # integration's keyring entry with the refresh token.
    google_client_secret: str = ""
    dropbox_app_key: str = ""
    # Provider endpoints. Overriding them is for testing against emulators.
    gdrive_api_url: str = "https://www.googleapis.com/"
    gdrive_auth_url: str = "https://accounts.google.com/o/oauth2/auth"
    gdrive_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105
    gdrive_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    dropbox_api_url: str = "https://api.dropboxapi.com"
    dropbox_content_url: str = "https://content.dropboxapi.com"
    dropbox_auth_url: str = "https://www.dropbox.com/oauth2/authorize"
    # A loopback redirect registered for the Dropbox app, such as
    # http://127.0.0.1:53682/ (no port: any); empty: the person pastes the code.
    dropbox_redirect_uri: str = ""
    oauth_timeout_seconds: int = 300
    # The first wait before retrying a cloud request; it doubles, with jitter.
    cloud_retry_base_ms: int = 1000
    # Text and metadata of new and changed files, read in a worker process
    # with a time and memory limit; off, files are classified by name and bytes.
    extract_content: bool = True
    extract_timeout_seconds: int = 10
    extract_memory_mb: int = 1024
    # The local /health and /metrics endpoint: off unless asked for.
    endpoint_enabled: bool = False
    endpoint_port: int = 3002
    endpoint_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


TUNABLES = {
    "batch_size": (int, 1, 100_000),
    "parallel_downloads": (int, 1, 64),
    "worker_count": (int, 1, 64),
    "max_file_size_mb": (int, 1, 1_000_000),
    "incremental_interval_minutes": (int, 1, 10_080),
    "full_interval_hours": (int, 1, 8_760),
    "oauth_timeout_seconds": (int, 5, 3_600),
    "cloud_retry_base_ms": (int, 1, 60_000),
    "extract_timeout_seconds": (int, 1, 600),
    "extract_memory_mb": (int, 128, 65_536),
    "endpoint_port": (int, 0, 65_535),  # 0: any free port (tests)
}

# On/off settings.
BOOLS = ("scheduler_enabled", "endpoint_enabled", "extract_content")

# Secrets: read from MIDST_<NAME> only, refused in the TOML file, so that no
# secret sits in a file the app reads (or the settings window writes).
ENVIRONMENT_ONLY = ("google_client_secret",)

# Free-text settings, read from the TOML file and from MIDST_<NAME>.
TEXTS = (
    "google_client_id",
    "google_client_secret",
    "dropbox_app_key",
    "gdrive_api_url",
    "gdrive_auth_url",
    "gdrive_token_url",
    "gdrive_revoke_url",
    "dropbox_api_url",
    "dropbox_content_url",
    "dropbox_auth_url",
    "dropbox_redirect_uri",
    "endpoint_token",
)


def _parse_bool(name: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _parse_int(name: str, raw: object, low: int, high: int) -> int:
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _coerce(name: str, key: str, raw: object) -> object:
    if key in BOOLS:
        return _parse_bool(name, raw)
    if key == "log_level":
        level = str(raw).upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"{name} must be DEBUG, INFO, WARNING or ERROR")
        return level
    _, low, high = TUNABLES[key]
    return _parse_int(name, raw, low, high)


def _paths(data_dir: str | None) -> dict[str, Path]:
    if data_dir:
        root = Path(data_dir).expanduser().resolve()
        if root.exists() and not root.is_dir():
            raise ConfigError(f"the data dir {root} is a file, not a folder")
        return {
            "data_dir": root,
            "config_dir": root / "config",
            "log_dir": root / "logs",
            "cache_dir": root / "cache",
        }
    return {
        "data_dir": Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        "config_dir": Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        "log_dir": Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        "cache_dir": Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    }


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def load_settings(
    data_dir: str | None = None,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve settings; arguments win over the environment, which wins over TOML.

    Raises ConfigError with a message naming the bad setting.
    """
    env = os.environ if environ is None else environ
    paths = _paths(data_dir or env.get("MIDST_DATA_DIR"))
    values: dict[str, object] = {}

    file_values = _read_toml(paths["config_dir"] / CONFIG_FILE_NAME)
    known = {f.name for f in fields(Settings)}
    for key, raw in file_values.items():
        if key in ENVIRONMENT_ONLY:
            # The value is not repeated: the message may end up in a log.
            raise ConfigError(
                f"{key} is not read from {CONFIG_FILE_NAME}, which must hold no "
                f"secret: remove it and set MIDST_{key.upper()} instead"
            )
        if key in TUNABLES or key in BOOLS or key == "log_level":
            values[key] = _coerce(f"{key} in {CONFIG_FILE_NAME}", key, raw)
        elif key in TEXTS or (key == "database_url" and isinstance(raw, str)):
            values[key] = str(raw)
        elif key not in known:
            values.setdefault("extra", {})
            extra = values["extra"]
            assert isinstance(extra, dict)
            extra[key] = raw

    for alias, key in ORCH_ALIASES.items():
        if alias in env:
            values[key] = _coerce(alias, key, env[alias])
    for key in [*TUNABLES, *BOOLS, "log_level"]:
        name = f"MIDST_{key.upper()}"
        if name in env:
            values[key] = _coerce(name, key, env[name])
    for key in TEXTS:
        name = f"MIDST_{key.upper()}"
        if env.get(name):
            values[key] = env[name]

    url = (
        database_url
        or env.get("MIDST_DATABASE_URL")
        or values.pop("database_url", None)
    )
    if not url:
        url = f"sqlite:///{paths['data_dir'] / DATABASE_FILE_NAME}"
    values.pop("database_url", None)
    settings = Settings(database_url=str(url), **paths)  # type: ignore[arg-type]
    return replace(settings, **values)  # type: ignore[arg-type]


def ensure_dirs(settings: Settings) -> None:
    """Create the data, config, log and cache folders, private to the user."""
    for path in (settings.data_dir, settings.config_dir, settings.log_dir):
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
