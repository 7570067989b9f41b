"""The headless agent as a real process: SIGTERM or SIGINT mid-sync stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact, Run, RunStatus
from tests.support.store import add_local, write

FILES = 1500
DEADLINE_SECONDS = 60


def cli(settings: Settings, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "midst_desktop.cli",
        "--data-dir",
        str(settings.data_dir),
        "--database-url",
        settings.database_url,
        *args,
    ]


def runs(database: Database) -> list[Run]:
    with database.read() as session:
        return list(session.scalars(select(Run).order_by(Run.id)))


def started(database: Database) -> bool:
    return any(r.status == RunStatus.RUNNING and r.listed for r in runs(database))


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=str)
def test_a_stop_signal_during_a_sync_cancels_the_run_and_the_next_sync_completes_it(
    database: Database, settings: Settings, tmp_path: Path, stop_signal: int
) -> None:
    # SIGTERM from a service manager and SIGINT from Ctrl+C stop it alike.
    root = tmp_path / "Archive"
    for number in range(FILES):
        write(root / f"box{number % 60}" / f"letter {number}.txt", f"dear {number}")
    add_local(database, root)
    environment = {**os.environ, "MIDST_BATCH_SIZE": "10"}
    agent = subprocess.Popen(
        cli(settings, "agent"),
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not started(database):
            assert agent.poll() is None, agent.stderr.read() if agent.stderr else ""
            if time.monotonic() > deadline:
                pytest.fail("the agent never started its start-up sync")
            time.sleep(0.02)
        agent.send_signal(stop_signal)
        code = agent.wait(timeout=DEADLINE_SECONDS)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    stderr = agent.stderr.read() if agent.stderr else ""

    assert code == 0, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    stopped = runs(database)[-1]
    assert stopped.status == RunStatus.CANCELLED
    assert stopped.finished_at is not None
    assert 0 < stopped.listed < FILES

    resumed = subprocess.run(
        cli(settings, "sync"), capture_output=True, text=True, timeout=120, check=False
    )
    assert resumed.returncode == 0, resumed.stderr
    with database.read() as session:
        source_ids = list(session.scalars(select(Artifact.source_id)))
    assert len(source_ids) == len(set(source_ids)) == FILES
    assert runs(database)[-1].status == RunStatus.SUCCEEDED
