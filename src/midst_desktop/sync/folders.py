"""An integration's folder config: what to include, exclude, and how large."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

from midst_desktop.store.models import SkipReason

DEFAULT_MAX_FILE_SIZE_MB = 100


class FolderConfigError(ValueError):
    """A folder config value is not usable; the message says which."""


@dataclass(frozen=True)
class FolderConfig:
    included_folders: tuple[str, ...] = ("/",)
    excluded_patterns: tuple[str, ...] = ()
    max_file_size_mb: int = DEFAULT_MAX_FILE_SIZE_MB
    allowed_mime_types: tuple[str, ...] | None = None
    _matchers: tuple[re.Pattern[str], ...] = field(
        default=(), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        compiled = tuple(
            re.compile(fnmatch.translate(pattern)) for pattern in self.excluded_patterns
        )
        object.__setattr__(self, "_matchers", compiled)

    @property
    def max_file_size_bytes(self) -> int:
        return self.max_file_size_mb * 1024 * 1024

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> FolderConfig:
        data = data or {}
        allowed = data.get("allowed_mime_types")
        return cls(
            included_folders=tuple(data.get("included_folders") or ["/"]),
            excluded_patterns=tuple(data.get("excluded_patterns") or []),
            max_file_size_mb=int(
                data.get("max_file_size_mb", DEFAULT_MAX_FILE_SIZE_MB)
            ),
            allowed_mime_types=tuple(allowed) if allowed else None,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "included_folders": list(self.included_folders),
            "excluded_patterns": list(self.excluded_patterns),
            "max_file_size_mb": self.max_file_size_mb,
        }
        if self.allowed_mime_types:
            data["allowed_mime_types"] = list(self.allowed_mime_types)
        return data

    def includes(self, path: str) -> bool:
        """Whether a '/'-rooted path is an included folder or lies below one."""
        for folder in self.included_folders:
            top = "/" + folder.strip("/") if folder.strip("/") else ""
            if not top or path == top or path.startswith(top + "/"):
                return True
        return False

    def is_excluded(self, path: str) -> bool:
        """Whether a '/'-rooted path matches an excluded glob (case-sensitive)."""
        return any(matcher.match(path) for matcher in self._matchers)

    def prunes_folder(self, folder_path: str) -> bool:
        """Whether everything inside a '/'-rooted folder path is excluded."""
        return self.is_excluded(folder_path.rstrip("/") + "/")

    def skip_reason(self, path: str, size: int, mime_type: str | None) -> str | None:
        """Why a listed file is skipped, or None when it is taken in."""
        if self.is_excluded(path):
            return SkipReason.EXCLUDED
        if size > self.max_file_size_bytes:
            return SkipReason.TOO_LARGE
        if self.allowed_mime_types and (mime_type or "") not in self.allowed_mime_types:
            return SkipReason.UNSUPPORTED
        return None


def validate_pattern(pattern: str) -> str:
    if not pattern or "\x00" in pattern:
        raise FolderConfigError("an exclude pattern must be a non-empty glob")
    return pattern
