"""The local endpoint over real HTTP on 127.0.0.1, served by a running agent."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from midst_desktop.agent import Agent
from midst_desktop.config import Settings, load_settings
from midst_desktop.service.endpoint import Endpoint
from midst_desktop.service.health import health_report
from midst_desktop.store.db import Database, open_database
from midst_desktop.store.models import Integration
from tests.conftest import missing
from tests.emulators import gdrive as emu
from tests.emulators.gdrive import DriveEmulator
from tests.support.cli import Cli
from tests.support.gdrive import drive, drive_settings
from tests.support.store import add_local, artifacts_by_source, write
from tests.support.waiting import wait_for

__all__ = ["drive"]

TOKEN = "s3cret-endpoint-token"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def request(
    port: int,
    method: str = "GET",
    path: str = "/health",
    headers: dict[str, str] | None = None,
    host: str | None = None,
) -> Response:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True)
        connection.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
        for key, value in (headers or {}).items():
            connection.putheader(key, value)
        connection.endheaders()
        answer = connection.getresponse()
        return Response(
            answer.status,
            {k.lower(): v for k, v in answer.getheaders()},
            answer.read(),
        )
    finally:
        connection.close()


@dataclass
class Served:
    agent: Agent
    port: int
    integration_id: int
    database: Database


def serve(
    database: Database, settings: Settings, root: Path, token: str = ""
) -> Iterator[Served]:
    integration_id = add_local(database, root)
    served_settings = replace(
        settings, endpoint_enabled=True, endpoint_port=0, endpoint_token=token
    )
    agent = Agent(database, served_settings, startup_delay=timedelta(0))
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    wait_for(lambda: agent.endpoint_port is not None, "the endpoint listening")
    assert agent.endpoint_port is not None
    yield Served(agent, agent.endpoint_port, integration_id, database)
    agent.stopping.set()
    thread.join(timeout=15)
    assert not thread.is_alive(), "the agent did not stop"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "Portfolio"
    for number in range(8):
        write(root / f"series{number % 2}" / f"poem {number}.md", f"verse {number}")
    return root


@pytest.fixture
def served(database: Database, settings: Settings, folder: Path) -> Iterator[Served]:
    yield from serve(database, settings, folder)


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_health_has_the_operations_guide_fields(served: Served) -> None:
    wait_for(lambda: len(artifacts_by_source(served.database)) == 8, "first sync")

    answer = request(served.port)

    assert answer.status == 200
    assert answer.headers["content-type"] == "application/json"
    report = answer.json()
    assert isinstance(report, dict)
    for key in (
        "ok",
        "status",
        "timestamp",
        "uptime",
        "checks",
        "workers",
        "queueLength",
        "schedulerRunning",
    ):
        assert key in report, key
    assert report["ok"] is True
    assert report["status"] == "healthy"
    assert report["schedulerRunning"] is True
    checks = report["checks"]
    assert checks["database"] == "ok"
    assert checks["scheduler"] == "ok"
    assert checks[f"integration_{served.integration_id}"] == "ok"
    assert "keyring" in checks


def test_the_command_line_gives_the_same_health_document(
    served: Served, settings: Settings
) -> None:
    over_http = request(served.port).json()
    command = subprocess.run(
        [
            sys.executable,
            "-m",
            "midst_desktop.cli",
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.database_url,
            "health",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert command.returncode == 0, command.stderr
    from_cli = json.loads(command.stdout)
    assert isinstance(over_http, dict)
    assert set(from_cli) == set(over_http)
    assert from_cli["checks"]["database"] == "ok"
    # The command line has no scheduler of its own.
    assert from_cli["schedulerRunning"] is False


def test_metrics_follow_syncs_and_carry_no_paths(served: Served) -> None:
    wait_for(lambda: len(artifacts_by_source(served.database)) == 8, "first sync")
    wait_for(lambda: served.agent.scheduler.workers_busy == 0, "idle")

    before = metric_samples(request(served.port, path="/metrics").body.decode())
    write(served.agent.settings.data_dir.parent / "Portfolio" / "new.md", "new verse")
    wait_for(lambda: len(artifacts_by_source(served.database)) == 9, "watched add")
    wait_for(lambda: served.agent.scheduler.workers_busy == 0, "idle")
    answer = request(served.port, path="/metrics")
    after = metric_samples(answer.body.decode())

    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain")
    names = {name for name, _ in after}
    for name in (
        "midst_orch_tasks_executed_total",
        "midst_orch_queue_length",
        "midst_orch_workers_busy",
        "midst_orch_workers_total",
        "midst_orch_classification_duration_seconds_count",
        "midst_artifacts",
        "midst_sync_last_success_timestamp_seconds",
        "midst_integration_auth_ok",
        "process_resident_memory_bytes",
    ):
        assert name in names, name
    executed = (
        "midst_orch_tasks_executed_total",
        (("status", "succeeded"), ("type", "artifact_sync_incremental")),
    )
    assert after[executed] > before.get(executed, 0)
    pending = ("midst_artifacts", (("status", "pending"),))
    assert before[pending] == 8
    assert after[pending] == 9
    assert after[("midst_orch_workers_total", ())] == served.agent.settings.worker_count
    last = (
        "midst_sync_last_success_timestamp_seconds",
        (("integration", str(served.integration_id)),),
    )
    assert after[last] >= before[last] > 0
    text = answer.body.decode()
    assert "Portfolio" not in text and "poem" not in text


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"]
)
def test_every_method_but_get_is_refused_with_allow(
    served: Served, method: str
) -> None:
    answer = request(served.port, method=method)
    assert answer.status == 405
    assert answer.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:{port}",
        "localhost",
        "127.0.0.1",
        "127.0.0.1:{other}",
        "localhost:{other}",
        "attacker.test",
        "",
    ],
)
def test_a_foreign_host_header_is_misdirected(served: Served, host: str) -> None:
    # The port is part of the name we answer to; anything else may be a
    # DNS-rebinding page in the person's browser.
    name = host.format(port=served.port, other=served.port + 1)
    answer = request(served.port, host=name)
    assert answer.status == 421


def test_localhost_by_name_is_accepted(served: Served) -> None:
    assert request(served.port, host=f"localhost:{served.port}").status == 200


def test_a_request_with_an_origin_is_refused_and_nothing_is_cors(
    served: Served,
) -> None:
    answer = request(served.port, headers={"Origin": "http://127.0.0.1:8000"})
    assert answer.status == 403
    for path in ("/health", "/metrics", "/openapi.json", "/nothing"):
        headers = request(served.port, path=path).headers
        assert not [h for h in headers if h.startswith("access-control-")]


def test_unknown_paths_are_not_found(served: Served) -> None:
    assert request(served.port, path="/artifacts").status == 404


def test_the_endpoint_listens_on_loopback_only(served: Served) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        # The address this machine would use towards another network (no
        # packet is sent by connect() on a datagram socket).
        try:
            probe.connect(("10.255.255.255", 1))
            outward = probe.getsockname()[0]
        except OSError:
            outward = None
    if outward and not outward.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((outward, served.port), timeout=2).close()
    assert request(served.port).status == 200


def test_a_bearer_token_is_required_when_set(
    database: Database, settings: Settings, folder: Path
) -> None:
    for running in serve(database, settings, folder, token=TOKEN):
        assert request(running.port).status == 401
        wrong = {"Authorization": "Bearer not-the-token"}
        assert request(running.port, headers=wrong).status == 401
        basic = {"Authorization": f"Basic {TOKEN}"}
        assert request(running.port, headers=basic).status == 401
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert request(running.port, headers=right).status == 200
        assert request(running.port, path="/metrics", headers=right).status == 200


@pytest.mark.parametrize(
    "given",
    [
        TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y"),  # same length, one off
        "X" + TOKEN[1:],
        TOKEN.upper(),
        TOKEN[:-1],  # a prefix
        TOKEN[:1],
        TOKEN + "0",  # the token and more
        f"{TOKEN} {TOKEN}",
        "",
    ],
)
def test_a_near_miss_of_the_bearer_token_is_refused(
    database: Database, settings: Settings, folder: Path, given: str
) -> None:
    for running in serve(database, settings, folder, token=TOKEN):
        for path in ("/health", "/metrics", "/openapi.json"):
            answer = request(
                running.port, path=path, headers={"Authorization": f"Bearer {given}"}
            )
            assert answer.status == 401, (path, given)
            assert answer.headers["www-authenticate"].startswith("Bearer")
        right = {"Authorization": f"Bearer {TOKEN}"}
        assert request(running.port, headers=right).status == 200


def run_in_thread(agent: Agent) -> Iterator[Agent]:
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    yield agent
    agent.stopping.set()
    thread.join(timeout=15)
    assert not thread.is_alive(), "the agent did not stop"


def test_the_endpoint_is_off_by_default_and_the_setting_opens_it_on_loopback_3002(
    database: Database, settings: Settings, folder: Path
) -> None:
    add_local(database, folder)
    defaults = load_settings(
        data_dir=str(settings.data_dir), database_url=settings.database_url, environ={}
    )
    assert (defaults.endpoint_enabled, defaults.endpoint_port) == (False, 3002)
    for agent in run_in_thread(Agent(database, defaults, startup_delay=timedelta(0))):
        wait_for(lambda: len(artifacts_by_source(database)) == 8, "first sync")
        assert agent.endpoint_port is None

    enabled = load_settings(
        data_dir=str(settings.data_dir),
        database_url=settings.database_url,
        environ={"MIDST_ENDPOINT_ENABLED": "true"},
    )
    for agent in run_in_thread(Agent(database, enabled)):
        wait_for(lambda: agent.endpoint_port is not None, "the endpoint listening")
        assert agent.endpoint_port == 3002
        assert request(3002).status == 200
        document = request(3002, path="/openapi.json").json()
        assert isinstance(document, dict)
        assert document["servers"] == [{"url": "http://127.0.0.1:3002"}]


def test_health_is_503_when_the_store_is_unusable(tmp_path: Path) -> None:
    broken_file = tmp_path / "broken.db"
    settings = load_settings(
        data_dir=str(tmp_path / "data"),
        database_url=f"sqlite:///{broken_file}",
        environ={},
    )
    database = open_database(f"sqlite:///{broken_file}")
    database.dispose()  # no connection keeps the old pages
    for suffix in ("-wal", "-shm"):
        Path(f"{broken_file}{suffix}").unlink(missing_ok=True)
    broken_file.write_bytes(b"this is not a database" * 100)
    endpoint = Endpoint(0, "", lambda: health_report(database, settings), lambda: b"")
    endpoint.start()
    try:
        answer = request(endpoint.port)
    finally:
        endpoint.stop()
    report = answer.json()
    assert answer.status == 503
    assert isinstance(report, dict)
    assert report["status"] == "unhealthy"
    assert report["ok"] is False
    assert report["checks"]["database"] != "ok"


def test_schemathesis_finds_nothing_against_the_published_schema(
    served: Served, tmp_path: Path
) -> None:
    command = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"http://127.0.0.1:{served.port}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            "30",
            "--phases",
            "examples,coverage,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert command.returncode == 0, command.stdout[-4000:] + command.stderr[-2000:]


def test_the_shipped_dashboard_and_alerts_use_only_metrics_that_exist(
    served: Served,
) -> None:
    import re

    wait_for(lambda: len(artifacts_by_source(served.database)) == 8, "first sync")
    scraped = {
        name
        for name, _ in metric_samples(
            request(served.port, path="/metrics").body.decode()
        )
    }
    # Counters and histograms that have not moved yet still have their
    # declared names in the exposition's HELP lines.
    text = request(served.port, path="/metrics").body.decode()
    declared = set(re.findall(r"^# TYPE (\w+) ", text, flags=re.MULTILINE))
    known = scraped | declared
    monitoring = Path(__file__).parents[2] / "docs" / "monitoring"
    used: set[str] = set()
    for name in ("grafana-dashboard.json", "midst-desktop-alerts.yml"):
        used |= set(
            re.findall(r"\b(?:midst|process)_\w+", (monitoring / name).read_text())
        )
    missing = set()
    for name in used:
        base = re.sub(r"_(bucket|count|sum|total)$", "", name)
        if name not in known and base not in known:
            missing.add(name)
    assert not missing


def integration_status(database: Database, integration_id: int) -> str | None:
    with database.read() as session:
        found = session.get(Integration, integration_id)
        return None if found is None else found.status


def all_synced(port: int) -> bool:
    report = request(port).json()
    assert isinstance(report, dict)
    return all(i["last_synced_at"] for i in report["integrations"])


def connect_drive(settings: Settings, drive: DriveEmulator, tmp_path: Path) -> int:
    """A Drive integration added as a person does, its token in the keyring."""
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
    cli = Cli(settings.data_dir, settings.database_url)
    added = cli.call_json(
        "integrations", "add", "google-drive", "--refresh-token-file", str(token_file)
    )
    return int(added["id"])


def test_a_drive_that_must_be_reconnected_shows_as_degraded_with_its_errors_and_expiry(
    database: Database,
    settings: Settings,
    folder: Path,
    drive: DriveEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        missing("no D-Bus session: run the tests under scripts/with-keyring.sh")
    for key, value in drive.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MIDST_CLOUD_RETRY_BASE_MS", "1")
    drive.account.add_file("notes.txt", None, b"field notes", "text/plain")
    drive_id = connect_drive(settings, drive, tmp_path)
    # The agent's first sync of the drive meets one rate limit and retries.
    drive.fail_next(emu.RATE_LIMIT_429, "/drive/v3/")

    for running in serve(database, drive_settings(settings, drive), folder):
        wait_for(lambda: all_synced(running.port), "both integrations synced")
        healthy = request(running.port)
        scraped = metric_samples(request(running.port, path="/metrics").body.decode())

        # Access revoked at Google: the next sync of the drive is refused.
        drive.account.revoke_all()
        running.agent.scheduler.run_now(drive_id)
        wait_for(
            lambda: integration_status(database, drive_id) == "needs_reauth",
            "the drive asks to be reconnected",
        )
        degraded = request(running.port)
        after = metric_samples(request(running.port, path="/metrics").body.decode())

    report = healthy.json()
    assert isinstance(report, dict)
    assert report["status"] == "healthy", report["checks"]
    assert report["checks"]["keyring"] == "ok"
    rate_limited = (
        "midst_provider_errors_total",
        (("kind", "rate_limit"), ("provider", "google_drive")),
    )
    assert scraped[rate_limited] == 1
    expiry = ("midst_oauth_token_expiry_seconds", (("integration", str(drive_id)),))
    assert 0 < scraped[expiry] <= emu.ACCESS_TOKEN_SECONDS

    assert degraded.status == 200
    report = degraded.json()
    assert isinstance(report, dict)
    assert report["ok"] is True
    assert report["status"] == "degraded"
    assert report["checks"][f"integration_{drive_id}"] == "needs_reauth"
    assert report["checks"]["keyring"] == "ok"
    others = [k for k in report["checks"] if k.startswith("integration_")]
    assert [report["checks"][k] for k in others].count("ok") == len(others) - 1
    auth_ok = ("midst_integration_auth_ok", (("integration", str(drive_id)),))
    assert scraped[auth_ok] == 1 and after[auth_ok] == 0
    refused = (
        "midst_provider_errors_total",
        (("kind", "auth"), ("provider", "google_drive")),
    )
    assert after[refused] >= 1
