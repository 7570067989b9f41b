"""The command line of DESIGN.md section 5, run as a person runs it, on SQLite."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from midst_desktop.store.db import open_database
from midst_desktop.store.models import Artifact, ArtifactStatus, ArtifactType
from tests.support import samples
from tests.support.cli import Cli, child_environment
from tests.support.store import write

ARTIFACT_KEYS = {
    "id",
    "integration_id",
    "source_provider",
    "source_id",
    "source_path",
    "name",
    "title",
    "mime_type",
    "size_bytes",
    "artifact_type",
    "confidence",
    "status",
    "source_available",
    "captured_date",
}
INTEGRATION_KEYS = {
    "id",
    "provider",
    "display_name",
    "account_label",
    "status",
    "last_synced_at",
}
RUN_COUNTS = {
    "listed",
    "created",
    "updated",
    "unchanged",
    "skipped",
    "failed",
    "removed",
}
TYPES = {t.value for t in ArtifactType}
STATUSES = {s.value for s in ArtifactStatus}
EXCLUDE = "*/node_modules/*"
DEADLINE_SECONDS = 60

# The files of the folder every test starts from, by source id.
DOCUMENTS: dict[str, str | bytes] = {
    "papers/quantum paper.pdf": samples.pdf(
        [["Abstract", "We entangle two photons.", "References", "[1] Bell 1964"]]
    ),
    "poems/winter.md": "# Winter\n\nsnow on the hills\n",
    "poems/summer.md": "# Summer\n\nlong light\n",
    "talks/keynote.pptx": samples.pptx([["Keynote"], ["Thank you"]]),
    "data/results.csv": "a,b\n1,2\n",
    "code/main.py": "def main() -> int:\n    return 1\n",
    "Smart Contracts.txt": "terms and conditions",
}


def make_documents(parent: Path) -> Path:
    root = parent / "Documents"
    for source_id, content in DOCUMENTS.items():
        path = root / source_id
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    write(root / "proj" / "node_modules" / "lib" / "index.js", "module.exports = 1")
    big = root / "video" / "huge.mp4"
    big.parent.mkdir()
    with big.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    return root


def assert_artifact(row: dict[str, Any]) -> None:
    assert set(row) >= ARTIFACT_KEYS, ARTIFACT_KEYS - set(row)
    assert row["artifact_type"] in TYPES
    assert 0 < row["confidence"] <= 1
    assert row["status"] in STATUSES
    assert row["source_provider"] == "local"
    assert isinstance(row["source_available"], bool)
    datetime.fromisoformat(row["captured_date"])


def assert_run(run: dict[str, Any], integration_id: int) -> None:
    assert run["integration_id"] == integration_id
    assert run["status"] == "succeeded"
    assert set(run["counts"]) == RUN_COUNTS
    assert all(isinstance(n, int) for n in run["counts"].values())


def by_source(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["source_id"]: row for row in rows}


@dataclass
class Library:
    """A synced data dir of its own over the shared, untouched Documents folder."""

    cli: Cli
    root: Path
    artifacts: dict[str, dict[str, Any]]

    def id(self, source_id: str) -> str:
        return str(self.artifacts[source_id]["id"])


@pytest.fixture(scope="module")
def synced_template(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, dict[str, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("library")
    root = make_documents(base)
    cli = Cli(base / "data")
    cli.call(
        "integrations", "add", "local", str(root), "--exclude", EXCLUDE,
        "--max-file-size-mb", "1",
    )  # fmt: skip
    cli.call("sync")
    artifacts = by_source(cli.call_json("artifacts", "list", "--limit", "100"))
    assert set(artifacts) == set(DOCUMENTS)
    return root, base / "data", artifacts


@pytest.fixture
def library(
    synced_template: tuple[Path, Path, dict[str, dict[str, Any]]], tmp_path: Path
) -> Library:
    root, data, artifacts = synced_template
    shutil.copytree(data, tmp_path / "data")
    return Library(Cli(tmp_path / "data"), root, artifacts)


# -- integrations, pause, sync -------------------------------------------


def test_integrations_add_list_reconnect_and_remove(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    documents = make_documents(tmp_path / "one")
    notes = tmp_path / "two" / "Notes"
    write(notes / "diary.md", "dear diary")

    added = cli.json(
        "integrations", "add", "local", str(documents), "--name", "My documents",
        "--exclude", EXCLUDE, "--exclude", "*.tmp", "--max-file-size-mb", "1",
    )  # fmt: skip
    second = cli.call_json("integrations", "add", "local", str(notes))

    assert set(added) >= INTEGRATION_KEYS
    assert added["provider"] == "local"
    assert added["display_name"] == "My documents"
    assert added["status"] == "active"
    assert added["last_synced_at"] is None
    assert added["folder_config"]["excluded_patterns"] == [EXCLUDE, "*.tmp"]
    assert added["folder_config"]["max_file_size_mb"] == 1
    assert second["display_name"] == "Notes"
    assert second["folder_config"]["max_file_size_mb"] == 100
    listed = cli.json("integrations", "list")
    assert [i["id"] for i in listed] == [added["id"], second["id"]]
    assert all(set(i) >= INTEGRATION_KEYS for i in listed)

    runs = cli.call_json("sync")
    assert sorted(r["integration_id"] for r in runs) == [added["id"], second["id"]]
    listed = cli.call_json("integrations", "list")
    assert all(i["last_synced_at"] is not None for i in listed)

    # A folder that went away: the sync fails, reconnect says why, then works.
    documents.rename(tmp_path / "elsewhere")
    failed = cli.call("sync", str(added["id"]), expect=1)
    assert str(documents) in failed.error_line
    gone = cli.call("integrations", "reconnect", str(added["id"]), expect=1)
    assert "still not there" in gone.error_line
    (tmp_path / "elsewhere").rename(documents)
    again = cli.json("integrations", "reconnect", str(added["id"]))
    assert again["status"] == "active"
    assert again["last_error"] is None

    kept = cli.call_json("integrations", "remove", str(second["id"]))
    assert kept["artifacts_deleted"] == 0
    deleted = cli.json("integrations", "remove", str(added["id"]), "--delete-artifacts")
    assert deleted["artifacts_deleted"] == len(DOCUMENTS)
    assert cli.call_json("integrations", "list") == []
    left = cli.call_json("artifacts", "list")
    assert [(a["name"], a["integration_id"]) for a in left] == [("diary.md", None)]


def test_pause_for_an_hour_until_tomorrow_and_resume(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")

    before = datetime.now(UTC)
    cli.run("pause", "--for", "1h")
    hour = cli.call_json("health")["paused_until"]
    cli.call("pause", "--for", "until-tomorrow")
    tomorrow = cli.call_json("health")["paused_until"]
    cli.call("pause")
    forever = cli.call_json("health")["paused_until"]
    cli.run("resume")
    resumed = cli.call_json("health")["paused_until"]

    ends = datetime.fromisoformat(hour) - before
    assert timedelta(minutes=59) < ends < timedelta(minutes=61)
    midnight = datetime.fromisoformat(tomorrow).astimezone()
    assert (midnight.hour, midnight.minute, midnight.second) == (0, 0, 0)
    assert timedelta(0) < midnight - before <= timedelta(days=1)
    assert forever == "indefinitely"
    assert resumed is None


def test_sync_by_id_prints_its_run_and_without_an_id_a_list(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    documents = make_documents(tmp_path)
    integration = cli.call_json(
        "integrations", "add", "local", str(documents), "--exclude", EXCLUDE,
        "--max-file-size-mb", "1",
    )  # fmt: skip
    integration_id = integration["id"]

    first = cli.json("sync", str(integration_id), "--type", "full")
    every = cli.json("sync")
    text = cli.call("sync", str(integration_id))

    assert_run(first, integration_id)
    assert first["kind"] == "full"
    assert first["counts"]["created"] == len(DOCUMENTS)
    # node_modules (one folder record) and the file over 1 MB are skipped.
    assert first["counts"]["skipped"] == 2
    assert isinstance(every, list)
    assert len(every) == 1
    assert_run(every[0], integration_id)
    assert every[0]["kind"] == "incremental"
    assert every[0]["counts"]["created"] == 0
    assert every[0]["counts"]["unchanged"] == len(DOCUMENTS)
    assert f"Integration {integration_id}" in text.stdout
    assert "0 created" in text.stdout


# -- artifacts ------------------------------------------------------------


def test_artifacts_list_filters_and_pages(library: Library) -> None:
    cli = library.cli
    everything = cli.json("artifacts", "list", "--limit", "100")
    for row in everything:
        assert_artifact(row)
    cli.call("artifacts", "approve", library.id("poems/winter.md"))
    cli.call("artifacts", "edit", library.id("code/main.py"), "--type", "other")

    pending = cli.call_json("artifacts", "list", "--status", "pending")
    approved = cli.call_json("artifacts", "list", "--status", "approved")
    # The commonest type, so that filtering by it leaves more than one artifact.
    some_type = Counter(a["artifact_type"] for a in everything).most_common(1)[0][0]
    of_type = cli.call_json("artifacts", "list", "--type", some_type)
    found = cli.call_json("artifacts", "list", "--search", "quantum")
    below = cli.call_json("artifacts", "list", "--below", "1")
    combined = cli.call_json(
        "artifacts", "list", "--status", "pending", "--type", some_type,
        "--below", "0.99", "--limit", "2",
    )  # fmt: skip

    assert len(pending) == len(DOCUMENTS) - 1
    assert {a["status"] for a in pending} == {"pending"}
    assert [a["source_id"] for a in approved] == ["poems/winter.md"]
    expected = {
        a["source_id"] for a in everything if a["artifact_type"] == some_type
    } - {"code/main.py"}
    assert {a["source_id"] for a in of_type} == expected
    assert [a["source_id"] for a in found] == ["papers/quantum paper.pdf"]
    # A type the person set has confidence 1: --below 1 leaves it out.
    assert {a["source_id"] for a in below} == set(DOCUMENTS) - {"code/main.py"}
    newest_first = cli.call_json("artifacts", "list")
    wanted = [
        a["id"]
        for a in newest_first
        if a["status"] == "pending"
        and a["artifact_type"] == some_type
        and a["confidence"] < 0.99
    ]
    assert wanted
    assert [a["id"] for a in combined] == wanted[:2]

    # Keyset paging: pages of 3 joined are the whole list, in order, once each.
    pages: list[list[dict[str, Any]]] = [
        cli.call_json("artifacts", "list", "--limit", "3")
    ]
    while len(pages[-1]) == 3:
        last = pages[-1][-1]["id"]
        pages.append(
            cli.call_json("artifacts", "list", "--limit", "3", "--after", last)
        )
    paged = [a["id"] for page in pages for a in page]
    whole = [a["id"] for a in cli.call_json("artifacts", "list")]
    assert paged == whole
    assert len(set(paged)) == len(DOCUMENTS)
    # The same page again, from a real process.
    assert cli.json("artifacts", "list", "--limit", "3", "--after", last) == pages[-1]


def test_show_approve_reject_archive_restore_and_edit(library: Library) -> None:
    cli = library.cli
    paper, poem, talk = (
        library.id("papers/quantum paper.pdf"),
        library.id("poems/winter.md"),
        library.id("talks/keynote.pptx"),
    )

    shown = cli.json("artifacts", "show", paper[:8])
    approved = cli.json("artifacts", "approve", paper, poem)
    rejected = cli.json("artifacts", "reject", talk, "--reason", "an old talk")
    archived = cli.json("artifacts", "archive", poem)
    restored = cli.json("artifacts", "restore", poem)
    edited = cli.json(
        "artifacts", "edit", paper, "--title", "On Entanglement", "--type",
        "academic_paper", "--tags", "physics, quantum,,physics", "--description",
        "My first paper",
    )  # fmt: skip
    after = cli.call_json("artifacts", "show", paper)

    assert_artifact(shown)
    assert shown == library.artifacts["papers/quantum paper.pdf"]
    assert [a["id"] for a in approved] == [paper, poem]
    assert {a["status"] for a in approved} == {"approved"}
    assert rejected["status"] == "rejected"
    assert rejected["review_reason"] == "an old talk"
    assert archived["status"] == "archived"
    assert restored["status"] == "pending"
    assert edited["title"] == "On Entanglement"
    assert edited["artifact_type"] == "academic_paper"
    assert edited["classified_by"] == "user"
    assert edited["confidence"] == 1.0
    assert edited["tags"] == ["physics", "quantum"]
    assert edited["description"] == "My first paper"
    assert edited["status"] == "approved"
    assert after == edited
    found = cli.call_json("artifacts", "list", "--search", "entanglement")
    assert [a["id"] for a in found] == [paper]


def test_bulk_archive_takes_only_rejected_artifacts_older_than_the_cutoff(
    library: Library,
) -> None:
    cli = library.cli
    old = [library.id("poems/winter.md"), library.id("poems/summer.md")]
    recent = library.id("talks/keynote.pptx")
    old_approved = library.id("data/results.csv")
    cli.call("artifacts", "reject", *old, recent, "--reason", "drafts")
    cli.call("artifacts", "approve", old_approved)
    database = open_database(f"sqlite:///{cli.data_dir / 'midst.db'}")
    try:
        with database.write() as session:
            session.execute(
                update(Artifact)
                .where(Artifact.id.in_([*old, old_approved]))
                .values(reviewed_at=datetime.now(UTC) - timedelta(days=40))
            )
    finally:
        database.dispose()

    result = cli.json(
        "artifacts", "bulk-archive", "--status", "rejected", "--older-than-days", "30"
    )
    again = cli.call_json(
        "artifacts", "bulk-archive", "--status", "rejected", "--older-than-days", "30"
    )

    assert result == {"archived": 2, "status": "rejected"}
    assert again["archived"] == 0
    statuses = {a["id"]: a["status"] for a in cli.call_json("artifacts", "list")}
    assert [statuses[i] for i in old] == ["archived", "archived"]
    assert statuses[recent] == "rejected"
    assert statuses[old_approved] == "approved"


def test_reclassify_below_a_confidence_spares_the_rest_and_the_persons_types(
    library: Library,
) -> None:
    cli = library.cli
    csv, talk, code = (
        library.artifacts["data/results.csv"],
        library.artifacts["talks/keynote.pptx"],
        library.artifacts["code/main.py"],
    )
    cli.call("artifacts", "edit", code["id"], "--type", "video")
    database = open_database(f"sqlite:///{cli.data_dir / 'midst.db'}")
    try:
        with database.write() as session:
            # A poor guess to correct, and a confident wrong one to leave alone.
            session.execute(
                update(Artifact)
                .where(Artifact.id == csv["id"])
                .values(artifact_type="audio", confidence=0.05)
            )
            session.execute(
                update(Artifact)
                .where(Artifact.id == talk["id"])
                .values(artifact_type="audio", confidence=0.99)
            )
    finally:
        database.dispose()

    run = cli.json("artifacts", "reclassify", "--below", "0.5")

    after = by_source(cli.call_json("artifacts", "list"))
    assert run["kind"] == "reclassify"
    assert run["status"] == "succeeded"
    assert run["counts"]["updated"] >= 1
    assert after["data/results.csv"]["artifact_type"] == csv["artifact_type"]
    assert after["data/results.csv"]["confidence"] > 0.05
    assert after["talks/keynote.pptx"]["artifact_type"] == "audio"
    assert after["code/main.py"]["artifact_type"] == "video"
    assert after["code/main.py"]["classified_by"] == "user"


def test_reclassify_of_one_type_touches_that_type_only(library: Library) -> None:
    cli = library.cli
    csv, talk, code = (
        library.artifacts["data/results.csv"],
        library.artifacts["talks/keynote.pptx"],
        library.artifacts["code/main.py"],
    )
    cli.call("artifacts", "edit", code["id"], "--type", "audio")
    database = open_database(f"sqlite:///{cli.data_dir / 'midst.db'}")
    try:
        with database.write() as session:
            # Two wrong guesses: one of the type asked for, one of another.
            for artifact_id, wrong in ((csv["id"], "audio"), (talk["id"], "video")):
                session.execute(
                    update(Artifact)
                    .where(Artifact.id == artifact_id)
                    .values(artifact_type=wrong, confidence=0.05)
                )
    finally:
        database.dispose()

    run = cli.json("artifacts", "reclassify", "--type", "audio")

    after = by_source(cli.call_json("artifacts", "list"))
    assert run["status"] == "succeeded"
    # Only the csv: the person's audio is not theirs to redo, the video not asked.
    assert run["counts"]["listed"] == 1
    assert run["counts"]["updated"] == 1
    assert after["data/results.csv"]["artifact_type"] == csv["artifact_type"]
    assert after["talks/keynote.pptx"]["artifact_type"] == "video"
    assert after["talks/keynote.pptx"]["confidence"] == 0.05
    assert after["code/main.py"]["artifact_type"] == "audio"
    assert after["code/main.py"]["classified_by"] == "user"


def test_export_approved_artifacts_as_json_and_bibtex(
    library: Library, tmp_path: Path
) -> None:
    cli = library.cli
    paper, poem = library.id("papers/quantum paper.pdf"), library.id("poems/winter.md")
    cli.call("artifacts", "approve", paper, poem)
    cli.call("artifacts", "edit", paper, "--title", "Entanglement & Time")
    target = tmp_path / "approved.json"

    cli.run("artifacts", "export", "--format", "json", "-o", str(target))
    bibtex = cli.call("artifacts", "export", "--format", "bibtex").stdout
    rejected = cli.call("artifacts", "export", "--status", "rejected").stdout

    exported = json.loads(target.read_text(encoding="utf-8"))
    assert sorted(a["id"] for a in exported) == sorted([paper, poem])
    for row in exported:
        assert_artifact(row)
    assert bibtex.count("\n@") + bibtex.startswith("@") == 2
    assert r"title = {Entanglement \& Time}" in bibtex
    assert "title = {winter}" in bibtex.lower()
    assert json.loads(rejected) == []


def test_classify_prints_a_type_and_confidence_per_file_and_stores_nothing(
    library: Library,
) -> None:
    names = ["papers/quantum paper.pdf", "data/results.csv", "poems/winter.md"]
    files = [str(library.root / name) for name in names]

    results = library.cli.json("classify", *files)
    problem = library.cli.call(
        "classify", files[0], str(library.root / "nope.txt"), expect=2
    )

    assert [r["path"] for r in results] == files
    for result, name in zip(results, names, strict=True):
        assert set(result) == {"path", "artifact_type", "confidence"}
        # Classifying a file says what a sync of it decided.
        assert result["artifact_type"] == library.artifacts[name]["artifact_type"]
        assert 0 < result["confidence"] <= 1
    assert "nope.txt" in problem.error_line
    assert problem.stdout.count("\n") == 1
    listed = library.cli.call_json("artifacts", "list", "--limit", "100")
    assert len(listed) == len(DOCUMENTS)


def test_classify_json_lists_only_the_files_classified_and_says_the_rest_on_stderr(
    library: Library,
) -> None:
    good = str(library.root / "poems/winter.md")
    missing = str(library.root / "nope.txt")
    folder = str(library.root / "poems")

    outcome = library.cli.call("classify", good, missing, folder, "--json", expect=2)

    listed = outcome.json()
    assert [set(r) for r in listed] == [{"path", "artifact_type", "confidence"}]
    assert listed[0]["path"] == good
    errors = outcome.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f"midst-desktop: {missing}: ")
    assert "No such file" in errors[0]
    assert errors[1] == f"midst-desktop: {folder}: not a regular file"


def test_restore_brings_back_the_decisions_of_the_backup(
    library: Library, tmp_path: Path
) -> None:
    cli = library.cli
    before, after = library.id("poems/winter.md"), library.id("poems/summer.md")
    cli.call("artifacts", "approve", before)
    backups = tmp_path / "backups"
    backups.mkdir()

    named = cli.run("backup", str(backups / "store.db"))
    into_folder = cli.call("backup", str(backups))
    cli.call("artifacts", "reject", after, "--reason", "made later")
    restored = cli.run("restore", str(backups / "store.db"))

    assert (backups / "store.db").is_file()
    assert str(backups / "store.db") in named.stdout
    assert len(list(backups.glob("midst-desktop-*.db"))) == 1
    assert into_folder.stdout.startswith("Backed up to ")
    statuses = {a["id"]: a["status"] for a in cli.call_json("artifacts", "list")}
    assert statuses[before] == "approved"
    assert statuses[after] == "pending"
    assert len(statuses) == len(DOCUMENTS)
    # The store as it was before the restore is kept, with the later decision.
    kept = list(cli.data_dir.glob("midst.before-restore-*.db"))
    assert len(kept) == 1
    assert str(kept[0]) in restored.stdout
    aside = Cli(tmp_path / "aside", database_url=f"sqlite:///{kept[0]}")
    assert aside.call_json("artifacts", "show", after)["status"] == "rejected"


def test_health_reports_the_operations_guide_fields(library: Library) -> None:
    cli = library.cli
    cli.call("artifacts", "approve", library.id("poems/winter.md"))

    report = cli.run(
        "health", "--json", env=child_environment(ORCH_WORKER_COUNT="3")
    ).json()

    assert report["ok"] is True
    assert report["status"] == "healthy"
    stamp = datetime.fromisoformat(report["timestamp"])
    assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=5)
    assert report["uptime"] >= 0
    assert report["checks"]["database"] == "ok"
    assert report["workers"] == 3
    assert report["queueLength"] == 0
    assert report["schedulerRunning"] is False
    assert report["artifacts"]["approved"] == 1
    assert report["artifacts"]["pending"] == len(DOCUMENTS) - 1
    assert [i["id"] for i in report["integrations"]] == [1]
    assert report["last_run"]["status"] == "succeeded"
    text = cli.call("health")
    assert text.stdout.startswith("status: healthy")

    # A store that does not answer: still the whole document, and exit 1.
    nowhere = Cli(cli.data_dir, database_url="postgresql+psycopg://me@127.0.0.1:1/x")
    down = nowhere.run("health", "--json", expect=1)
    unhealthy = down.json()
    assert (unhealthy["ok"], unhealthy["status"]) == (False, "unhealthy")
    assert "connection" in unhealthy["checks"]["database"]
    assert down.error_line.startswith("midst-desktop: unhealthy")


# -- the status lifecycle (DESIGN.md section 2) ----------------------------

COMMAND_TARGET = {
    "approve": "approved",
    "reject": "rejected",
    "archive": "archived",
    "restore": "pending",
}
ALLOWED = {
    ("pending", "approved"),
    ("pending", "rejected"),
    ("pending", "archived"),
    ("approved", "archived"),
    ("approved", "pending"),
    ("rejected", "archived"),
    ("rejected", "pending"),
    ("archived", "pending"),
}
TARGET_COMMAND = {target: command for command, target in COMMAND_TARGET.items()}


def test_every_allowed_status_move_works_and_every_other_is_refused(
    library: Library,
) -> None:
    cli = library.cli
    artifact = library.id("poems/winter.md")

    def status() -> str:
        return str(cli.call_json("artifacts", "show", artifact)["status"])

    def bring_to(wanted: str) -> None:
        if status() != "pending":
            cli.call("artifacts", "restore", artifact)
        if wanted != "pending":
            cli.call("artifacts", TARGET_COMMAND[wanted], artifact)
        assert status() == wanted

    seen = set()
    for current in sorted(STATUSES):
        for command, target in COMMAND_TARGET.items():
            bring_to(current)
            outcome = cli.call("artifacts", command, artifact, expect=None)
            seen.add((current, target))
            if (current, target) in ALLOWED:
                assert outcome.code == 0, (current, command, outcome.stderr)
                assert status() == target
            else:
                assert outcome.code == 2, (current, command)
                line = outcome.error_line
                assert current in line
                assert target in line
                assert outcome.stdout == ""
                assert status() == current
    assert len(seen) == 16


def test_a_move_over_several_artifacts_is_all_or_nothing(library: Library) -> None:
    cli = library.cli
    first, second, third = (
        library.id("poems/winter.md"),
        library.id("poems/summer.md"),
        library.id("data/results.csv"),
    )
    cli.call("artifacts", "archive", third)

    refused = cli.run("artifacts", "approve", first, second, third, expect=2)
    unknown = cli.call("artifacts", "reject", first, "0000dead", second, expect=2)

    assert third in refused.error_line
    assert "restore it first" in refused.error_line
    assert "0000dead" in unknown.error_line
    statuses = {a["id"]: a["status"] for a in cli.call_json("artifacts", "list")}
    assert [statuses[first], statuses[second], statuses[third]] == [
        "pending",
        "pending",
        "archived",
    ]


# -- bad usage --------------------------------------------------------------

# (arguments after the data dir, exit code, words the one stderr line holds)
BAD_USAGE: list[tuple[list[str], int, str]] = [
    (["nosuch"], 2, "invalid choice"),
    (["integrations"], 2, "subcommand"),
    (["artifacts"], 2, "subcommand"),
    (["integrations", "add"], 2, "provider"),
    (["integrations", "add", "s3", "x"], 2, "invalid choice"),
    (["integrations", "add", "local"], 2, "PATH"),
    (["integrations", "add", "local", "{missing}"], 2, "not a folder"),
    (["integrations", "add", "local", "{file}"], 2, "not a folder"),
    (["integrations", "add", "local", "{root}"], 2, "overlaps integration 1"),
    (["integrations", "add", "local", "{root}/poems"], 2, "synced twice"),
    (["integrations", "add", "local", "{root}/.."], 2, "overlaps integration 1"),
    (["integrations", "add", "local", "{root}", "--max-file-size-mb", "0"], 2, "1"),
    (["integrations", "add", "local", "{root}", "--max-file-size-mb", "x"], 2, "x"),
    (["integrations", "add", "google-drive", "--refresh-token-file", "{missing}"],
     2, "cannot read"),
    (["integrations", "add", "dropbox", "--refresh-token-file", "{root}"],
     2, "Is a directory"),
    (["integrations", "add", "google-drive", "--refresh-token-file", "{binary}"],
     2, "not UTF-8"),
    (["integrations", "add", "google-drive", "--refresh-token-file", "{file}"],
     2, "plain.txt"),
    (["integrations", "reconnect", "abc"], 2, "not an integration id"),
    (["integrations", "reconnect", "99"], 2, "no integration 99"),
    (["integrations", "remove"], 2, "id"),
    (["integrations", "remove", "99"], 2, "no integration 99"),
    (["pause", "--for", "1x"], 2, "duration"),
    (["pause", "--for", "0h"], 2, "minute"),
    (["pause", "--for", "tomorrow"], 2, "duration"),
    (["pause", "--for"], 2, "argument"),
    (["sync", "abc"], 2, "not an integration id"),
    (["sync", "99"], 2, "no integration 99"),
    (["sync", "--type", "weekly"], 2, "invalid choice"),
    (["sync", "1", "--type", "folder"], 2, "--folder"),
    (["sync", "--folder", "poems"], 2, "integration ID"),
    (["sync", "1", "--type", "folder", "--folder", "../.."], 2, "outside"),
    (["sync", "1", "--type", "folder", "--folder", "poems/../../x"], 2, "outside"),
    (["sync", "1", "--type", "folder", "--folder", "nosuch"], 2, "no folder"),
    (["sync", "1", "--type", "folder", "--folder", "{missing}"], 2, "no folder"),
    (["artifacts", "list", "--status", "done"], 2, "unknown status"),
    (["artifacts", "list", "--type", "poetry"], 2, "unknown type"),
    (["artifacts", "list", "--below", "1.5"], 2, "between 0 and 1"),
    (["artifacts", "list", "--below", "high"], 2, "not a number"),
    (["artifacts", "list", "--below", "-0.1"], 2, "between 0 and 1"),
    (["artifacts", "list", "--limit", "0"], 2, "1 or more"),
    (["artifacts", "list", "--limit", "ten"], 2, "whole number"),
    (["artifacts", "list", "--search", "***"], 2, "no words"),
    (["artifacts", "list", "--after", "zzzz"], 2, "no artifact"),
    (["artifacts", "show"], 2, "id"),
    (["artifacts", "show", "abc"], 2, "no artifact abc"),
    (["artifacts", "show", "00000000-0000"], 2, "no artifact"),
    (["artifacts", "show", "{ambiguous}"], 2, "more than one"),
    (["artifacts", "approve"], 2, "ID"),
    (["artifacts", "reject", "deadbeef", "--reason", "x"], 2, "no artifact"),
    (["artifacts", "edit", "{artifact}"], 2, "--title"),
    (["artifacts", "edit", "{artifact}", "--type", "poetry"], 2, "unknown type"),
    (["artifacts", "edit", "{artifact}", "--title", "  "], 2, "empty"),
    (["artifacts", "edit", "nosuch", "--title", "x"], 2, "no artifact"),
    (["artifacts", "bulk-archive", "--status", "rejected"], 2, "older-than-days"),
    (["artifacts", "bulk-archive", "--older-than-days", "3"], 2, "--status"),
    (["artifacts", "bulk-archive", "--status", "gone", "--older-than-days", "3"],
     2, "unknown status"),
    (["artifacts", "bulk-archive", "--status", "archived", "--older-than-days", "3"],
     2, "cannot be archived"),
    (["artifacts", "bulk-archive", "--status", "rejected", "--older-than-days",
      "-1"], 2, "1 or more"),
    (["artifacts", "reclassify", "--below", "2"], 2, "between 0 and 1"),
    (["artifacts", "reclassify", "--type", "poetry"], 2, "unknown type"),
    (["artifacts", "export", "--format", "xml"], 2, "invalid choice"),
    (["artifacts", "export", "--status", "done"], 2, "unknown status"),
    (["artifacts", "export", "-o", "{missing}/out.json"], 1, "cannot write"),
    (["classify"], 2, "FILE"),
    (["classify", "{missing}"], 2, "No such file"),
    (["classify", "{root}"], 2, "not a regular file"),
    (["backup"], 2, "DEST"),
    (["backup", "{missing}/store.db"], 2, "no folder"),
    (["backup", "{file}"], 2, "already exists"),
    (["restore"], 2, "SRC"),
    (["restore", "{missing}"], 2, "not a file"),
    (["restore", "{file}"], 2, "not a midst-desktop backup"),
    (["health", "--bogus"], 2, "unrecognized"),
    (["--database-url", "nonsense", "health"], 2, "database URL"),
    (["--database-url", "mysql://me@localhost/db", "health"], 2, "not mysql"),
    (["--database-url", "sqlite://", "health"], 2, "names no file"),
    (["--database-url", "postgresql+asyncpg://me@localhost/db", "health"],
     2, "psycopg"),
    (["--database-url", "postgresql+psycopg://me@127.0.0.1:1/db", "health"],
     1, "database error"),
    (["--database-url", "sqlite:///{file}", "health"], 1, "damaged"),
    (["--database-url", "sqlite:///{file}", "artifacts", "list"], 1, "damaged"),
    (["--data-dir", "{file}", "health"], 2, "is a file"),
]  # fmt: skip


@pytest.fixture
def bad_usage_setting(library: Library, tmp_path: Path) -> Callable[[str], str]:
    """Fills the table's placeholders with paths and ids of a real library."""
    ids = [a["id"] for a in library.artifacts.values()]
    # A second artifact whose id starts as the first one's does.
    twin = ids[0][:8] + "-0000-4000-8000-000000000000"
    connection = sqlite3.connect(library.cli.data_dir / "midst.db")
    try:
        columns = [row[1] for row in connection.execute("PRAGMA table_info(artifacts)")]
        values = [
            {"id": "?", "source_id": "source_id || ' twin'"}.get(column, column)
            for column in columns
        ]
        with connection:
            connection.execute(
                f"INSERT INTO artifacts ({', '.join(columns)}) "
                f"SELECT {', '.join(values)} FROM artifacts WHERE id = ?",
                (twin, ids[0]),
            )
    finally:
        connection.close()
    plain = tmp_path / "plain.txt"
    plain.write_text("not a database")
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    places = {
        "{missing}": str(tmp_path / "missing"),
        "{file}": str(plain),
        "{binary}": str(binary),
        "{root}": str(library.root),
        "{artifact}": ids[0],
        "{ambiguous}": ids[0][:8],
    }

    def fill(argument: str) -> str:
        for key, value in places.items():
            argument = argument.replace(key, value)
        return argument

    return fill


def test_bad_usage_exits_with_one_line_on_stderr_and_changes_nothing(
    library: Library,
    bad_usage_setting: Callable[[str], str],
) -> None:
    cli = library.cli
    before = cli.call_json("artifacts", "list", "--limit", "999")

    for arguments, code, words in BAD_USAGE:
        filled = [bad_usage_setting(a) for a in arguments]
        outcome = cli.call(*filled, expect=None)
        assert outcome.code == code, (filled, outcome.code, outcome.stderr)
        line = outcome.error_line
        assert words in line, (filled, line)
        assert line.startswith("midst-desktop"), line

    after = cli.call_json("artifacts", "list", "--limit", "999")
    assert after == before


def test_bad_usage_in_a_real_process(library: Library, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    cases = [
        (library.cli, ["nosuch"], 2),
        (library.cli, ["artifacts", "show", "ffffffff"], 2),
        (Cli(plain), ["health"], 2),
        (Cli(tmp_path / "d", database_url="nonsense"), ["health"], 2),
    ]
    for cli, arguments, code in cases:
        outcome = cli.run(*arguments, expect=code)
        if code:
            assert outcome.error_line.startswith("midst-desktop")
            assert outcome.stdout == ""


# -- the person's story (issue 2), end to end -------------------------------


def test_a_folder_from_first_sync_through_every_kind_of_change(tmp_path: Path) -> None:
    cli = Cli(tmp_path / "data")
    root = make_documents(tmp_path)
    cli.run("integrations", "add", "local", str(root), "--exclude", EXCLUDE,
            "--max-file-size-mb", "1")  # fmt: skip
    cli.run("sync")
    first = by_source(cli.json("artifacts", "list", "--status", "pending"))
    assert set(first) == set(DOCUMENTS)
    for row in first.values():
        assert_artifact(row)
        assert row["source_path"] == str(root / row["source_id"])
    # What was not taken in is recorded with its reason, not dropped.
    connection = sqlite3.connect(cli.data_dir / "midst.db")
    try:
        skipped = dict(
            connection.execute(
                "SELECT source_id, skip_reason FROM source_files "
                "WHERE skip_reason IS NOT NULL"
            ).fetchall()
        )
    finally:
        connection.close()
    assert skipped == {"proj/node_modules/": "excluded", "video/huge.mp4": "too_large"}
    poem, talk = first["poems/winter.md"]["id"], first["talks/keynote.pptx"]["id"]
    cli.call("artifacts", "approve", poem)
    cli.call("artifacts", "reject", talk, "--reason", "old talk")

    # An edit, an add, a delete, a rename and a move.
    (root / "data" / "results.csv").write_text("a,b\n1,2\n3,4\n")
    write(root / "poems" / "spring.md", "rain")
    (root / "Smart Contracts.txt").unlink()
    (root / "poems" / "winter.md").rename(root / "poems" / "winter night.md")
    (root / "talks" / "keynote.pptx").rename(root / "papers" / "keynote.pptx")

    run = cli.json("sync", "1")

    assert run["kind"] == "incremental"
    assert {k: run["counts"][k] for k in ("created", "updated", "removed")} == {
        "created": 1,
        "updated": 3,
        "removed": 1,
    }
    after = by_source(cli.call_json("artifacts", "list", "--limit", "100"))
    assert set(after) == (
        set(DOCUMENTS) - {"poems/winter.md", "talks/keynote.pptx"}
    ) | {"poems/winter night.md", "papers/keynote.pptx", "poems/spring.md"}
    renamed, moved = after["poems/winter night.md"], after["papers/keynote.pptx"]
    assert (renamed["id"], renamed["status"]) == (poem, "approved")
    assert renamed["source_path"] == str(root / "poems" / "winter night.md")
    assert (moved["id"], moved["status"], moved["review_reason"]) == (
        talk,
        "rejected",
        "old talk",
    )
    gone = after["Smart Contracts.txt"]
    assert gone["id"] == first["Smart Contracts.txt"]["id"]
    assert gone["source_available"] is False
    assert after["data/results.csv"]["id"] == first["data/results.csv"]["id"]
    assert after["data/results.csv"]["size_bytes"] == len("a,b\n1,2\n3,4\n")
    assert after["poems/spring.md"]["status"] == "pending"
    unchanged = set(DOCUMENTS) - {
        "data/results.csv",
        "Smart Contracts.txt",
        "poems/winter.md",
        "talks/keynote.pptx",
    }
    assert all(after[s] == first[s] for s in unchanged)

    # Nothing changed: the next sync changes nothing.
    quiet = cli.call_json("sync", "1")
    assert quiet["counts"]["created"] == 0
    assert quiet["counts"]["updated"] == 0
    assert quiet["counts"]["removed"] == 0
    assert quiet["counts"]["unchanged"] == len(after) - 1
    again = by_source(cli.call_json("artifacts", "list", "--limit", "100"))
    assert again == after

    # A folder sync looks at that subtree only, named relative or absolute.
    write(root / "poems" / "autumn.md", "leaves")
    write(root / "papers" / "unseen.md", "not looked at")
    (root / "data" / "results.csv").unlink()
    folder = cli.json("sync", "1", "--type", "folder", "--folder", "poems")
    absolute = cli.call_json(
        "sync", "1", "--type", "folder", "--folder", str(root / "poems")
    )

    assert folder["kind"] == "folder"
    assert folder["counts"]["created"] == 1
    assert folder["counts"]["listed"] == 4
    assert absolute["counts"]["created"] == 0
    assert absolute["counts"]["unchanged"] == 4
    last = by_source(cli.call_json("artifacts", "list", "--limit", "100"))
    assert "poems/autumn.md" in last
    assert "papers/unseen.md" not in last
    assert last["data/results.csv"]["source_available"] is True


# -- the default command ----------------------------------------------------


def read_log(data_dir: Path) -> str:
    path = data_dir / "logs" / "midst-desktop.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the agent did not get there")
        time.sleep(0.05)


def test_with_no_display_it_says_it_runs_the_headless_agent_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    cli = Cli(tmp_path / "data")
    root = tmp_path / "Work"
    write(root / "essay.md", "an essay")
    cli.call("integrations", "add", "local", str(root))
    env = child_environment()
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)

    agent = cli.start(env=env)
    try:
        assert agent.stdout is not None
        first_line = agent.stdout.readline()
        wait_for(lambda: "Agent started" in read_log(cli.data_dir))
        agent.send_signal(signal.SIGINT)
        out, err = agent.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()

    assert "headless agent" in first_line
    assert first_line.endswith("\n")
    assert agent.returncode == 0, err
    assert "Traceback" not in out + err
    assert "Agent stopped" in read_log(cli.data_dir)

    # Ctrl+C while it is still starting up is a clean stop too.
    early = cli.start(env=env)
    try:
        assert early.stdout is not None
        assert "headless agent" in early.stdout.readline()
        early.send_signal(signal.SIGINT)
        out, err = early.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if early.poll() is None:
            early.kill()
            early.wait()
    assert early.returncode == 0, err
    assert "Traceback" not in out + err
