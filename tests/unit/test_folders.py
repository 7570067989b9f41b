"""Folder config: exclude globs, size limits and folder pruning."""

from __future__ import annotations

from midst_desktop.sync.folders import FolderConfig


def test_exclude_globs_match_at_any_depth_and_at_the_root() -> None:
    config = FolderConfig(excluded_patterns=("*/node_modules/*",))
    assert config.is_excluded("/proj/node_modules/lib/a.js")
    assert config.is_excluded("/node_modules/a.js")
    assert not config.is_excluded("/proj/src/a.js")


def test_a_folder_whose_contents_are_all_excluded_is_pruned() -> None:
    config = FolderConfig(excluded_patterns=("*/node_modules/*", "*.tmp"))
    assert config.prunes_folder("/proj/node_modules")
    assert not config.prunes_folder("/proj/src")


def test_skip_reasons_in_order_of_precedence() -> None:
    config = FolderConfig(excluded_patterns=("*.log",), max_file_size_mb=1)
    assert config.skip_reason("/a.log", 10, None) == "excluded"
    assert config.skip_reason("/a.bin", 2 * 1024 * 1024, None) == "too_large"
    assert config.skip_reason("/a.bin", 10, None) is None


def test_allowed_mime_types_skip_everything_else() -> None:
    config = FolderConfig(allowed_mime_types=("application/pdf",))
    assert config.skip_reason("/a.txt", 1, "text/plain") == "unsupported"
    assert config.skip_reason("/a.pdf", 1, "application/pdf") is None


def test_folder_config_round_trips_through_json() -> None:
    config = FolderConfig(
        included_folders=("/Papers",), excluded_patterns=("*.tmp",), max_file_size_mb=5
    )
    assert FolderConfig.from_json(config.to_json()) == config
    assert FolderConfig.from_json(None) == FolderConfig()
