"""Google Drive end to end through the command line, against the Drive emulator.

The commands run in this process (main()), the browser step is an HTTP client,
tokens go to the real Secret Service of the test session.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
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
from tests.emulators import gdrive as emu
from tests.emulators.gdrive import DriveEmulator, drive_tree
from tests.support.gdrive import (
    consent_in_browser,
    drive,
    image_bytes,
    sample_drive,
)

__all__ = ["drive"]

ROOT = Path(__file__).resolve().parents[2]


class Cli:
    """Runs midst-desktop commands against one data dir and store."""

    def __init__(
        self, capsys: pytest.CaptureFixture[str], data_dir: Path, database_url: str
    ) -> None:
        self.capsys = capsys
        self.data_dir = data_dir
        self.database_url = database_url
        self.output: list[str] = []

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
        self.output += [captured.out, captured.err]
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
        file_ids = [(f.integration_id, f.source_id) for f in files]
        assert len(file_ids) == len(set(file_ids)), "a source file is duplicated"
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
def keyring_session() -> None:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    drive: DriveEmulator,
    monkeypatch: pytest.MonkeyPatch,
    keyring_session: None,
) -> Cli:
    for key, value in drive.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIDST_CLOUD_RETRY_BASE_MS", "1")
    monkeypatch.setattr(oauth, "default_opener", consent_in_browser)
    return Cli(capsys, tmp_path / "data", f"sqlite:///{tmp_path / 'midst.db'}")


@pytest.fixture
def cli_any_store(cli: Cli, database_url: str) -> Cli:
    cli.database_url = database_url
    return cli


def test_connect_sync_change_reconnect_and_remove(
    cli_any_store: Cli, drive: DriveEmulator, tmp_path: Path
) -> None:
    cli = cli_any_store
    account = drive.account
    sample = sample_drive(account)

    added = cli.json("integrations", "add", "google-drive")
    assert added["provider"] == "google_drive"
    assert added["account_label"] == "person@example.com"
    assert added["status"] == "active"
    stored = TokenStore().load(added["id"])
    assert stored.refresh_token in account.refresh_tokens

    run = cli.json("sync", "1", "--type", "full")
    assert run["status"] == "succeeded"
    artifacts = cli.artifacts()
    assert {i: a.source_path for i, a in artifacts.items()} == sample.expected()
    novel = artifacts[sample.novel]
    assert (novel.content_hash, novel.size_bytes) == (None, 0)
    assert novel.mime_type == emu.DOCUMENT
    # A Google Doc's text comes from its export and is searchable.
    found = cli.json("artifacts", "list", "--search", "chapter")
    assert [a["source_id"] for a in found] == [sample.novel]
    assert artifacts[sample.talk].artifact_type == "presentation"
    assert artifacts[sample.budget].artifact_type == "dataset"
    assert artifacts[sample.thesis].content_hash is not None

    approved = cli.json("artifacts", "approve", artifacts[sample.thesis].id)
    assert approved["status"] == "approved"
    account.rename(sample.thesis, "thesis final.pdf")
    account.move(sample.photo, sample.papers)
    account.trash(sample.notes)
    account.delete(sample.budget)
    added_file = account.add_file("essay.md", sample.drafts, b"An essay", "text/x")

    run = cli.json("sync", "1")
    assert run["kind"] == "incremental" and run["status"] == "succeeded"
    artifacts = cli.artifacts()
    assert artifacts[sample.thesis].source_path == "/Papers/thesis final.pdf"
    assert artifacts[sample.thesis].status == "approved"
    assert artifacts[sample.photo].source_path == "/Papers/photo.jpg"
    assert artifacts[sample.notes].source_available is False
    assert artifacts[sample.budget].source_available is False
    assert artifacts[added_file].source_path == "/Papers/Drafts/essay.md"

    drive.reset_counts()
    quiet = cli.json("sync", "1")
    assert quiet["counts"]["listed"] == 0
    # One request in all: the access token of the earlier runs is kept in
    # memory for the process, so no refresh precedes changes.list.
    assert dict(drive.requests) == {"/drive/v3/changes": 1}

    # Access revoked at Google: the integration asks to be reconnected, and a
    # local folder next to it keeps syncing.
    folder = tmp_path / "Local"
    folder.mkdir()
    (folder / "poem.md").write_text("a poem")
    code, _, _ = cli("integrations", "add", "local", str(folder))
    assert code == 0
    cursor = cli.integration(1).cursor
    account.revoke_all()
    code, _, err = cli("sync")
    assert code == 1
    assert "integration 1" in err and "reconnect" in err
    state = cli.integration(1)
    assert state.status == "needs_reauth"
    assert state.last_error and "\n" not in state.last_error
    assert state.cursor == cursor
    assert cli.integration(2).last_synced_at is not None
    code, _, err = cli("sync", "1")
    assert code == 2 and "reconnect" in err

    reconnected = cli.json("integrations", "reconnect", "1")
    assert reconnected["status"] == "active"
    assert cli.integration(1).cursor == cursor
    account.add_file("after.txt", None, b"after", "text/plain")
    run = cli.json("sync", "1")
    assert run["kind"] == "incremental" and run["counts"]["created"] == 1
    assert cli.artifacts()[sample.thesis].status == "approved"

    token = TokenStore().load(1).refresh_token
    tree = cli.data_dir / "cache" / "gdrive" / "1.json"
    assert tree.exists()
    code, out, _ = cli("integrations", "remove", "1")
    assert code == 0 and "kept" in out
    assert not tree.exists()
    assert token in account.revoked
    with pytest.raises(TokenMissingError):
        TokenStore().load(1)
    remaining = cli.artifacts()
    assert remaining[sample.thesis].status == "approved"
    assert remaining[sample.thesis].integration_id is None
    assert [i["id"] for i in cli.json("integrations", "list")] == [2]


def test_a_refresh_token_file_connects_without_a_browser(
    cli: Cli, drive: DriveEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_browser(url: str) -> None:
        raise AssertionError("the browser must not open")

    monkeypatch.setattr(oauth, "default_opener", no_browser)
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {
                "refresh_token": drive.account.issue_refresh_token(),
                "client_id": emu.DEFAULT_CLIENT_ID,
                "client_secret": emu.DEFAULT_CLIENT_SECRET,
            }
        )
    )

    added = cli.json(
        "integrations", "add", "google-drive", "--refresh-token-file", str(token_file)
    )
    assert added["account_label"] == "person@example.com"

    code, _, err = cli(
        "integrations", "add", "google-drive", "--refresh-token-file", str(token_file)
    )
    assert code == 2 and "connected already as integration 1" in err

    bad = tmp_path / "bad.json"
    bad.write_text('{"client_id": "x"}')
    code, _, err = cli(
        "integrations", "add", "google-drive", "--refresh-token-file", str(bad)
    )
    assert code == 2 and err.count("\n") == 1 and "refresh_token" in err

    refused = tmp_path / "refused.json"
    refused.write_text(
        json.dumps(
            {
                "refresh_token": "1//not-issued",
                "client_id": emu.DEFAULT_CLIENT_ID,
                "client_secret": emu.DEFAULT_CLIENT_SECRET,
            }
        )
    )
    code, _, err = cli(
        "integrations", "add", "google-drive", "--refresh-token-file", str(refused)
    )
    assert code == 1 and "invalid_grant" in err and "1//not-issued" not in err
    assert [i["id"] for i in cli.json("integrations", "list")] == [1]

    drive.account.email = "someone.else@example.com"
    code, _, err = cli(
        "integrations", "reconnect", "1", "--refresh-token-file", str(token_file)
    )
    assert code == 2 and "sign in with person@example.com" in err
    drive.account.email = "person@example.com"

    code, _, _ = cli("integrations", "remove", "1", "--delete-artifacts")
    assert code == 0


def test_random_faults_on_a_tenth_of_requests_give_exactly_the_right_artifacts(
    cli: Cli, drive: DriveEmulator
) -> None:
    account = drive.account
    expected = set(drive_tree(account, folders=8, files_per_folder=15))
    drive.max_page_size = 10
    cli.json("integrations", "add", "google-drive")
    drive.fault_rate = 0.1

    run = cli.json("sync", "1", "--type", "full")
    changed = sorted(expected)[:20]
    for file_id in changed[:10]:
        account.edit(file_id, b"edited")
    for file_id in changed[10:20]:
        account.trash(file_id)
    fresh = {
        account.add_file(f"new {n}.txt", None, b"n", "text/plain") for n in range(10)
    }
    incremental = cli.json("sync", "1")

    assert run["status"] == "succeeded" and incremental["status"] == "succeeded"
    assert sum(drive.faults_served.values()) >= 5
    assert len(set(drive.faults_served)) >= 3
    artifacts = cli.artifacts()
    assert set(artifacts) == expected | fresh
    gone = {i for i, a in artifacts.items() if not a.source_available}
    assert gone == set(changed[10:20])
    cli("integrations", "remove", "1")


def test_an_invalid_page_token_relists_with_no_duplicate_and_no_lost_decision(
    cli: Cli, drive: DriveEmulator
) -> None:
    account = drive.account
    sample = sample_drive(account)
    cli.json("integrations", "add", "google-drive")
    cli.json("sync", "1")
    thesis = cli.artifacts()[sample.thesis]
    cli.json("artifacts", "reject", thesis.id, "--reason", "old version")
    account.delete(sample.photo)
    added = account.add_file("new.pdf", None, image_bytes("PDF"), "application/pdf")
    account.invalidate_change_tokens()

    run = cli.json("sync", "1")

    assert run["kind"] == "full" and run["status"] == "succeeded"
    artifacts = cli.artifacts()
    assert set(artifacts) == set(sample.expected()) | {added}
    assert artifacts[sample.thesis].status == "rejected"
    assert artifacts[sample.photo].source_available is False
    assert cli.integration(1).cursor == str(len(account.journal) + 1)
    cli("integrations", "remove", "1")


def subprocess_env(
    drive: DriveEmulator, data_dir: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIDST_")}
    env.update(drive.environment())
    env.update(
        {
            "MIDST_DATA_DIR": str(data_dir),
            "MIDST_CLOUD_RETRY_BASE_MS": "1",
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    env.update(extra)
    return env


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "midst_desktop.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_cloud_full_sync_killed_half_way_resumes_cleanly(
    cli: Cli, drive: DriveEmulator, tmp_path: Path
) -> None:
    expected = set(drive_tree(drive.account, folders=8, files_per_folder=10))
    drive.max_page_size = 10
    drive.latency = 0.02
    cli.json("integrations", "add", "google-drive")
    env = subprocess_env(
        drive,
        cli.data_dir,
        MIDST_DATABASE_URL=cli.database_url,
        MIDST_BATCH_SIZE="10",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "midst_desktop.cli", "sync", "1", "--type", "full"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    database = open_database(cli.database_url)
    try:
        for _ in range(600):
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
    drive.latency = 0

    run = cli.json("sync", "1")

    assert run["status"] == "succeeded" and run["kind"] == "full"
    assert set(cli.artifacts()) == expected
    runs = cli.json("health")["last_run"]
    assert runs["status"] == "succeeded"
    cli("integrations", "remove", "1")


def test_a_whole_session_leaves_no_token_in_files_logs_or_output(
    drive: DriveEmulator, tmp_path: Path, keyring_session: None
) -> None:
    sample = sample_drive(drive.account)
    browser = tmp_path / "browser"
    browser.write_text(
        f"#!{sys.executable}\n"
        "import sys, httpx\n"
        "answer = httpx.get(sys.argv[1], follow_redirects=True, timeout=30)\n"
        "sys.exit(0 if answer.status_code == 200 else 1)\n"
    )
    browser.chmod(0o700)
    data_dir = tmp_path / "data"
    env = subprocess_env(drive, data_dir, BROWSER=str(browser), MIDST_LOG_LEVEL="DEBUG")
    outputs: list[str] = []

    def step(*args: str) -> str:
        result = run_cli(env, *args)
        outputs.extend([result.stdout, result.stderr])
        assert result.returncode == 0, result.stderr
        return result.stdout

    step("integrations", "add", "google-drive")
    step("-v", "sync", "1", "--type", "full")
    drive.account.rename(sample.thesis, "renamed.pdf")
    drive.account.expire_access_tokens()
    drive.fail_next(emu.EXPIRED)
    step("-v", "sync", "1")
    step("integrations", "list", "--json")
    step("-v", "integrations", "remove", "1")

    secrets = drive.account.secrets_issued()
    assert len(drive.account.issued_access) >= 3 and drive.account.verifiers
    basic = base64.b64encode(
        f"{emu.DEFAULT_CLIENT_ID}:{emu.DEFAULT_CLIENT_SECRET}".encode()
    ).decode()
    secrets.add(basic)
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "midst.db" for p in files)
    logs = [p.read_text() for p in files if p.suffix == ".log"]
    assert any("Full import completed" in text for text in logs)
    haystacks = [p.read_bytes() for p in files] + [o.encode() for o in outputs]
    for secret in secrets:
        for haystack in haystacks:
            assert secret.encode() not in haystack


def test_without_a_keyring_connecting_fails_clearly_and_stores_nothing(
    drive: DriveEmulator, tmp_path: Path
) -> None:
    token_file = tmp_path / "token.json"
    refresh = drive.account.issue_refresh_token()
    token_file.write_text(
        json.dumps(
            {
                "refresh_token": refresh,
                "client_id": emu.DEFAULT_CLIENT_ID,
                "client_secret": emu.DEFAULT_CLIENT_SECRET,
            }
        )
    )
    data_dir = tmp_path / "data"
    env = subprocess_env(drive, data_dir, HOME=str(tmp_path))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)

    added = run_cli(
        env,
        "integrations",
        "add",
        "google-drive",
        "--refresh-token-file",
        str(token_file),
    )
    listed = run_cli(env, "integrations", "list", "--json")

    assert added.returncode == 1
    assert "unlock your keyring" in added.stderr
    assert added.stderr.count("\n") == 1
    assert json.loads(listed.stdout) == []
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert refresh.encode() in token_file.read_bytes()
    assert written.count(refresh.encode()) == 1  # the token file itself, only


def test_a_client_secret_in_config_toml_is_refused_in_one_line(cli: Cli) -> None:
    config = cli.data_dir / "config" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('google_client_secret = "GOCSPX-in-a-file"\n')

    code, out, err = cli("integrations", "add", "google-drive")

    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "MIDST_GOOGLE_CLIENT_SECRET" in err
    assert "GOCSPX-in-a-file" not in err
    assert not Path(cli.database_url.removeprefix("sqlite:///")).exists()


def test_a_keyring_locked_during_a_sync_fails_the_run_in_one_line_and_stays_active(
    drive: DriveEmulator, tmp_path: Path, keyring_session: None
) -> None:
    sample = sample_drive(drive.account)
    token_file = tmp_path / "token.json"
    token_file.write_text(
        json.dumps(
            {
                "refresh_token": drive.account.issue_refresh_token(),
                "client_id": emu.DEFAULT_CLIENT_ID,
                "client_secret": emu.DEFAULT_CLIENT_SECRET,
            }
        )
    )
    data_dir = tmp_path / "data"
    env = subprocess_env(drive, data_dir)
    # A keyring session of its own: locking it must not touch the other tests'.
    script = f"""
import json, secretstorage
from midst_desktop.cli import main
from midst_desktop.service.health import keyring_state
assert main(["integrations", "add", "google-drive",
             "--refresh-token-file", {str(token_file)!r}]) == 0
assert main(["sync", "1", "--type", "full"]) == 0
print("STATE-BEFORE", keyring_state(), flush=True)
bus = secretstorage.dbus_init()
secretstorage.get_default_collection(bus).lock()
print("STATE-LOCKED", keyring_state(), flush=True)
print("EXIT", main(["sync", "1"]), flush=True)
"""
    result = subprocess.run(
        [str(ROOT / "scripts" / "with-keyring.sh"), sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert "EXIT 1" in result.stdout, result.stderr
    assert "STATE-BEFORE ok" in result.stdout
    assert "STATE-LOCKED the keyring is locked; unlock your keyring" in result.stdout
    failure = [line for line in result.stderr.splitlines() if "midst-desktop:" in line]
    assert len(failure) == 1 and "unlock your keyring" in failure[0]
    database = open_database(f"sqlite:///{data_dir / 'midst.db'}")
    try:
        with database.read() as session:
            integration = session.get(Integration, 1)
            assert integration is not None
            assert integration.status == "active"
            assert integration.last_error and "unlock your keyring" in (
                integration.last_error
            )
            assert "\n" not in integration.last_error
            kept = set(session.scalars(select(Artifact.source_id)))
    finally:
        database.dispose()
    assert kept == set(sample.expected())


def test_a_folder_sync_relists_only_that_subtree(
    cli: Cli, drive: DriveEmulator
) -> None:
    account = drive.account
    sample = sample_drive(account)
    chapters = account.add_folder("Chapters", sample.drafts)
    first = account.add_file("one.md", chapters, b"# One", "text/markdown")
    elsewhere = [account.add_folder(f"Other {n}") for n in range(3)]
    others = [account.add_file("x.txt", f, b"x", "text/plain") for f in elsewhere]
    cli.json("integrations", "add", "google-drive")
    cli.json("sync", "1", "--type", "full")
    before = {f.source_id: (f.seen_run, f.version) for f in _source_files(cli)}

    account.delete(sample.notes)
    added = account.add_file("two.md", chapters, b"# Two", "text/markdown")
    account.delete(sample.photo)
    account.edit(sample.thesis, b"a new thesis")
    account.edit(others[0], b"y")
    drive.reset_counts()
    run = cli.json("sync", "1", "--type", "folder", "--folder", "/Papers/Drafts")

    assert run["kind"] == "folder" and run["status"] == "succeeded"
    file_queries = [q for q in drive.list_queries if "in parents" in q]
    assert file_queries and all(
        sample.drafts in q or chapters in q for q in file_queries
    )
    named = {f for q in file_queries for f in (sample.drafts, chapters) if f in q}
    assert named == {sample.drafts, chapters}
    assert not any(p in q for q in file_queries for p in [sample.papers, *elsewhere])
    assert all("in parents" in q or "mimeType = " in q for q in drive.list_queries)
    artifacts = cli.artifacts()
    assert artifacts[added].source_path == "/Papers/Drafts/Chapters/two.md"
    assert artifacts[first].source_available is True
    assert artifacts[sample.notes].source_available is False
    # Outside the subtree nothing was looked at: not the deletion, not an edit.
    assert artifacts[sample.photo].source_available is True
    after = {f.source_id: (f.seen_run, f.version) for f in _source_files(cli)}
    for untouched in (sample.photo, sample.thesis, *others, sample.budget):
        assert after[untouched] == before[untouched]
    assert after[first][0] != before[first][0]
    cli("integrations", "remove", "1")


def _source_files(cli: Cli) -> list[SourceFile]:
    database = open_database(cli.database_url)
    try:
        with database.read() as session:
            rows = list(session.scalars(select(SourceFile)))
            session.expunge_all()
            return rows
    finally:
        database.dispose()


def test_removing_with_delete_artifacts_leaves_none_of_that_integration(
    cli: Cli, drive: DriveEmulator, tmp_path: Path
) -> None:
    sample = sample_drive(drive.account)
    folder = tmp_path / "Local"
    folder.mkdir()
    (folder / "poem.md").write_text("a poem")
    cli.json("integrations", "add", "google-drive")
    assert cli("integrations", "add", "local", str(folder))[0] == 0
    cli.json("sync")
    drive_artifacts = {a.id for a in cli.artifacts().values() if a.integration_id == 1}
    assert len(drive_artifacts) == len(sample.expected())
    cli.json("artifacts", "approve", cli.artifacts()[sample.thesis].id)
    token = TokenStore().load(1).refresh_token

    removed = cli.json("integrations", "remove", "1", "--delete-artifacts")

    assert removed == {
        "id": 1,
        "removed": True,
        "artifacts_deleted": len(drive_artifacts),
        "revoked": True,
    }
    remaining = cli.artifacts()
    assert not drive_artifacts & {a.id for a in remaining.values()}
    assert [a.integration_id for a in remaining.values()] == [2]
    assert {f.integration_id for f in _source_files(cli)} == {2}
    assert token in drive.account.revoked
    with pytest.raises(TokenMissingError):
        TokenStore().load(1)
    assert not (cli.data_dir / "cache" / "gdrive" / "1.json").exists()
