"""A folder that changes between killed syncs, and what the store must say about it."""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

EXTENSIONS = (".txt", ".md", ".csv", ".py", ".tex")


@dataclass
class FolderModel:
    """The truth about a test folder: which file is where, and where it came from.

    A file's identity is the path it was created at. Renames keep the
    identity, so the store's artifact for an identity must follow it.
    """

    root: Path
    rng: random.Random
    files: dict[str, str] = field(default_factory=dict)  # path -> identity
    where: dict[str, str] = field(default_factory=dict)  # identity -> path
    deleted: set[str] = field(default_factory=set)  # identities, at their path
    movable: set[str] = field(default_factory=set)  # top folders that get renamed
    fixed: set[str] = field(default_factory=set)  # top folders that get edits
    versions: dict[str, int] = field(default_factory=dict)
    made: int = 0

    def add_folder(self, name: str, count: int, movable: bool) -> None:
        folder = self.root / name
        folder.mkdir(parents=True)
        for number in range(count):
            extension = EXTENSIONS[(self.made + number) % len(EXTENSIONS)]
            relative = f"{name}/item {number:03d}{extension}"
            self._write(relative, relative)
            self.files[relative] = relative
            self.where[relative] = relative
        self.made += count
        (self.movable if movable else self.fixed).add(name)

    def _write(self, relative: str, identity: str) -> None:
        version = self.versions.get(identity, 0)
        # Unique content per identity and version: no two files share a hash.
        body = f"{identity}\nversion {version}\n" + "x" * version
        (self.root / relative).write_text(body)

    def rename_folder(self, old: str, new: str) -> None:
        os.rename(self.root / old, self.root / new)
        prefix = old + "/"
        for path in [p for p in self.files if p.startswith(prefix)]:
            identity = self.files.pop(path)
            moved = new + "/" + path[len(prefix) :]
            self.files[moved] = identity
            self.where[identity] = moved
        self.movable.discard(old)
        self.movable.add(new)

    def move_file(self, old: str, new: str) -> None:
        os.rename(self.root / old, self.root / new)
        identity = self.files.pop(old)
        self.files[new] = identity
        self.where[identity] = new

    def delete(self, path: str) -> None:
        (self.root / path).unlink()
        identity = self.files.pop(path)
        del self.where[identity]
        self.deleted.add(identity)

    def edit(self, path: str) -> None:
        identity = self.files[path]
        self.versions[identity] = self.versions.get(identity, 0) + 1
        self._write(path, identity)

    def never_moved(self) -> list[str]:
        return sorted(p for p, identity in self.files.items() if p == identity)

    def in_folders(self, folders: set[str]) -> list[str]:
        return sorted(p for p in self.files if p.split("/", 1)[0] in folders)

    def digest(self, path: str) -> str:
        return hashlib.sha256((self.root / path).read_bytes()).hexdigest()
