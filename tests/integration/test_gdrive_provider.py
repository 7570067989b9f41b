"""The Google Drive provider, on the official SDK, against the Drive emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from midst_desktop.config import Settings, load_settings
from midst_desktop.store.models import SkipReason
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import (
    AuthExpiredError,
    ContentUnavailableError,
    CursorInvalidError,
    ProviderError,
    Scope,
)
from midst_desktop.sync.providers.gdrive import DriveProvider
from tests.emulators import gdrive as emu
from tests.emulators.gdrive import DriveEmulator, drive_tree
from tests.support.gdrive import drive, image_bytes, provider, sample_drive

__all__ = ["drive"]


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=str(tmp_path / "data"), environ={})


def listing(p: DriveProvider, **config: object) -> dict[str, str]:
    folder_config = FolderConfig(**config)  # type: ignore[arg-type]
    return {f.source_id: f.rel_path for f in p.list_files(folder_config, Scope())}


def test_the_whole_drive_lists_my_drive_only_and_marks_what_is_not_a_file(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    sample = sample_drive(drive.account)
    p = provider(plain_settings, drive)

    files = {f.source_id: f for f in p.list_files(FolderConfig(), Scope())}

    assert {i: f.rel_path for i, f in files.items() if not f.skip_reason} == (
        sample.expected()
    )
    assert files[sample.shortcut].skip_reason == SkipReason.UNSUPPORTED
    assert files[sample.form].skip_reason == SkipReason.UNSUPPORTED
    for absent in (sample.trashed, sample.orphan, sample.in_trashed_folder):
        assert absent not in files
    novel = files[sample.novel]
    assert (novel.export_extension, novel.content_hash, novel.size) == ("docx", None, 0)
    thesis = files[sample.thesis]
    assert thesis.content_hash is not None and len(thesis.content_hash) == 64
    assert thesis.size == len(image_bytes("PDF"))


def test_whole_drive_listing_costs_the_pages_it_needs(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    ids = list(drive_tree(drive.account, folders=30, files_per_folder=100))
    drive.max_page_size = 1000
    p = provider(plain_settings, drive)
    drive.reset_counts()

    found = listing(p)

    assert set(found) == set(ids)
    # files.get(root), one page of folders, three pages of 3,000 files.
    assert drive.api_requests == 1 + 1 + 3


def test_included_folders_are_listed_in_parallel_queries_of_fifty_parents(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    account = drive.account
    top = account.add_folder("Work")
    wanted = []
    for number in range(120):
        folder = account.add_folder(f"part {number}", top)
        wanted.append(account.add_file(f"f{number}.txt", folder, b"x", "text/plain"))
    outside = account.add_file("elsewhere.txt", None, b"y", "text/plain")
    for number in range(130):
        account.add_folder(f"other {number}")
    p = provider(plain_settings, drive)
    drive.reset_counts()

    found = listing(p, included_folders=("/Work",))

    assert set(found) == set(wanted) and outside not in found
    # root, folders, then 121 folders in queries of 50.
    assert drive.api_requests == 1 + 1 + 3


def test_included_folders_holding_most_of_the_drive_are_one_filtered_listing(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    account = drive.account
    top = account.add_folder("Work")
    wanted = []
    for number in range(120):
        folder = account.add_folder(f"part {number}", top)
        wanted.append(account.add_file(f"f{number}.txt", folder, b"x", "text/plain"))
    outside = account.add_folder("Elsewhere")
    account.add_file("elsewhere.txt", outside, b"y", "text/plain")
    p = provider(plain_settings, drive)
    drive.reset_counts()

    found = listing(p, included_folders=("/Work",))

    assert set(found) == set(wanted)
    # root, folders, one page of the whole drive.
    assert drive.api_requests == 1 + 1 + 1


def test_changes_follow_renames_moves_trash_and_deletion(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    account = drive.account
    sample = sample_drive(account)
    p = provider(plain_settings, drive)
    cursor = p.start_cursor()
    listing(p)  # keeps the folder tree for the change feed
    account.rename(sample.papers, "Articles")
    account.move(sample.photo, sample.drafts)
    account.trash(sample.notes)
    account.delete(sample.budget)
    added = account.add_file("new.txt", None, b"new", "text/plain")
    orphan = account.add_orphan("another shared.pdf")
    drive.reset_counts()

    pages = list(p.changes_since(cursor, FolderConfig()))
    final: dict[str, str | None] = {}
    for page in pages:
        for change in page.changes:
            final[change.source_id] = change.listed.rel_path if change.listed else None

    assert final[sample.thesis] == "/Articles/thesis.pdf"
    assert final[sample.novel] == "/Articles/Drafts/My novel"
    assert final[sample.photo] == "/Articles/Drafts/photo.jpg"
    assert final[sample.notes] is None
    assert final[sample.budget] is None
    assert final[added] == "/new.txt"
    assert orphan not in final
    assert pages[-1].cursor == p.start_cursor()

    drive.reset_counts()
    assert [
        page.changes for page in p.changes_since(pages[-1].cursor, FolderConfig())
    ] == [[]]
    assert drive.api_requests == 1


def test_files_leaving_the_included_folders_are_changes_to_nothing(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    sample = sample_drive(drive.account)
    p = provider(plain_settings, drive)
    cursor = p.start_cursor()
    config = FolderConfig(included_folders=("/Papers",))
    list(p.list_files(config, Scope()))
    drive.account.move(sample.thesis, drive.account.root_id)

    changes = [c for page in p.changes_since(cursor, config) for c in page.changes]

    assert [(c.source_id, c.listed) for c in changes] == [(sample.thesis, None)]


def test_an_invalid_change_token_is_reported_as_such(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    p = provider(plain_settings, drive)
    cursor = p.start_cursor()
    drive.account.add_file("a.txt", None, b"a", "text/plain")
    drive.account.invalidate_change_tokens()

    with pytest.raises(CursorInvalidError):
        list(p.changes_since(cursor, FolderConfig()))


@pytest.mark.parametrize(
    "fault",
    [
        emu.RATE_LIMIT_429,
        emu.RATE_LIMIT_429_BARE,
        emu.RATE_LIMIT_403,
        emu.USER_RATE_LIMIT_403,
        emu.SERVER_ERROR,
        emu.BAD_GATEWAY,
        emu.UNAVAILABLE,
        emu.DROP,
        emu.EXPIRED,
    ],
)
def test_transient_faults_are_retried(
    plain_settings: Settings, drive: DriveEmulator, fault: str
) -> None:
    drive.account.add_file("a.txt", None, b"a", "text/plain")
    p = provider(plain_settings, drive)
    p.start_cursor()
    drive.fail_next(fault, "/drive/v3/files")
    drive.fail_next(fault, "/drive/v3/files")

    assert len(listing(p)) == 1
    assert drive.faults_served[fault] == 2


def test_retry_after_is_honoured_and_backoff_grows_with_jitter(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    drive.retry_after = "7"
    p = provider(plain_settings, drive)
    slept: list[float] = []
    p.sleep = slept.append
    drive.fail_next(emu.RATE_LIMIT_429)
    drive.fail_next(emu.USER_RATE_LIMIT_403)
    drive.fail_next(emu.SERVER_ERROR)
    drive.fail_next(emu.SERVER_ERROR)

    p.start_cursor()

    assert slept[0] == 7.0
    base = p.settings.cloud_retry_base_ms / 1000
    for attempt, seconds in enumerate(slept[1:], start=1):
        assert base * 2**attempt / 2 <= seconds <= base * 2**attempt


def test_a_service_that_keeps_failing_is_one_clear_error(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    p = provider(plain_settings, drive)
    for _ in range(20):
        drive.fail_next(emu.UNAVAILABLE)

    with pytest.raises(ProviderError, match=r"kept failing .*HTTP 503"):
        p.start_cursor()


def test_an_expired_access_token_is_refreshed_once_silently(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    p = provider(plain_settings, drive)
    p.start_cursor()
    drive.account.expire_access_tokens()
    drive.reset_counts()

    p.start_cursor()

    assert drive.requests["/token"] == 1
    assert drive.requests["/drive/v3/changes/startPageToken"] == 2


def test_a_revoked_refresh_token_is_auth_expired(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    p = provider(plain_settings, drive)
    drive.account.revoke_all()

    with pytest.raises(AuthExpiredError, match="invalid_grant"):
        p.start_cursor()


def test_content_is_downloaded_and_documents_are_exported(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    sample = sample_drive(drive.account)
    p = provider(plain_settings, drive)
    files = {f.source_id: f for f in p.list_files(FolderConfig(), Scope())}

    with p.open_content(files[sample.thesis]) as stream:
        assert stream.read() == image_bytes("PDF")
    with p.open_content(files[sample.novel]) as stream:
        assert stream.read() == b"Chapter one."
    downloads = p.settings.cache_dir / "downloads"
    assert downloads.stat().st_mode & 0o777 == 0o700
    assert list(downloads.iterdir()) == []

    drive.account.delete(sample.photo)
    with pytest.raises(ContentUnavailableError), p.open_content(files[sample.photo]):
        pass


def test_a_lost_folder_tree_still_moves_files_with_their_folder(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    sample = sample_drive(drive.account)
    p = provider(plain_settings, drive)
    cursor = p.start_cursor()
    listing(p)
    tree_file = p.settings.cache_dir / "gdrive" / "1.json"
    assert tree_file.exists()
    drive.account.rename(sample.drafts, "Final")
    tree_file.unlink()

    changes = [
        c for page in p.changes_since(cursor, FolderConfig()) for c in page.changes
    ]

    paths = {c.source_id: c.listed.rel_path for c in changes if c.listed}
    assert paths[sample.notes] == "/Papers/Final/notes.md"
    assert tree_file.exists()


def test_invalid_grant_from_the_token_endpoint_is_auth_expired(
    plain_settings: Settings, drive: DriveEmulator
) -> None:
    p = provider(plain_settings, drive)
    drive.fail_next(emu.INVALID_GRANT, "/token")

    with pytest.raises(AuthExpiredError, match=r"invalid_grant.*reconnect 1"):
        p.start_cursor()
    assert drive.requests["/drive/v3/changes/startPageToken"] == 0
