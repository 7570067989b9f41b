"""The Dropbox provider, with the real SDK, against the Dropbox emulator."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import dropbox
import pytest

from midst_desktop.config import Settings, load_settings
from midst_desktop.store.models import SkipReason
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import (
    AuthExpiredError,
    Change,
    ContentUnavailableError,
    CursorInvalidError,
    ListedFile,
    Scope,
    SourceUnavailableError,
)
from midst_desktop.sync.providers.dropbox import (
    ACCESS_TOKENS,
    DropboxProvider,
    RetryPolicy,
    dropbox_content_hash,
)
from tests.emulators import dropbox as emulator
from tests.emulators.dropbox import DropboxEmulator


class Sleeps:
    """Records the waits the provider asks for, and waits a tiny bit instead."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture
def emu() -> Iterator[DropboxEmulator]:
    with DropboxEmulator() as running:
        yield running


@pytest.fixture
def dbx_settings(emu: DropboxEmulator, tmp_path: Path) -> Settings:
    return load_settings(data_dir=str(tmp_path / "data"), environ=emu.environment())


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def connect(
    emu: DropboxEmulator, dbx_settings: Settings, sleeps: Sleeps
) -> Iterator[object]:
    providers: list[DropboxProvider] = []
    refresh_token = emu.issue_refresh_token()

    def make(token: str | None = None) -> DropboxProvider:
        credentials = OAuthCredentials(token or refresh_token, emu.app_key)
        provider = DropboxProvider(
            credentials, dbx_settings, RetryPolicy(base_seconds=0.05, sleep=sleeps)
        )
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.close()


def listing(
    provider: DropboxProvider, config: FolderConfig | None = None
) -> dict[str, ListedFile]:
    found: dict[str, ListedFile] = {}
    for listed in provider.list_files(config or FolderConfig(), Scope()):
        assert listed.source_id not in found, "a file was listed twice"
        found[listed.source_id] = listed
    return found


def all_changes(
    provider: DropboxProvider, cursor: str, config: FolderConfig | None = None
) -> tuple[list[Change], str]:
    changes: list[Change] = []
    for page in provider.changes_since(cursor, config or FolderConfig()):
        changes.extend(page.changes)
        cursor = page.cursor
    return changes, cursor


def read(provider: DropboxProvider, listed: ListedFile) -> bytes:
    with provider.open_content(listed) as stream:
        return stream.read()


# -- listing ---------------------------------------------------------------


def test_a_full_listing_pages_through_every_file_once(emu, connect) -> None:
    ids = {emu.add_file(f"/Work/f{n // 100}/file{n}.txt", b"x") for n in range(2150)}
    provider = connect()

    found = listing(provider)

    assert set(found) == ids
    routes = emu.routes()
    assert routes["files/list_folder"] == 1
    # 2,150 files and 22 folders: a page of 2,000 entries, then the rest.
    assert routes["files/list_folder/continue"] == 1
    sample = found[emu.file_id("/Work/f3/file321.txt")]
    assert sample.path == "/Work/f3/file321.txt"
    assert sample.name == "file321.txt"
    assert sample.size == 1
    assert sample.content_hash == emulator.content_hash(b"x")


def test_a_listing_reset_half_way_starts_over_without_repeating(emu, connect) -> None:
    ids = {emu.add_file(f"/Many/file{n}.txt", b"x") for n in range(2100)}
    provider = connect()
    emu.fail_next(emulator.RESET)

    found = listing(provider)

    assert set(found) == ids
    assert emu.routes()["files/list_folder"] == 2


def test_only_included_folders_are_listed_and_excluded_folders_once(
    emu, connect
) -> None:
    paper = emu.add_file("/Papers/thesis.pdf", b"%PDF-1.4")
    nested = emu.add_file("/Papers/2024/notes.md", b"# notes")
    emu.add_file("/Papers/code/node_modules/lib/index.js", b"x")
    emu.add_file("/Photos/cat.jpg", b"\xff\xd8\xff")
    config = FolderConfig(
        included_folders=("/Papers", "/Papers/2024"),
        excluded_patterns=("*/node_modules/*",),
    )

    found = listing(connect(), config)

    by_path = {listed.path: listed for listed in found.values()}
    assert set(by_path) == {
        "/Papers/thesis.pdf",
        "/Papers/2024/notes.md",
        "/Papers/code/node_modules/",
    }
    assert by_path["/Papers/code/node_modules/"].skip_reason == SkipReason.EXCLUDED
    assert by_path["/Papers/thesis.pdf"].source_id == paper
    assert by_path["/Papers/2024/notes.md"].source_id == nested


def test_a_folder_scope_lists_only_that_subtree(emu, connect) -> None:
    inside = emu.add_file("/Papers/2024/a.txt", b"a")
    emu.add_file("/Papers/2023/b.txt", b"b")

    provider = connect()
    found = list(
        provider.list_files(FolderConfig(), provider.scope_for_path("papers/2024"))
    )

    assert [listed.source_id for listed in found] == [inside]


def test_an_included_folder_that_is_gone_lists_nothing(emu, connect) -> None:
    emu.add_file("/Other/a.txt", b"a")
    config = FolderConfig(included_folders=("/Missing",))

    assert listing(connect(), config) == {}


def test_documents_that_only_export_are_skipped_as_unsupported(emu, connect) -> None:
    paper = emu.add_file("/Notes.paper", b"", downloadable=False)

    found = listing(connect())

    assert found[paper].skip_reason == SkipReason.UNSUPPORTED
    assert emu.request_count("files/download") == 0


def test_shared_folders_in_the_dropbox_are_listed_read_only_too(emu, connect) -> None:
    emu.add_folder("/Team Project", shared=True, read_only=True)
    shared = emu.add_file("/Team Project/Report/draft.md", b"# draft")
    own = emu.add_file("/Mine/notes.md", b"# notes")

    found = listing(connect())

    assert set(found) == {shared, own}
    assert found[shared].path == "/Team Project/Report/draft.md"


def test_the_account_label_is_the_email(emu, connect) -> None:
    assert connect().account_label() == emulator.DEFAULT_EMAIL


# -- changes -----------------------------------------------------------------


def test_nothing_changed_costs_one_request(emu, connect) -> None:
    emu.add_file("/a.txt", b"a")
    first = connect()
    cursor = first.start_cursor()
    listing(first)
    first.close()
    emu.clear_records()

    changes, _ = all_changes(connect(), cursor)

    assert changes == []
    assert [r.route for r in emu.records()] == ["files/list_folder/continue"]


def test_edits_and_new_files_arrive_with_their_ids(emu, connect) -> None:
    edited = emu.add_file("/Papers/draft.txt", b"one")
    provider = connect()
    cursor = provider.start_cursor()
    emu.edit_file("/Papers/draft.txt", b"two")
    added = emu.add_file("/Papers/new.txt", b"new")

    changes, cursor = all_changes(provider, cursor)

    listed = {c.source_id: c.listed for c in changes if c.listed is not None}
    assert set(listed) == {edited, added}
    assert listed[edited].content_hash == emulator.content_hash(b"two")
    assert all_changes(provider, cursor)[0] == []


def test_a_moved_file_keeps_its_id_and_changes_its_path(emu, connect) -> None:
    moved = emu.add_file("/Papers/old name.txt", b"text")
    provider = connect()
    before = listing(provider)[moved]
    cursor = provider.start_cursor()
    emu.move("/Papers/old name.txt", "/Papers/2024/new name.txt")

    changes, _ = all_changes(provider, cursor)

    removals = [c.removed_path for c in changes if c.removed_path]
    assert removals == ["/papers/old name.txt"]
    files = [c for c in changes if c.source_id]
    assert len(files) == 1 and files[0].source_id == moved
    after = files[0].listed
    assert after is not None and after.path == "/Papers/2024/new name.txt"
    assert after.version != before.version
    # Removals come first, so the file ends where it went.
    assert changes.index(files[0]) > 0


def test_a_moved_folder_brings_its_files_along(emu, connect) -> None:
    ids = [emu.add_file(f"/Drafts/{n}.txt", b"d") for n in range(3)]
    provider = connect()
    cursor = provider.start_cursor()
    emu.move("/Drafts", "/Archive/Drafts")

    changes, _ = all_changes(provider, cursor)

    assert [c.removed_path for c in changes if c.removed_path] == ["/drafts"]
    moved = {c.source_id: c.listed for c in changes if c.source_id}
    assert set(moved) == set(ids)
    assert all(
        listed and listed.path.startswith("/Archive/Drafts/")
        for listed in moved.values()
    )


def test_deleted_files_and_folders_arrive_as_path_removals(emu, connect) -> None:
    emu.add_file("/a.txt", b"a")
    emu.add_file("/Folder/b.txt", b"b")
    emu.add_file("/Folder/Deep/c.txt", b"c")
    provider = connect()
    cursor = provider.start_cursor()
    emu.delete("/a.txt")
    emu.delete("/Folder")

    changes, _ = all_changes(provider, cursor)

    assert changes == [
        Change("", None, removed_path="/a.txt"),
        Change("", None, removed_path="/folder"),
    ]


def test_a_file_moved_out_of_the_included_folders_leaves(emu, connect) -> None:
    leaving = emu.add_file("/Papers/a.txt", b"a")
    provider = connect()
    config = FolderConfig(included_folders=("/Papers",))
    cursor = provider.start_cursor()
    emu.move("/Papers/a.txt", "/Elsewhere/a.txt")

    changes, _ = all_changes(provider, cursor, config)

    assert Change(leaving, None) in changes
    assert [c.removed_path for c in changes if c.removed_path] == ["/papers/a.txt"]


def test_a_file_created_then_deleted_within_one_page_is_gone(emu, connect) -> None:
    provider = connect()
    cursor = provider.start_cursor()
    brief = emu.add_file("/brief.txt", b"b")
    emu.delete("/brief.txt")

    changes, _ = all_changes(provider, cursor)

    assert Change(brief, None) in changes
    assert not any(c.listed for c in changes)


def test_a_reset_cursor_is_reported_as_invalid(emu, connect) -> None:
    provider = connect()
    cursor = provider.start_cursor()
    emu.reset_cursors()

    with pytest.raises(CursorInvalidError):
        all_changes(provider, cursor)


def test_a_cursor_dropbox_cannot_read_is_reported_as_invalid(emu, connect) -> None:
    with pytest.raises(CursorInvalidError):
        all_changes(connect(), "not a cursor")
    assert emu.request_count("files/list_folder/continue") == 1


def test_a_one_shot_reset_is_reported_as_invalid(emu, connect) -> None:
    provider = connect()
    cursor = provider.start_cursor()
    emu.fail_next(emulator.RESET)

    with pytest.raises(CursorInvalidError):
        all_changes(provider, cursor)


# -- content -------------------------------------------------------------------


def test_a_download_streams_the_bytes_through_the_content_host(emu, connect) -> None:
    data = bytes(range(256)) * 40_000  # 10 MB: three content_hash blocks
    file_id = emu.add_file("/Big/video.bin", data)
    provider = connect()
    listed = listing(provider)[file_id]

    assert read(provider, listed) == data
    hosts = {r.host for r in emu.records() if r.route == "files/download"}
    assert hosts == {"content"}
    hasher = dropbox.content_hash.DropboxContentHasher()
    hasher.update(data)
    official = hasher.hexdigest()
    assert listed.content_hash == official
    assert dropbox_content_hash(io.BytesIO(data)) == official


def test_downloads_go_by_id_so_a_rename_in_between_does_not_matter(
    emu, connect
) -> None:
    file_id = emu.add_file("/a.txt", b"content")
    provider = connect()
    listed = listing(provider)[file_id]
    emu.move("/a.txt", "/b.txt")

    assert read(provider, listed) == b"content"


def test_a_vanished_file_is_unavailable_content(emu, connect) -> None:
    file_id = emu.add_file("/a.txt", b"content")
    provider = connect()
    listed = listing(provider)[file_id]
    emu.delete("/a.txt")

    with pytest.raises(ContentUnavailableError):
        read(provider, listed)


def test_the_download_leaves_nothing_in_the_cache(emu, connect, dbx_settings) -> None:
    file_id = emu.add_file("/a.txt", b"content")
    provider = connect()
    read(provider, listing(provider)[file_id])

    assert list((dbx_settings.cache_dir / "dropbox").iterdir()) == []


# -- faults ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        emulator.RATE_LIMIT_JSON,
        emulator.RATE_LIMIT_TEXT,
        emulator.RATE_LIMIT_BARE,
        emulator.SERVER_ERROR,
        emulator.UNAVAILABLE,
        emulator.DROP,
    ],
)
def test_a_transient_fault_is_retried(emu, connect, sleeps, fault) -> None:
    file_id = emu.add_file("/a.txt", b"content")
    emu.set_retry_after(2)
    provider = connect()
    emu.fail_next(fault, route="files/list_folder")

    found = listing(provider)

    assert set(found) == {file_id}
    assert emu.faults_served() == {fault: 1}
    assert len(sleeps.waits) == 1
    if fault in (emulator.RATE_LIMIT_JSON, emulator.RATE_LIMIT_TEXT):
        assert sleeps.waits[0] >= 2  # Retry-After is honoured
    else:
        assert sleeps.waits[0] < 2  # our own backoff, with jitter


def test_retry_after_is_waited_for_for_real(emu, dbx_settings) -> None:
    emu.add_file("/a.txt", b"a")
    emu.set_retry_after(1)
    credentials = OAuthCredentials(emu.issue_refresh_token(), emu.app_key)
    provider = DropboxProvider(credentials, dbx_settings)
    emu.fail_next(emulator.RATE_LIMIT_JSON, route="files/list_folder")

    listing(provider)
    provider.close()

    attempts = [r.at for r in emu.records() if r.route == "files/list_folder"]
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 1.0


def test_a_download_cut_off_half_way_is_fetched_again(emu, connect) -> None:
    data = b"0123456789" * 100_000
    file_id = emu.add_file("/a.bin", data)
    provider = connect()
    listed = listing(provider)[file_id]
    emu.fail_next(emulator.DROP_BODY)

    assert read(provider, listed) == data
    assert emu.faults_served() == {emulator.DROP_BODY: 1}
    assert emu.request_count("files/download") == 2


def test_an_expired_access_token_refreshes_silently(emu, connect, sleeps) -> None:
    emu.add_file("/a.txt", b"a")
    provider = connect()
    provider.account_label()
    refreshes = emu.request_count("oauth2/token")
    emu.fail_next(emulator.EXPIRED_TOKEN, route="files/list_folder")

    assert len(listing(provider)) == 1
    assert emu.request_count("oauth2/token") == refreshes + 1
    assert sleeps.waits == []


def test_a_dead_access_token_with_a_live_grant_is_refreshed(emu, connect) -> None:
    emu.add_file("/a.txt", b"a")
    provider = connect()
    provider.account_label()
    emu.forget_access_tokens()
    emu.clear_records()

    assert len(listing(provider)) == 1
    assert emu.routes()["oauth2/token"] == 1


def test_a_revoked_grant_is_auth_expired(emu, connect) -> None:
    provider = connect(emu.issue_refresh_token())
    emu.revoke_all()
    emu.expire_access_tokens()

    with pytest.raises(AuthExpiredError):
        provider.account_label()


def test_invalid_grant_at_the_token_endpoint_is_auth_expired(emu, connect) -> None:
    provider = connect(emu.issue_refresh_token())
    emu.fail_next(emulator.INVALID_GRANT)

    with pytest.raises(AuthExpiredError) as raised:
        provider.start_cursor()
    assert "sign in again" in str(raised.value)


def test_a_missing_scope_asks_to_reconnect(emu, connect, sleeps) -> None:
    emu.add_file("/a.txt", b"a")
    provider = connect()
    emu.fail_next(emulator.MISSING_SCOPE, route="files/list_folder")

    with pytest.raises(AuthExpiredError, match="permission"):
        listing(provider)
    assert sleeps.waits == []


def test_a_long_retry_after_fails_the_run_without_waiting(emu, connect, sleeps) -> None:
    provider = connect()
    emu.fail_next(emulator.RATE_LIMIT_JSON, retry_after=3600)

    with pytest.raises(SourceUnavailableError, match="3600 s"):
        provider.start_cursor()
    assert sleeps.waits == []


def test_a_dropbox_that_stays_down_fails_after_the_last_try(emu, connect) -> None:
    provider = connect()
    emu.fail_next(emulator.SERVER_ERROR, times=20)

    with pytest.raises(SourceUnavailableError, match="8 tries"):
        provider.start_cursor()
    assert emu.faults_served() == {emulator.SERVER_ERROR: 8}


def test_random_faults_still_give_exactly_the_listing(emu, connect) -> None:
    ids = {emu.add_file(f"/d{n % 7}/f{n}.txt", b"%d" % n) for n in range(300)}
    provider = connect()
    provider.start_cursor()
    emu.fail_randomly(0.3, seed=4)

    found = listing(provider)
    contents = {read(provider, listed) for listed in list(found.values())[:30]}

    assert set(found) == ids
    assert len(contents) == 30
    assert sum(emu.faults_served().values()) > 5


def test_revoke_disables_the_refresh_token(emu, connect) -> None:
    token = emu.issue_refresh_token()
    provider = connect(token)
    provider.account_label()

    provider.revoke()

    assert not emu.refresh_token_valid(token)
    assert ACCESS_TOKENS.get(provider.credentials) is None
