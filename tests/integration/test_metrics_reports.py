"""What the engine and the providers report reaches the endpoint's metrics."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from midst_desktop import events
from midst_desktop.config import Settings, load_settings
from midst_desktop.service.metrics import Metrics
from midst_desktop.store.db import Database
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.providers.base import Scope
from midst_desktop.sync.registry import provider_for
from tests.emulators import gdrive as emu
from tests.emulators.gdrive import DriveEmulator
from tests.support.gdrive import drive, provider
from tests.support.store import add_local, write

__all__ = ["drive"]


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def listening(database: Database) -> Iterator[Metrics]:
    metrics = Metrics(database, lambda: (0, 0, 4))
    events.subscribe(metrics)
    yield metrics
    events.unsubscribe(metrics)


def test_each_classified_file_is_timed(
    database: Database, settings: Settings, listening: Metrics, tmp_path: Path
) -> None:
    root = tmp_path / "Notes"
    for number in range(5):
        write(root / f"note {number}.md", f"a note {number}")
    integration_id = add_local(database, root)

    SyncEngine(database, settings, provider_for).sync(integration_id)

    count = ("midst_orch_classification_duration_seconds_count", ())
    assert samples(listening)[count] == 5


def test_retried_drive_requests_are_counted_by_kind(
    database: Database, listening: Metrics, drive: DriveEmulator, tmp_path: Path
) -> None:
    plain: Settings = load_settings(data_dir=str(tmp_path / "data"), environ={})
    drive.account.add_file("a.txt", None, b"a", "text/plain")
    p = provider(plain, drive)
    p.sleep = lambda _seconds: None
    p.start_cursor()
    drive.fail_next(emu.RATE_LIMIT_429, "/drive/v3/files")
    drive.fail_next(emu.SERVER_ERROR, "/drive/v3/files")

    assert len(list(p.list_files(FolderConfig(), Scope()))) == 1

    found = samples(listening)
    label = "midst_provider_errors_total"
    assert found[(label, (("kind", "rate_limit"), ("provider", "google_drive")))] == 1
    assert found[(label, (("kind", "transient"), ("provider", "google_drive")))] == 1


def test_the_access_token_expiry_of_a_drive_integration_is_shown(
    database: Database, listening: Metrics, drive: DriveEmulator, tmp_path: Path
) -> None:
    plain: Settings = load_settings(data_dir=str(tmp_path / "data"), environ={})
    p = provider(plain, drive, integration_id=7)

    p.start_cursor()

    found = samples(listening)
    left = found[("midst_oauth_token_expiry_seconds", (("integration", "7"),))]
    assert 0 < left <= emu.ACCESS_TOKEN_SECONDS
