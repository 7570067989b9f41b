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


class AuthExpiredError(ProviderError):
    """The provider refused the stored credentials for good (invalid_grant, revoked).

    The engine sets the integration to needs_reauth and keeps its cursor and
    artifacts; `integrations reconnect ID` repairs it.
    """


class CredentialsUnavailableError(ProviderError):
    """The keyring is locked or missing, so the token cannot be read right now."""


# Not frozen: a frozen dataclass sets each field through object.__setattr__,
# which tripled what listing a file costs (a walk builds one per file).
@dataclass(slots=True)
class ListedFile:
    """One file, or one folder skipped as a whole, as a provider lists it.

    rel_path is '/'-rooted and relative to the integration's root; exclude
    globs match it. path is what the person sees (absolute for local files,
    the same as rel_path for cloud drives). content_hash, when the provider
    knows it (a SHA-256), spares a download. export_extension marks a native
    document (Google Docs): classified as that format, with no checksum and
    no real size; its content is an export.
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
    export_extension: str | None = None


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


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of a provider's change feed.

    listed is None when the file left the source for us: deleted, trashed,
    moved out of the included folders, or no longer shared.

    removed_path is set (source_id empty, listed None) by a feed that reports
    deletions by path only (Dropbox): every stored file at or below that path,
    compared case-insensitively, left the source. A page lists its removals
    before its files, so a file moved within the page ends where it went.
    """

    source_id: str
    listed: ListedFile | None
    removed_path: str | None = None


@dataclass(frozen=True, slots=True)
class ChangePage:
    """Changes to apply together, and the cursor to store once they are applied."""

    changes: list[Change]
    cursor: str


class Provider(abc.ABC):
    """A source of files.

    Listings are sorted by source_id when sorted_listing; otherwise (cloud
    drives, whose ids are opaque) the engine matches each page of the listing
    against the store by id. A provider with has_change_feed answers
    changes_since() for incremental runs; the others are rescanned.
    """

    kind: str
    sorted_listing: bool = True
    has_change_feed: bool = False
    # A provider that summarises folders (the local one) answers
    # folder_digests(), and while `walked` is a dict its listings record in
    # it the digest of each folder they walked, made the same way.
    summarises_folders: bool = False
    walked: dict[str, str | None] | None = None

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

    def changes_since(self, cursor: str, config: FolderConfig) -> Iterator[ChangePage]:
        """Pages of changes since cursor, oldest first.

        The last page's cursor is the one to store. Raises CursorInvalidError
        when the cursor is no longer valid; the engine then runs a full sync.
        """
        raise NotImplementedError(f"{self.kind} has no change feed")

    def folder_digests(self, config: FolderConfig) -> dict[str, str | None]:
        """A digest of each folder's entries by folder id; None never matches."""
        raise NotImplementedError(f"{self.kind} does not summarise folders")

    def account_label(self) -> str:
        """Who the source belongs to, for the person (an e-mail, a folder)."""
        return ""

    def close(self) -> None:
        """Release connections; the provider is not used afterwards."""
        return None

    def scope_for_path(self, path: str) -> Scope:
        """The scope of a folder given by the person (relative to the source)."""
        cleaned = path.strip().strip("/")
        return Scope(cleaned or None)
