"""The interface every provider implements for the sync engine."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO

from midst_desktop.sync.folders import FolderConfig


class ProviderError(RuntimeError):
    """The source failed; the message is for the person."""


class SourceUnavailableError(ProviderError):
    """The whole source (root folder, account) cannot be reached right now."""


class CursorInvalidError(ProviderError):
    """The stored change token is no longer valid; a full sync is needed."""


class ContentUnavailableError(ProviderError):
    """One file's content cannot be read (vanished, no permission, not a file)."""


@dataclass(frozen=True, slots=True)
class ListedFile:
    """One file, or one folder skipped as a whole, as a provider lists it.

    rel_path is '/'-rooted and relative to the integration's root; exclude
    globs match it. path is what the person sees (absolute for local files).
    """

    source_id: str
    rel_path: str
    path: str
    name: str
    size: int
    modified_ns: int | None
    version: str
    fingerprint: str | None = None
    mime_type: str | None = None
    content_hash: str | None = None
    skip_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Part of a source: everything (root), or one path with what lies below it."""

    path: str | None = None

    @property
    def is_everything(self) -> bool:
        return self.path is None

    def bounds(self) -> tuple[str, str, str] | None:
        """The exact id, and the half-open id range of what lies below it."""
        if self.path is None:
            return None
        # '0' is the character after '/', so [p/, p0) holds exactly p's descendants.
        return self.path, self.path + "/", self.path + "0"


class Provider(abc.ABC):
    """A source of files. Listings are sorted by source_id when sorted_listing."""

    kind: str
    sorted_listing: bool = True

    @abc.abstractmethod
    def start_cursor(self) -> str:
        """A change token taken before listing, so nothing falls between."""

    @abc.abstractmethod
    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        """Every file in the scope under the included folders.

        Raises SourceUnavailableError when the source itself cannot be read.
        """

    @abc.abstractmethod
    def open_content(self, listed: ListedFile) -> AbstractContextManager[BinaryIO]:
        """The file's bytes. Raises ContentUnavailableError."""

    def scope_for_path(self, path: str) -> Scope:
        """The scope of a folder given by the person (relative to the source)."""
        cleaned = path.strip().strip("/")
        return Scope(cleaned or None)
