"""Fixtures for the desktop app's tests: Qt offscreen, and a real synced folder."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

# Before Qt loads: the tests draw real widgets without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from midst_desktop.agent import Agent
from midst_desktop.config import Settings, load_settings
from midst_desktop.store.db import Database, open_database
from midst_desktop.store.models import Integration
from tests.support import samples
from tests.support.store import add_local, engine, write

PAPER = (
    "On the Stability of Layered Sediments\nAbstract\nWe measure layered "
    "sediments under cyclic load.\ndoi:10.1234/sediments.2021.042\n"
    "References\n[1] C. Author. Soil Mechanics. 1998.\n"
)
POEM = "Ode to the river\n\nThe river bends and sings,\nand carries evening light.\n"
CODE = (
    "def fit(points):\n    '''Least squares.'''\n    return sum(points) / len(points)\n"
)


# The machine may be busy: a wait ends as soon as its condition holds, so a
# long limit costs nothing when things are quick.
WAIT_MS = 20000


class PatientQtBot(QtBot):
    def waitUntil(self, callback: Any, *, timeout: int = WAIT_MS) -> None:
        super().waitUntil(callback, timeout=timeout)


@pytest.fixture
def qtbot(qapp: Any, request: pytest.FixtureRequest) -> QtBot:
    return PatientQtBot(request)


# Most window tests run on SQLite only; those whose queries differ between
# the stores (search, paging, slow statements) run on PostgreSQL too.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Synced:
    database: Database
    settings: Settings
    folder: Path
    integration_id: int


def fill_folder(folder: Path) -> None:
    """A handful of real files of different kinds."""
    write(folder / "papers" / "sediments.md", PAPER)
    write(folder / "writing" / "ode.txt", POEM)
    write(folder / "writing" / "letters.txt", "Dear reader,\nthe letters follow.\n")
    write(folder / "code" / "fit.py", CODE)
    write(folder / "data" / "loads.csv", "load,strain\n1,0.1\n2,0.2\n3,0.31\n")
    (folder / "art").mkdir(parents=True, exist_ok=True)
    (folder / "art" / "sketch.png").write_bytes(samples.png(96, 64))
    (folder / "talk.pptx").write_bytes(
        samples.pptx([["Layered sediments"], ["Results"]], title="Sediments talk")
    )


@pytest.fixture(scope="session")
def synced_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real full sync into SQLite, which SQLite tests copy instead of redoing."""
    root = tmp_path_factory.mktemp("synced")
    folder = root / "work"
    fill_folder(folder)
    url = f"sqlite:///{root / 'template.db'}"
    settings = load_settings(data_dir=str(root / "data"), database_url=url, environ={})
    database = open_database(url)
    integration_id = add_local(database, folder)
    engine(database, settings).sync(integration_id, "full", "manual")
    database.dispose()
    return root / "template.db", folder


@pytest.fixture
def synced(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    synced_template: tuple[Path, Path],
) -> Synced:
    folder = tmp_path / "work"
    if database.sqlite_path is None:
        fill_folder(folder)
        integration_id = add_local(database, folder)
        engine(database, settings).sync(integration_id, "full", "manual")
        return Synced(database, settings, folder, integration_id)
    # SQLite's own backup copies the synced store into the open database.
    template, template_folder = synced_template
    shutil.copytree(template_folder, folder)
    source = sqlite3.connect(template)
    target = sqlite3.connect(database.sqlite_path)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    with database.write() as session:
        integration = session.scalars(select(Integration)).one()
        integration.root_path = str(folder)
        integration_id = integration.id
    return Synced(database, settings, folder, integration_id)


@pytest.fixture
def agent(synced: Synced) -> Iterator[Agent]:
    """The real agent on a thread, as the app runs it; nothing runs by itself soon."""
    running = Agent(synced.database, synced.settings, startup_delay=timedelta(hours=1))
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    running.stopping.set()
    thread.join(30)


@pytest.fixture(autouse=True)
def no_preview_worker_outlives_its_window() -> Iterator[None]:
    """A review window that was closed stops its PDF preview worker."""
    yield
    import multiprocessing
    import time

    def left() -> list[Any]:
        QApplication.processEvents()
        children = multiprocessing.active_children()
        return [p for p in children if p.name == "midst-preview"]

    deadline = time.monotonic() + WAIT_MS / 1000
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert left() == [], "a PDF preview worker outlived its review window"
