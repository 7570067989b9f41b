"""A folder's digest is the same whether the first walk or a listing made it."""

from __future__ import annotations

import os
from pathlib import Path

from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import Scope
from midst_desktop.sync.providers.local import LocalProvider

# Names whose order as files, as folders and as digest lines can differ:
# prefixes of each other, characters below and above '/', NUL's neighbours.
NAMES = ["a", "a b", "a-b", "a0", "ab", "a.b", "Zeta", "été", "日本", "line\nbreak"]


def make_tree(root: Path) -> None:
    for index, name in enumerate(NAMES):
        # Every other name is a folder, so that files and folders interleave.
        if index % 2:
            (root / name).mkdir(parents=True)
            (root / name / "inside.txt").write_text(name)
        else:
            root.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(name)
    (root / "a-" / "deeper" / "still").mkdir(parents=True)
    (root / "a-" / "deeper" / "still" / "x.md").write_text("x")
    (root / "a-" / "empty").mkdir()
    os.symlink("a", root / "link to a")


def walked_digests(
    provider: LocalProvider, config: FolderConfig
) -> dict[str, str | None]:
    provider.walked = {}
    list(provider.list_files(config, Scope()))
    walked, provider.walked = provider.walked, None
    return walked


def test_the_listing_and_the_first_walk_make_the_same_digests(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    make_tree(root)
    provider = LocalProvider(root)
    config = FolderConfig(excluded_patterns=("*/a0/*",))

    found = provider.folder_digests(config)

    assert found == walked_digests(provider, config)
    assert "a0" not in found  # pruned whole: not walked, no digest
    assert {"", "a b", "a-/deeper/still", "a-/empty", "line\nbreak"} <= set(found)
    assert all(found.values())


def test_a_digest_follows_what_changes_in_its_own_folder_only(tmp_path: Path) -> None:
    root = tmp_path / "Documents"
    make_tree(root)
    provider = LocalProvider(root)
    config = FolderConfig()
    before = provider.folder_digests(config)

    (root / "a-" / "deeper" / "still" / "x.md").write_text("y")
    (root / "a-" / "empty" / "new.md").write_text("new")
    after = provider.folder_digests(config)

    changed = {folder for folder in before if before[folder] != after[folder]}
    assert changed == {"a-/deeper/still", "a-/empty"}
    # The same files under another folder config or root are other digests.
    other = provider.folder_digests(FolderConfig(max_file_size_mb=5))
    assert not set(other.values()) & set(after.values())
