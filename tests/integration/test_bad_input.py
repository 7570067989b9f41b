"""Hostile folders and a broken store: a recorded skip or one line, never a lost row.

Each test first syncs a folder with a decision in it, then meets the bad
input, and checks that the run completed (or failed with one line) and that
what was stored before is still there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import shutil
import sqlite3
import string
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from midst_desktop import cli
from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database, open_database
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import ListedFile, Scope
from midst_desktop.sync.providers.local import MAX_SOURCE_ID_BYTES, LocalProvider
from midst_desktop.sync.registry import provider_for
from tests.support.processes import (
    call_unprivileged,
    cli_env,
    give_away,
    one_line,
    run_cli,
    shared_folder,
)
from tests.support.store import (
    add_local,
    artifacts_by_source,
    engine,
    source_files,
    write,
)

NAME_MAX = 255
GIB = 1024**3


@pytest.fixture
def documents(tmp_path: Path) -> Path:
    root = tmp_path / "Documents"
    write(root / "thesis" / "chapter one.md", "# Chapter one")
    write(root / "poems" / "winter.md", "snow")
    return root


def approve(database: Database, source_id: str) -> str:
    artifact = artifacts_by_source(database)[source_id]
    with database.write() as session:
        queries.move_status(session, [artifact.id], "approved")
    return artifact.id


def assert_kept(database: Database, approved_id: str, source_id: str) -> None:
    artifact = artifacts_by_source(database)[source_id]
    assert artifact.id == approved_id
    assert artifact.status == "approved"
    assert artifact.source_available


def skips(database: Database) -> dict[str, str | None]:
    return {
        source_id: row.skip_reason
        for source_id, row in source_files(database).items()
        if row.skip_reason is not None
    }


# -- links -------------------------------------------------------------------


def test_link_loops_and_dangling_links_are_recorded_never_followed(
    database: Database, settings: Settings, documents: Path
) -> None:
    integration_id = add_local(database, documents)
    sync = engine(database, settings)
    sync.sync(integration_id)
    approved = approve(database, "poems/winter.md")

    (documents / "thesis" / "loop").symlink_to("..")
    (documents / "self").symlink_to("self")
    (documents / "dangling").symlink_to(documents / "nowhere")
    (documents / "poem link.md").symlink_to(documents / "poems" / "winter.md")
    (documents / "outside").symlink_to("/")
    run = sync.sync(integration_id)

    assert run.status == "succeeded"
    assert skips(database) == {
        "thesis/loop": "unsupported",
        "self": "unsupported",
        "dangling": "unsupported",
        "poem link.md": "unsupported",
        "outside": "unsupported",
    }
    assert set(artifacts_by_source(database)) == {
        "thesis/chapter one.md",
        "poems/winter.md",
    }
    assert run.listed == 7
    assert_kept(database, approved, "poems/winter.md")


def test_an_included_folder_that_is_a_link_loop_is_recorded_not_walked(
    database: Database, settings: Settings, documents: Path
) -> None:
    (documents / "cycle").symlink_to("cycle")
    integration_id = add_local(
        database, documents, included_folders=("/cycle", "/poems")
    )

    run = engine(database, settings).sync(integration_id)

    assert run.status == "succeeded"
    assert skips(database) == {"cycle": "unsupported"}
    assert set(artifacts_by_source(database)) == {"poems/winter.md"}


# -- names -------------------------------------------------------------------


def random_component(rng: random.Random, size: int) -> str:
    # Random letters: PostgreSQL compresses a repetitive key below its limits.
    return "".join(rng.choice(string.ascii_letters) for _ in range(size))


def make_deep_folder(root: Path, components: list[str]) -> str:
    """Folders nested by descriptor, so the path may exceed PATH_MAX."""
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in components:
            os.mkdir(name, dir_fd=descriptor)
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = inner
        leaf = os.open(
            "deep note.md", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor
        )
        os.write(leaf, b"at the bottom")
        os.close(leaf)
    finally:
        os.close(descriptor)
    return "/".join(components)


def test_names_with_newlines_bad_bytes_and_255_byte_components(
    database: Database, settings: Settings, documents: Path
) -> None:
    integration_id = add_local(database, documents)
    sync = engine(database, settings)
    sync.sync(integration_id)
    approved = approve(database, "thesis/chapter one.md")
    rng = random.Random(7)

    write(documents / "two\nlines.md", "a name with a newline")
    write(documents / "tab\tand\rreturn.txt", "control characters")
    raw = os.fsencode(documents)
    with open(raw + b"/caf\xe9 latin-1.txt", "wb") as handle:
        handle.write(b"bytes that are not UTF-8 in the name")
    os.mkdir(raw + b"/dossier \xff")
    with open(raw + b"/dossier \xff/inside.txt", "wb") as handle:
        handle.write(b"inside a folder with a bad name")
    # A valid name that spells out another file's escaped bytes.
    write(documents / "caf\\xe9 latin-1.txt", "a backslash, an x, an e and a 9")
    long_name = random_component(rng, NAME_MAX - 3) + ".md"
    write(documents / long_name, "a 255-byte name")
    wide_name = "é" * ((NAME_MAX - 3) // 2) + ".md"  # two bytes per letter
    assert len(os.fsencode(wide_name)) <= NAME_MAX
    write(documents / wide_name, "255 bytes of accents")
    # About 2,000 bytes of path, stored; and one deeper than the kernel lets a
    # path name reach (PATH_MAX is 4,096), which no index could hold either.
    deep = make_deep_folder(documents, [random_component(rng, 250) for _ in range(8)])
    too_deep = make_deep_folder(
        documents, [random_component(rng, 250) for _ in range(18)]
    )
    cut = "/".join(too_deep.split("/")[:9]) + "/"
    run = sync.sync(integration_id)

    assert run.status == "succeeded"
    artifacts = artifacts_by_source(database)
    assert artifacts["two\nlines.md"].name == "two\nlines.md"
    assert "tab\tand\rreturn.txt" in artifacts
    assert artifacts[long_name].title == long_name[:-3]
    assert wide_name in artifacts
    assert f"{deep}/deep note.md" in artifacts
    assert artifacts["caf\\xe9 latin-1.txt"].size_bytes == len(
        "a backslash, an x, an e and a 9"
    )
    recorded = skips(database)
    assert recorded["dossier \\xff/"] == "unreadable"
    # The file with the bad name clashes with the one above; it is left out
    # (and logged) rather than recorded twice.
    assert "caf\\xe9 latin-1.txt" not in recorded
    # Recorded once, at the depth where a child's id could outgrow the store.
    assert {k: v for k, v in recorded.items() if k.startswith(too_deep[:300])} == {
        cut: "unsupported"
    }
    assert len(cut.encode()) <= MAX_SOURCE_ID_BYTES
    assert_kept(database, approved, "thesis/chapter one.md")

    again = sync.sync(integration_id)
    assert (again.created, again.updated, again.removed) == (0, 0, 0)


# -- size --------------------------------------------------------------------


def bytes_read_by_this_process() -> int:
    with open("/proc/self/io") as handle:
        for line in handle:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def test_a_10_gb_sparse_file_is_skipped_as_too_large_without_being_read(
    database: Database, settings: Settings, documents: Path
) -> None:
    film = write(documents / "film.mp4", "a short clip")
    integration_id = add_local(database, documents)
    sync = engine(database, settings)
    sync.sync(integration_id)
    approved = approve(database, "film.mp4")

    with (documents / "huge.iso").open("wb") as handle:
        handle.truncate(10 * GIB)
    os.truncate(film, 10 * GIB)  # a file with an artifact grows past the limit
    before = bytes_read_by_this_process()
    run = sync.sync(integration_id)
    read = bytes_read_by_this_process() - before

    assert run.status == "succeeded"
    assert read < 64 * 1024**2, f"{read} bytes read"
    files = source_files(database)
    assert files["huge.iso"].skip_reason == "too_large"
    assert files["huge.iso"].size == 10 * GIB
    assert files["film.mp4"].skip_reason == "too_large"
    film_artifact = artifacts_by_source(database)["film.mp4"]
    assert film_artifact.id == approved
    assert film_artifact.status == "approved"
    assert "huge.iso" not in artifacts_by_source(database)


# -- files that change under the run -------------------------------------------


class RacingProvider(LocalProvider):
    """The local provider, with files changed right after they are listed.

    Only the timing is arranged: each named file is deleted, or swapped for a
    pipe, after the walk saw it and before the engine reads it; a named
    folder is deleted after its parent was read and before it is.
    """

    def __init__(self, root: Path, doomed: dict[str, str]) -> None:
        super().__init__(root)
        self.doomed = doomed

    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        for listed in super().list_files(config, scope):
            action = self.doomed.get(listed.source_id)
            if action in {"delete", "pipe"}:
                os.unlink(listed.path)
            if action == "pipe":
                os.mkfifo(listed.path)
            yield listed

    def _entries(self, relative: str) -> list[os.DirEntry[str]] | None:
        if self.doomed.get(relative) == "delete folder":
            shutil.rmtree(self.root / relative)
        return super()._entries(relative)


def test_files_that_vanish_between_listing_and_reading(
    database: Database, settings: Settings, documents: Path
) -> None:
    write(documents / "drafts" / "old draft.md", "kept until the folder goes")
    integration_id = add_local(database, documents)
    engine(database, settings).sync(integration_id)
    approved = approve(database, "poems/winter.md")
    drafts_id = artifacts_by_source(database)["drafts/old draft.md"].id

    write(documents / "vanishing.md", "here for a moment")
    write(documents / "becomes a pipe.md", "then a pipe")
    write(documents / "poems" / "winter.md", "snow, edited")  # changed, then gone
    doomed = {
        "vanishing.md": "delete",
        "becomes a pipe.md": "pipe",
        "poems/winter.md": "delete",
        "drafts": "delete folder",
    }
    racing = SyncEngine(
        database, settings, lambda _integration: RacingProvider(documents, doomed)
    )
    run = racing.sync(integration_id)

    assert run.status == "succeeded"
    recorded = skips(database)
    assert recorded["vanishing.md"] == "unreadable"
    assert recorded["becomes a pipe.md"] == "unreadable"
    artifacts = artifacts_by_source(database)
    assert "vanishing.md" not in artifacts
    assert artifacts["poems/winter.md"].id == approved
    assert artifacts["poems/winter.md"].status == "approved"
    assert artifacts["drafts/old draft.md"].id == drafts_id
    assert not artifacts["drafts/old draft.md"].source_available

    # The next ordinary sync sees what is really there now.
    (documents / "becomes a pipe.md").unlink()
    engine(database, settings).sync(integration_id)
    artifacts = artifacts_by_source(database)
    assert artifacts["poems/winter.md"].status == "approved"
    assert not artifacts["poems/winter.md"].source_available
    assert "vanishing.md" not in source_files(database)


# -- permissions ---------------------------------------------------------------


def sync_as_user(url: str, data_dir: str, integration_id: int) -> dict[str, Any]:
    """One sync in this (unprivileged) process; the run as a plain dict."""
    from midst_desktop.config import load_settings

    settings = load_settings(
        data_dir=data_dir,
        database_url=url,
        # The extraction worker is a new interpreter, which 'nobody' may not
        # be allowed to start here; reading and listing are what is tested.
        environ={"MIDST_EXTRACT_CONTENT": "false"},
    )
    database = Database(url)
    try:
        run = SyncEngine(database, settings, provider_for).sync(integration_id)
        return {"status": run.status, "user": os.geteuid()}
    finally:
        database.dispose()


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    folder = shared_folder("midst-permissions-")
    yield folder
    for path, dirs, _files in os.walk(folder):
        for name in dirs:
            os.chmod(os.path.join(path, name), 0o755)
    shutil.rmtree(folder)


@pytest.mark.nonroot
def test_unreadable_files_and_folders_as_an_unprivileged_user(
    database_url: str, shared: Path
) -> None:
    root = shared / "Documents"
    write(root / "thesis" / "chapter one.md", "# Chapter one")
    write(root / "poems" / "winter.md", "snow")
    write(root / "later" / "notes.md", "readable at first")
    url = (
        f"sqlite:///{shared / 'midst.db'}"
        if database_url.startswith("sqlite")
        else database_url
    )
    database = open_database(url)
    integration_id = add_local(database, root)
    data_dir = str(shared / "data")
    give_away(shared)

    first = call_unprivileged(sync_as_user, url, data_dir, integration_id)
    assert first == {"status": "succeeded", "user": first["user"]}
    assert first["user"] != 0
    approved = approve(database, "poems/winter.md")
    later_id = artifacts_by_source(database)["later/notes.md"].id
    write(root / "secret.md", "no one may read this")
    write(root / "locked" / "inside.md", "behind a closed door")
    write(root / "listed only" / "seen.md", "the folder may be listed, not entered")
    write(root / "poems" / "spring.md", "rain")
    give_away(shared)
    os.chmod(root / "secret.md", 0)
    os.chmod(root / "locked", 0)
    os.chmod(root / "listed only", 0o644)
    os.chmod(root / "later", 0)
    os.chmod(root / "poems" / "winter.md", 0)  # unchanged, so not read again

    second = call_unprivileged(sync_as_user, url, data_dir, integration_id)

    assert second["status"] == "succeeded"
    recorded = skips(database)
    assert recorded["secret.md"] == "unreadable"
    assert recorded["locked/"] == "unreadable"
    assert recorded["later/"] == "unreadable"
    assert recorded["listed only/seen.md"] == "unreadable"
    artifacts = artifacts_by_source(database)
    assert "poems/spring.md" in artifacts
    assert artifacts["poems/winter.md"].id == approved
    assert artifacts["poems/winter.md"].status == "approved"
    # A folder that cannot be read is not known to be empty: its artifacts
    # stay, marked unavailable until it can be read again.
    assert artifacts["later/notes.md"].id == later_id
    assert not artifacts["later/notes.md"].source_available

    for path in ("secret.md", "locked", "listed only", "later", "poems/winter.md"):
        os.chmod(root / path, 0o755)
    third = call_unprivileged(sync_as_user, url, data_dir, integration_id)
    assert third["status"] == "succeeded"
    artifacts = artifacts_by_source(database)
    assert {"secret.md", "locked/inside.md", "listed only/seen.md"} <= set(artifacts)
    assert artifacts["later/notes.md"].id == later_id
    assert artifacts["later/notes.md"].source_available
    assert not skips(database)
    database.dispose()


# -- a full disk ---------------------------------------------------------------


def close_log_files() -> None:
    """The command line run in this process leaves its log file open; close it."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_midst", False):
            root.removeHandler(handler)
            handler.close()


@pytest.fixture(autouse=True)
def _no_open_log_files() -> Iterator[None]:
    yield
    close_log_files()


SMALL_DISK = "8m"
# Room for the first batches of the new files, not for all of them.
SPARE_BYTES = 160 * 1024
NEW_FILES = 1200


@contextlib.contextmanager
def small_disk(where: Path, wanted: bool) -> Iterator[bool]:
    """A small tmpfs at where; False when not wanted or not allowed here."""
    where.mkdir()
    mounted = wanted and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SMALL_DISK}", "tmpfs", str(where)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            close_log_files()
            subprocess.run(["umount", "--lazy", str(where)], check=True)


def leave_free(disk: Path, spare: int) -> None:
    """Fill the disk with one file but for spare bytes."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    with (disk / "filler").open("wb") as handle:
        handle.write(b"\0" * max(0, free - spare))


class Midst:
    """The command line on one data dir, in this process or in a real one.

    In this process it can cap the SQLite file with max_page_count: a real
    SQLITE_FULL, for machines that do not allow a small mount.
    """

    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self.capsys = capsys
        self.spare_pages: int | None = None

    @property
    def url(self) -> str:
        return f"sqlite:///{self.data_dir / 'midst.db'}"

    def __call__(self, *args: str, process: bool = False) -> tuple[int, str, str]:
        if process:
            done = run_cli(self.data_dir, self.url, *args, env=cli_env())
            return done.returncode, done.stdout, done.stderr
        spare = self.spare_pages

        def cap(dbapi_connection: Any, _record: Any) -> None:
            if spare is not None:
                pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
                dbapi_connection.execute(f"PRAGMA max_page_count = {pages + spare}")

        event.listen(Engine, "connect", cap)
        try:
            code = cli.main(["--data-dir", str(self.data_dir), *args])
        finally:
            event.remove(Engine, "connect", cap)
        out, err = self.capsys.readouterr()
        return code, out, err


def stored(data_dir: Path) -> dict[str, tuple[str, str]]:
    """source_id -> (artifact id, status), read straight from the file."""
    conn = sqlite3.connect(f"file:{data_dir / 'midst.db'}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {
            source_id: (artifact_id, status)
            for artifact_id, source_id, status in conn.execute(
                "SELECT id, source_id, status FROM artifacts"
            )
        }
    finally:
        conn.close()


def run_statuses(data_dir: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{data_dir / 'midst.db'}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("SELECT status FROM runs ORDER BY id")]
    finally:
        conn.close()


@pytest.mark.parametrize("limit", ["tmpfs", "page_count"])
def test_a_full_disk_under_the_data_dir_is_one_line_and_loses_nothing(
    limit: str, tmp_path: Path, documents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    disk = tmp_path / "small disk"
    with small_disk(disk, limit == "tmpfs") as mounted:
        midst = Midst(disk / "data", capsys)
        assert midst("integrations", "add", "local", str(documents))[0] == 0
        assert midst("sync")[0] == 0
        before = stored(midst.data_dir)
        approved_id = before["poems/winter.md"][0]
        assert midst("artifacts", "approve", approved_id)[0] == 0
        for number in range(NEW_FILES):
            write(documents / "many" / f"{number:04d} {'long name ' * 8}.md", "x")

        if mounted:
            leave_free(disk, SPARE_BYTES)
        if not mounted:
            midst.spare_pages = SPARE_BYTES // 4096
        code, _out, err = midst("sync", process=mounted)

        assert code == 1
        line = one_line(err)
        assert "full" in line, line
        kept = stored(midst.data_dir)
        assert kept["poems/winter.md"] == (approved_id, "approved")
        assert kept["thesis/chapter one.md"] == before["thesis/chapter one.md"]
        code, out, err = midst("artifacts", "list", "--status", "approved", "--json")
        assert code == 0, err
        assert [row["id"] for row in json.loads(out)] == [approved_id]

        if mounted:
            (disk / "filler").unlink()
        midst.spare_pages = None
        code, out, err = midst("sync", "1", "--json")
        assert code == 0, err
        assert json.loads(out)["status"] == "succeeded"
        after = stored(midst.data_dir)
        assert len(after) == 2 + NEW_FILES
        assert after["poems/winter.md"] == (approved_id, "approved")
        # The run the full disk stopped is on record as failed, not running.
        assert run_statuses(midst.data_dir) == ["succeeded", "failed", "succeeded"]


# -- a damaged store -----------------------------------------------------------


def damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    if how == "garbage":
        data = bytearray(random.Random(3).randbytes(len(data)))
    elif how == "truncated":
        data = data[: len(data) // 2]
    else:  # the header stays, every other page is zeros
        data[page:] = bytes(len(data) - page)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbage", "truncated", "zeroed pages"])
def test_a_damaged_database_file_is_one_line_exit_1_and_left_as_it_was(
    how: str, tmp_path: Path, documents: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    midst = Midst(tmp_path / "data", capsys)
    assert midst("integrations", "add", "local", str(documents))[0] == 0
    for number in range(50):
        write(documents / "many" / f"note {number:03d}.md", f"note {number}")
    assert midst("sync")[0] == 0
    database = midst.data_dir / "midst.db"
    assert not database.with_name("midst.db-wal").exists()
    damage(database, how)
    damaged = database.read_bytes()

    for command in (
        ["artifacts", "list", "--json"],
        ["sync"],
        ["artifacts", "approve", "0000"],
        ["backup", str(tmp_path / "copy.db")],
    ):
        code, out, err = midst(*command)
        assert code == 1, (command, out, err)
        assert "damaged" in one_line(err), command
        assert out == ""
    # And as a process: one line, exit 1, no traceback.
    code, out, err = midst("artifacts", "list", process=True)
    assert (code, out) == (1, "")
    assert "damaged" in one_line(err)
    # Left exactly as it was, for a restore or a repair by hand.
    assert database.read_bytes() == damaged
    assert [p.name for p in midst.data_dir.glob("midst*")] == ["midst.db"]
