"""The bundle's self-check: it passes where everything is there, and names a gap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from midst_desktop import self_check

ENTRY = Path(__file__).parents[2] / "build" / "entry.py"


def test_the_entry_point_runs_the_self_check_when_asked_and_everything_passes() -> None:
    done = subprocess.run(
        [sys.executable, str(ENTRY)],
        env={**os.environ, "MIDST_SELF_CHECK": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {
        "keyring_backend": "ok",
        "ca_bundle": "ok",
        "drive_discovery": "ok",
    }


def test_a_keyring_backend_without_its_entry_point_is_named(monkeypatch) -> None:
    monkeypatch.setitem(self_check.KEYRING_BACKENDS, "linux", "NoSuchVault")

    assert "NoSuchVault" in self_check.keyring_backend("linux")


def test_a_missing_ca_file_is_named(monkeypatch, tmp_path: Path) -> None:
    import certifi

    monkeypatch.setattr(certifi, "where", lambda: str(tmp_path / "cacert.pem"))

    assert "CA file" in self_check.ca_bundle()
    (tmp_path / "cacert.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert "too few" in self_check.ca_bundle()


def test_a_missing_discovery_document_is_named(monkeypatch) -> None:
    from googleapiclient import discovery_cache

    monkeypatch.setattr(discovery_cache, "get_static_doc", lambda *_: None)

    assert "not bundled" in self_check.drive_discovery()
