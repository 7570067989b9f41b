"""midst-desktop: find, classify and review your creative and academic work."""

from importlib import metadata


def _version() -> str:
    # pyproject.toml is the one place the version is written; installed
    # packages and the bundled binary both carry its metadata.
    try:
        return metadata.version("midst-desktop")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _version()
