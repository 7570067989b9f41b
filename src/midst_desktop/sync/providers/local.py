"""A folder on this computer: an ordered os.scandir walk that never follows links."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, NamedTuple

from midst_desktop.store.models import SkipReason
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import (
    ContentUnavailableError,
    ListedFile,
    Provider,
    Scope,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
# PostgreSQL cannot index a key above 2,704 bytes, and source ids are indexed
# keys. A folder so deep that a child's id could pass this is recorded whole.
MAX_SOURCE_ID_BYTES = 2400
NAME_MAX_BYTES = 255
# Changes whenever what a folder digest covers changes, so that old digests
# no longer match.
DIGEST_FORMAT = "midst-folder-1"


def _display_name(name: str) -> tuple[str, bool]:
    """A storable name; False when the bytes were not valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(name)
        return raw.decode("utf-8", errors="backslashreplace"), False
    return name, True


class FolderEntry(NamedTuple):
    """What the walk keeps of one name in a folder until its turn comes."""

    # The name as stored (\\xNN for bytes that are not UTF-8), and the real one.
    name: str
    raw_name: str
    is_dir: bool
    valid: bool


def _folder_entry(entry: os.DirEntry[str]) -> FolderEntry:
    name, valid = (
        (entry.name, True) if entry.name.isascii() else _display_name(entry.name)
    )
    try:
        is_dir = entry.is_dir(follow_symlinks=False)
    except OSError:
        is_dir = False
    return FolderEntry(name, entry.name, is_dir, valid)


def _scan(path: str) -> list[FolderEntry]:
    """The entries of one folder, in the order the system gives them."""
    with os.scandir(path) as iterator:
        try:
            # Most names are ASCII and most kinds come with the listing, so
            # most entries skip _folder_entry's checks.
            return [
                FolderEntry(
                    entry.name, entry.name, entry.is_dir(follow_symlinks=False), True
                )
                if entry.name.isascii()
                else _folder_entry(entry)
                for entry in iterator
            ]
        except OSError:
            pass  # an entry's kind could not be read: list again, with care
    with os.scandir(path) as iterator:
        return [_folder_entry(entry) for entry in iterator]


def _sort_key(entry: FolderEntry) -> tuple[str, bool]:
    # A folder sorts as "name/", which makes the walk's order the byte order of
    # the full relative paths: the order the store returns source ids in. On a
    # tie the valid name comes first (see _sorted_entries).
    return (entry.name + "/" if entry.is_dir else entry.name), not entry.valid


def _with_slash(folder: str) -> str:
    return folder if folder.endswith("/") else folder + "/"


def _too_deep(relative: str) -> bool:
    """Whether a child of this folder could have an id too long to store."""
    return len(relative.encode("utf-8")) + 1 + NAME_MAX_BYTES > MAX_SOURCE_ID_BYTES


def _folder_skip(relative: str, valid: bool, config: FolderConfig) -> str | None:
    """Why a folder is recorded whole instead of walked, or None to walk it."""
    if not valid:
        return SkipReason.UNREADABLE
    if config.prunes_folder("/" + relative):
        return SkipReason.EXCLUDED
    if _too_deep(relative):
        return SkipReason.UNSUPPORTED
    return None


def _entry_line(raw_name: str, info: os.stat_result) -> str:
    """What a folder digest keeps of one file: its name and its stat.

    The change time moves with every write, rename and permission change,
    even one that puts the size and modification time back.
    """
    return (
        f"{raw_name}\0{info.st_mode}\0{info.st_size}\0{info.st_mtime_ns}"
        f"\0{info.st_ctime_ns}\0{info.st_ino}"
    )


def _hasher(key: bytes) -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=16, key=key)


def _feed(hasher: hashlib.blake2b, line: str) -> None:
    hasher.update(f"{line}\n".encode("utf-8", "surrogateescape"))


def _digest(lines: list[str], key: bytes) -> str:
    """The digest of a folder's lines in sorted order, each ending in a newline.

    Sorted lines come in the walk's own order (a folder's name sorts as
    'name/', a file's line starts 'name' and a NUL), so _walk feeds its
    lines one by one as it goes and makes the same digest without holding
    them.
    """
    lines.sort()
    hasher = _hasher(key)
    if lines:
        hasher.update(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _sorted_entries(entries: list[FolderEntry], folder: str) -> list[FolderEntry]:
    """A folder's entries in id order, each id once.

    A name that is not UTF-8 is shown with its bytes as \\xNN, which a real
    name can spell too; such a name gives way to the real one (or to an
    earlier one like it), since two files cannot share an id.
    """
    entries.sort(key=_sort_key)
    kept: list[FolderEntry] = []
    previous: str | None = None
    for entry in entries:
        key = entry.name + "/" if entry.is_dir else entry.name
        if key == previous:
            log.warning(
                "Skipping file: %s has a name that is not UTF-8 and reads like "
                "another name in %s",
                entry.name,
                folder,
            )
            continue
        previous = key
        kept.append(entry)
    return kept


class LocalProvider(Provider):
    """Files under one root folder; source ids are '/'-separated relative paths."""

    kind = "local"
    sorted_listing = True
    summarises_folders = True

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._root = str(self.root)
        self.walked: dict[str, str | None] | None = None

    def start_cursor(self) -> str:
        return str(time.time_ns())

    def check_root(self) -> None:
        try:
            info = os.stat(self.root)
        except OSError as error:
            raise SourceUnavailableError(
                f"cannot read the folder {self.root}: {error.strerror}"
            ) from None
        if not stat.S_ISDIR(info.st_mode):
            raise SourceUnavailableError(f"{self.root} is not a folder")

    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        self.check_root()
        starts = self._starts(config, scope)
        for start in starts:
            yield from self._list_start(config, start)

    def _starts(self, config: FolderConfig, scope: Scope) -> list[str]:
        """Relative paths to walk, disjoint and in id order ('' is the root)."""
        included = sorted(
            {folder.strip("/") for folder in config.included_folders},
            key=lambda p: p + "/",
        )
        if "" in included:
            included = [""]
        else:
            included = [
                p for p in included if not any(p.startswith(q + "/") for q in included)
            ]
        if scope.path is None:
            return included
        wanted = scope.path
        for folder in included:
            if folder in {"", wanted} or wanted.startswith(folder + "/"):
                return [wanted]
        return [f for f in included if f.startswith(wanted + "/")]

    def _list_start(self, config: FolderConfig, start: str) -> Iterator[ListedFile]:
        absolute = self.root / start if start else self.root
        try:
            info = os.lstat(absolute)
        except FileNotFoundError:
            return
        except OSError:
            yield self._folder_marker(start, SkipReason.UNREADABLE)
            return
        if not stat.S_ISDIR(info.st_mode):
            listed = self._listed(start, absolute.name, str(absolute), info)
            if listed is not None:
                yield listed
            return
        yield from self._walk(config, start)

    def _walk(self, config: FolderConfig, start: str) -> Iterator[ListedFile]:
        walked = self.walked
        key = self._digest_key(config) if walked is not None else b""
        # Folders whose digest cannot be trusted: something in them could not
        # be looked at, or went while the walk was there.
        broken: set[str] = set()
        # Each open folder: its id, its absolute path ending in '/', what is
        # left, and its digest so far (None when none is asked for).
        stack: list[tuple[str, str, Iterator[FolderEntry], hashlib.blake2b | None]] = []
        entries = self._entries(start)
        if entries is None:
            if walked is not None:
                walked[start] = None
            yield self._folder_marker(start, SkipReason.UNREADABLE)
            return
        hasher = _hasher(key) if walked is not None else None
        stack.append((start, _with_slash(self._absolute(start)), iter(entries), hasher))
        while stack:
            folder, absolute, remaining, hasher = stack[-1]
            entry = next(remaining, None)
            if entry is None:
                stack.pop()
                if hasher is not None:
                    # A hasher is made only when digests are asked for.
                    assert walked is not None
                    walked[folder] = None if folder in broken else hasher.hexdigest()
                continue
            name = entry.name
            relative = f"{folder}/{name}" if folder else name
            if entry.is_dir:
                if hasher is not None:
                    _feed(hasher, entry.raw_name + "/")
                reason = _folder_skip(relative, entry.valid, config)
                if reason == SkipReason.UNSUPPORTED:
                    log.warning(
                        "Skipping folder: %s is nested too deep to record",
                        self.root / relative,
                    )
                if reason is not None:
                    yield self._folder_marker(relative, reason)
                    continue
                children = self._entries(relative)
                if children is None:
                    if walked is not None:
                        walked[relative] = None
                    yield self._folder_marker(relative, SkipReason.UNREADABLE)
                else:
                    child = absolute + entry.raw_name + "/"
                    child_hasher = _hasher(key) if walked is not None else None
                    stack.append((relative, child, iter(children), child_hasher))
                continue
            path = absolute + entry.raw_name
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                broken.add(folder)
                continue
            except OSError:
                broken.add(folder)
                yield self._skipped(relative, name, SkipReason.UNREADABLE)
                continue
            if hasher is not None:
                _feed(hasher, _entry_line(entry.raw_name, info))
            if not entry.valid:
                yield self._skipped(relative, name, SkipReason.UNREADABLE, info.st_size)
                continue
            listed = self._listed(relative, name, path, info)
            if listed is not None:
                yield listed

    # -- folder digests ---------------------------------------------------

    def folder_digests(self, config: FolderConfig) -> dict[str, str | None]:
        """The digest of every folder a whole listing would walk, by folder id.

        Walks what list_files walks with a stat per file, and nothing more:
        no listed file is built. None marks a folder that could not be read
        (or a start that is missing or not a folder): it never matches.
        """
        self.check_root()
        key = self._digest_key(config)
        digests: dict[str, str | None] = {}
        for start in self._starts(config, Scope()):
            try:
                info = os.lstat(self._absolute(start))
            except OSError:
                digests[start] = None
                continue
            if not stat.S_ISDIR(info.st_mode):
                digests[start] = None
                continue
            folders = [start]
            while folders:
                folder = folders.pop()
                digests[folder] = self._folder_digest(folder, config, key, folders)
        return digests

    def _folder_digest(
        self, folder: str, config: FolderConfig, key: bytes, folders: list[str]
    ) -> str | None:
        """One folder's digest, the lines _walk would make; adds its subfolders."""
        lines: list[str] = []
        try:
            with os.scandir(self._absolute(folder)) as iterator:
                for entry in iterator:
                    name = entry.name
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    if is_dir:
                        lines.append(name + "/")
                        child = f"{folder}/{name}" if folder else name
                        valid = name.isascii() or _display_name(name)[1]
                        if _folder_skip(child, valid, config) is None:
                            folders.append(child)
                        continue
                    lines.append(_entry_line(name, entry.stat(follow_symlinks=False)))
        except OSError:
            return None
        return _digest(lines, key)

    def _digest_key(self, config: FolderConfig) -> bytes:
        """The key of this folder's digests: what it is and what it takes in.

        A changed folder config (includes, excludes, size limit, kinds) or
        root changes every digest, so the next rescan compares every file.
        """
        described = json.dumps(
            [DIGEST_FORMAT, self._root, config.to_json()], sort_keys=True
        )
        return hashlib.blake2b(described.encode("utf-8", "surrogateescape")).digest()

    def _absolute(self, relative: str) -> str:
        return os.path.join(self._root, relative) if relative else self._root

    def _entries(self, relative: str) -> list[FolderEntry] | None:
        """A folder's entries in id order; only names and kinds are held."""
        path = self._absolute(relative)
        try:
            entries = _scan(path)
        except FileNotFoundError:
            return []
        except OSError:
            return None
        return _sorted_entries(entries, path)

    def _listed(
        self, relative: str, name: str, absolute: str, info: os.stat_result
    ) -> ListedFile | None:
        if stat.S_ISREG(info.st_mode):
            return ListedFile(
                source_id=relative,
                rel_path="/" + relative,
                path=absolute,
                name=name,
                size=info.st_size,
                modified_ns=info.st_mtime_ns,
                version=f"{info.st_size}:{info.st_mtime_ns}",
                fingerprint=(
                    f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"
                ),
            )
        # Links, sockets, pipes and devices are never opened: a pipe would block.
        return self._skipped(relative, name, SkipReason.UNSUPPORTED)

    def _skipped(
        self, relative: str, name: str, reason: str, size: int = 0
    ) -> ListedFile:
        return ListedFile(
            source_id=relative,
            rel_path="/" + relative,
            path=str(self.root / relative),
            name=name,
            size=size,
            modified_ns=None,
            version=f"skip:{reason}",
            skip_reason=reason,
        )

    def _folder_marker(self, relative: str, reason: str) -> ListedFile:
        """A folder skipped whole is recorded once, as 'folder/'."""
        name = relative.rsplit("/", 1)[-1] if relative else self.root.name
        return self._skipped(relative + "/" if relative else "/", name + "/", reason)

    def open_content(self, listed: ListedFile) -> AbstractContextManager[BinaryIO]:
        try:
            descriptor = os.open(os.path.join(self._root, listed.source_id), OPEN_FLAGS)
        except OSError as error:
            raise ContentUnavailableError(
                f"cannot read {listed.path}: {error.strerror}"
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise ContentUnavailableError(f"{listed.path} is not a regular file")
            os.set_blocking(descriptor, True)
            return os.fdopen(descriptor, "rb")
        except BaseException:
            os.close(descriptor)
            raise
