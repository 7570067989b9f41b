"""Dropbox end to end through the command line, against the Dropbox emulator.

Most commands run in this process (main()); the person's browser is an HTTP
client, the pasted code goes through standard input, and tokens go to the
real Secret Service of the test session.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from midst_desktop.cli import main
from midst_desktop.store.db import open_database
from midst_desktop.store.models import Artifact, Integration, SourceFile
from midst_desktop.sync import oauth
from midst_desktop.sync.tokens import TokenMissingError, TokenStore
from tests.conftest import missing
from tests.emulators import dropbox as emulator
from tests.emulators.dropbox import DropboxEmulator, consent, read_auth_code
from tests.support import samples
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu() -> Iterator[DropboxEmulator]:
    with DropboxEmulator() as running:
        running.set_retry_after(0)
        yield running


@pytest.fixture
def keyring_session() -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")


class Person:
    """A browser and a keyboard: allows access and types the code shown."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        read_end, self._write_end = os.pipe()
        monkeypatch.setattr(sys, "stdin", os.fdopen(read_end, "r"))
        self.pages: list[str] = []

    def close(self) -> None:
        os.close(self._write_end)

    def open_browser(self, url: str) -> bool:
        page = consent(url)
        self.pages.append(page.text)
        if 'id="auth-code"' in page.text:
            os.write(self._write_end, (read_auth_code(page.text) + "\n").encode())
        return True


class Cli:
    """Runs midst-desktop commands against one data dir and store."""

    def __init__(
        self, capsys: pytest.CaptureFixture[str], data_dir: Path, database_url: str
    ) -> None:
        self.capsys = capsys
        self.data_dir = data_dir
        self.database_url = database_url

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(
            [
                "--data-dir",
                str(self.data_dir),
                "--database-url",
                self.database_url,
                *args,
            ]
        )
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)

    def artifacts(self) -> dict[str, Artifact]:
        database = open_database(self.database_url)
        try:
            with database.read() as session:
                rows = list(session.scalars(select(Artifact)))
                files = list(session.scalars(select(SourceFile)))
        finally:
            database.dispose()
        ids = [a.source_id for a in rows]
        assert len(ids) == len(set(ids)), "an artifact is duplicated"
        keys = [(f.integration_id, f.source_id) for f in files]
        assert len(keys) == len(set(keys)), "a source file is duplicated"
        return {a.source_id: a for a in rows}

    def integration(self, integration_id: int) -> Integration:
        database = open_database(self.database_url)
        try:
            with database.read() as session:
                found = session.get(Integration, integration_id)
                assert found is not None
                session.expunge(found)
                return found
        finally:
            database.dispose()


@pytest.fixture
def person(monkeypatch: pytest.MonkeyPatch) -> Iterator[Person]:
    someone = Person(monkeypatch)
    monkeypatch.setattr(oauth, "default_opener", someone.open_browser)
    yield someone
    someone.close()


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    emu: DropboxEmulator,
    monkeypatch: pytest.MonkeyPatch,
    keyring_session: None,
    person: Person,
) -> Cli:
    for key, value in emu.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIDST_CLOUD_RETRY_BASE_MS", "1")
    monkeypatch.setenv("MIDST_OAUTH_TIMEOUT_SECONDS", "20")
    return Cli(capsys, tmp_path / "data", f"sqlite:///{tmp_path / 'midst.db'}")


THESIS = samples.pdf([["A thesis", "Abstract", "We study things."]])


def sample(emu: DropboxEmulator) -> dict[str, str]:
    return {
        "thesis": emu.add_file("/Papers/thesis.pdf", THESIS),
        "notes": emu.add_file("/Papers/2024/notes.md", b"# notes"),
        "draft": emu.add_file("/Papers/old/draft.txt", b"a draft"),
        "photo": emu.add_file("/Photos/cat.jpg", samples.photo_jpeg(64, 48)),
    }


def test_connect_sync_change_reconnect_and_remove(
    cli: Cli, emu: DropboxEmulator, database_url: str, person: Person
) -> None:
    cli.database_url = database_url
    files = sample(emu)

    added = cli.json("integrations", "add", "dropbox")
    assert added["provider"] == "dropbox"
    assert added["account_label"] == emu.email
    assert added["status"] == "active"
    stored = TokenStore().load(added["id"])
    assert emu.refresh_token_valid(stored.refresh_token)
    assert stored.client_id == emu.app_key

    run = cli.json("sync", "1", "--type", "full")
    assert run["status"] == "succeeded"
    artifacts = cli.artifacts()
    assert set(artifacts) == set(files.values())
    assert artifacts[files["thesis"]].source_path == "/Papers/thesis.pdf"
    assert artifacts[files["thesis"]].content_hash == emulator.content_hash(THESIS)
    assert all(not a.integration_id or a.source_available for a in artifacts.values())
    thesis = artifacts[files["thesis"]].id
    assert cli.json("artifacts", "approve", thesis)["status"] == "approved"

    emu.move("/Papers/thesis.pdf", "/Papers/Final/thesis (final).pdf")
    emu.delete("/Papers/old")
    emu.edit_file("/Papers/2024/notes.md", b"# notes, longer now")
    essay = emu.add_file("/Writing/essay.md", b"An essay")
    run = cli.json("sync", "1")
    assert run["kind"] == "incremental" and run["status"] == "succeeded"
    artifacts = cli.artifacts()
    assert artifacts[files["thesis"]].id == thesis
    assert artifacts[files["thesis"]].status == "approved"
    assert artifacts[files["thesis"]].source_path == "/Papers/Final/thesis (final).pdf"
    assert artifacts[files["draft"]].source_available is False
    assert artifacts[files["notes"]].size_bytes == len(b"# notes, longer now")
    assert artifacts[essay].source_path == "/Writing/essay.md"

    emu.clear_records()
    quiet = cli.json("sync", "1")
    assert quiet["counts"]["listed"] == 0
    assert [r.route for r in emu.records()] == ["files/list_folder/continue"]

    # Access revoked at Dropbox: the integration asks to be reconnected and
    # keeps its cursor; the next sign-in repairs it.
    cursor = cli.integration(1).cursor
    emu.revoke_all()
    code, _, err = cli("sync", "1")
    assert code == 1 and "reconnect" in err and err.count("\n") == 1
    state = cli.integration(1)
    assert state.status == "needs_reauth"
    assert state.cursor == cursor
    old_token = TokenStore().load(1).refresh_token

    reconnected = cli.json("integrations", "reconnect", "1")
    assert reconnected["status"] == "active"
    assert cli.integration(1).cursor == cursor
    assert TokenStore().load(1).refresh_token != old_token
    emu.add_file("/Writing/after.txt", b"after")
    run = cli.json("sync", "1")
    assert run["kind"] == "incremental" and run["counts"]["created"] == 1
    assert cli.artifacts()[files["thesis"]].status == "approved"

    token = TokenStore().load(1).refresh_token
    code, out, _ = cli("integrations", "remove", "1")
    assert code == 0 and "kept" in out
    assert not emu.refresh_token_valid(token)
    with pytest.raises(TokenMissingError):
        TokenStore().load(1)
    remaining = cli.artifacts()
    assert remaining[files["thesis"]].status == "approved"
    assert remaining[files["thesis"]].integration_id is None


def test_the_registered_loopback_redirect_brings_the_browser_back(
    cli: Cli, emu: DropboxEmulator, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect = f"http://127.0.0.1:{port}/"
    emu.register_redirect_uri(redirect)
    monkeypatch.setenv("MIDST_DROPBOX_REDIRECT_URI", redirect)

    def browser(url: str) -> bool:
        threading.Thread(target=person.open_browser, args=(url,)).start()
        return True

    monkeypatch.setattr(oauth, "default_opener", browser)

    added = cli.json("integrations", "add", "dropbox")

    assert added["account_label"] == emu.email
    # The browser's thread may still be reading the last page.
    wait_for(
        lambda: any("close this window" in page for page in person.pages),
        "the browser shown the page that says it can be closed",
    )
    cli("integrations", "remove", "1")


def test_a_refresh_token_file_connects_without_a_browser(
    cli: Cli, emu: DropboxEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_browser(url: str) -> None:
        raise AssertionError("the browser must not open")

    monkeypatch.setattr(oauth, "default_opener", no_browser)
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {"refresh_token": emu.issue_refresh_token(), "client_id": emu.app_key}
        )
    )

    added = cli.json(
        "integrations", "add", "dropbox", "--refresh-token-file", str(token_file)
    )
    assert added["account_label"] == emu.email

    refused = tmp_path / "refused.json"
    refused.write_text(
        json.dumps({"refresh_token": "rt.never-issued-x", "client_id": emu.app_key})
    )
    code, _, err = cli(
        "integrations", "add", "dropbox", "--refresh-token-file", str(refused)
    )
    assert code != 0 and err.count("\n") == 1 and "refused" in err
    assert "rt.never-issued-x" not in err
    assert [i["id"] for i in cli.json("integrations", "list")] == [1]
    cli("integrations", "remove", "1")


def test_random_faults_on_a_tenth_of_requests_give_exactly_the_right_artifacts(
    cli: Cli, emu: DropboxEmulator
) -> None:
    # Files whose names do not tell their format are read, so the run makes
    # a request per file as well as the listing's.
    expected = {
        emu.add_file(
            f"/Work/Part {n % 5}/file {n}.{('dat', 'bin', 'md')[n % 3]}",
            b"content %d" % n,
        ): n
        for n in range(60)
    }
    cli.json("integrations", "add", "dropbox")
    emu.fail_randomly(0.10, seed=11)

    full = cli.json("sync", "1", "--type", "full")
    moved = list(expected)[:10]
    for n, source_id in enumerate(moved):
        path = next(r for r in [emu.state.lookup(source_id)] if r).path_display
        emu.move(path, f"/Work/Moved/{n}.md")
    gone = list(expected)[10:20]
    for source_id in gone:
        node = emu.state.lookup(source_id)
        assert node is not None
        emu.delete(node.path_display)
    fresh = {emu.add_file(f"/Work/New/new {n}.txt", b"new %d" % n) for n in range(10)}
    incremental = cli.json("sync", "1")

    assert full["status"] == "succeeded" and incremental["status"] == "succeeded"
    assert sum(emu.faults_served().values()) >= 5
    assert len(emu.faults_served()) >= 3
    artifacts = cli.artifacts()
    assert set(artifacts) == set(expected) | fresh
    assert {i for i, a in artifacts.items() if not a.source_available} == set(gone)
    assert all(artifacts[i].source_path.startswith("/Work/Moved/") for i in moved)
    emu.heal()
    cli("integrations", "remove", "1")


def test_a_cursor_reset_relists_with_no_duplicate_and_no_lost_decision(
    cli: Cli, emu: DropboxEmulator
) -> None:
    files = sample(emu)
    cli.json("integrations", "add", "dropbox")
    cli.json("sync", "1")
    thesis = cli.artifacts()[files["thesis"]]
    cli.json("artifacts", "reject", thesis.id, "--reason", "old version")
    emu.delete("/Photos/cat.jpg")
    added = emu.add_file("/Papers/new.md", b"# new")
    emu.reset_cursors()

    run = cli.json("sync", "1")

    assert run["kind"] == "full" and run["status"] == "succeeded"
    artifacts = cli.artifacts()
    assert set(artifacts) == set(files.values()) | {added}
    assert artifacts[files["thesis"]].status == "rejected"
    assert artifacts[files["photo"]].source_available is False
    emu.add_file("/Papers/later.md", b"later")
    assert cli.json("sync", "1")["kind"] == "incremental"
    cli("integrations", "remove", "1")


def test_a_whole_session_leaves_no_token_in_files_logs_or_output(
    emu: DropboxEmulator, tmp_path: Path, keyring_session: None
) -> None:
    files = sample(emu)
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIDST_")}
    env.update(emu.environment())
    env.update(
        {
            "MIDST_DATA_DIR": str(data_dir),
            "MIDST_CLOUD_RETRY_BASE_MS": "1",
            "MIDST_LOG_LEVEL": "DEBUG",
            "BROWSER": "true",
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    outputs: list[str] = []

    def step(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "midst_desktop.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outputs.extend([result.stdout, result.stderr])
        assert result.returncode == 0, result.stderr
        return result.stdout

    # The person reads the address, allows access and pastes the code.
    adding = subprocess.Popen(
        [sys.executable, "-m", "midst_desktop.cli", "integrations", "add", "dropbox"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert adding.stderr is not None and adding.stdin is not None
    shown = ""
    while "oauth2/authorize?" not in shown:
        line = adding.stderr.readline()
        assert line, "the command ended before showing the sign-in address"
        shown += line
    url = re.search(r"http\S+oauth2/authorize\?\S+", shown)
    assert url is not None
    adding.stdin.write(read_auth_code(consent(url.group(0)).text) + "\n")
    adding.stdin.flush()
    out, err = adding.communicate(timeout=60)
    outputs.extend([shown, out, err])
    assert adding.returncode == 0, err

    step("-v", "sync", "1", "--type", "full")
    emu.move("/Papers/thesis.pdf", "/Papers/renamed.pdf")
    emu.expire_access_tokens()
    emu.fail_next(emulator.EXPIRED_TOKEN)
    step("-v", "sync", "1")
    listed = step("artifacts", "list", "--json")
    assert len(emu.secrets_issued()) >= 5

    found = []
    for secret in emu.secrets_issued():
        for text in outputs:
            if secret in text:
                found.append(("output", secret[:6]))
        for path in data_dir.rglob("*"):
            if path.is_file() and secret.encode() in path.read_bytes():
                found.append((str(path.relative_to(data_dir)), secret[:6]))
    assert found == []
    assert (data_dir / "logs").is_dir()
    assert files["thesis"] in listed


def test_a_full_sync_killed_half_way_resumes_cleanly(
    cli: Cli, emu: DropboxEmulator, tmp_path: Path
) -> None:
    expected = {
        emu.add_file(f"/Work/Part {n % 4}/file {n}.dat", b"data %d" % n)
        for n in range(80)
    }
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {"refresh_token": emu.issue_refresh_token(), "client_id": emu.app_key}
        )
    )
    cli.json("integrations", "add", "dropbox", "--refresh-token-file", str(token_file))
    emu.set_latency(0.02)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIDST_")}
    env.update(emu.environment())
    env.update(
        {
            "MIDST_DATA_DIR": str(cli.data_dir),
            "MIDST_DATABASE_URL": cli.database_url,
            "MIDST_BATCH_SIZE": "10",
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "midst_desktop.cli", "sync", "1", "--type", "full"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = open_database(cli.database_url)
    try:
        for _ in range(1200):
            with database.read() as session:
                stored = len(session.scalars(select(SourceFile.id)).all())
            if stored >= 20 or process.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        database.dispose()
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert 20 <= stored < len(expected), "the kill must land mid-run"
    emu.set_latency(0)

    run = cli.json("sync", "1")

    assert run["status"] == "succeeded" and run["kind"] == "full"
    artifacts = cli.artifacts()
    assert set(artifacts) == expected
    assert all(a.source_available for a in artifacts.values())
    cli("integrations", "remove", "1")
