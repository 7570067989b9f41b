"""Logging: the guide's line shapes, a rotating file, and no secret ever written."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from midst_desktop.logs import LOG_FILE_NAME, redact, setup_logging

SECRETS = [
    "Authorization: Bearer ya29.a0AfH6SMBx-secret-access",
    "GET /?state=xyz&code=4/0AX4XfWh-AUTHCODE&scope=drive HTTP/1.1",
    '{"access_token": "sl.BAbcdefghijklmnopqrstuvwxyz012345", '
    '"refresh_token": "r3fr3sh"}',
    "client_secret=GOCSPX-abcdef code_verifier=verifier-123456",
    "Authorization: Basic Y2xpZW50OnNlY3JldA==",
]
LEAKS = [
    "ya29.a0AfH6SMBx-secret-access",
    "4/0AX4XfWh-AUTHCODE",
    "sl.BAbcdefghijklmnopqrstuvwxyz012345",
    "r3fr3sh",
    "GOCSPX-abcdef",
    "verifier-123456",
    "Y2xpZW50OnNlY3JldA==",
]


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    setup_logging(tmp_path, "DEBUG", stderr_level="CRITICAL")
    yield tmp_path
    setup_logging(None, "INFO", stderr_level="WARNING")


def test_redact_removes_every_kind_of_credential() -> None:
    for line in SECRETS:
        cleaned = redact(line)
        assert "[redacted]" in cleaned
        assert not any(leak in cleaned for leak in LEAKS), cleaned


def test_nothing_secret_reaches_the_log_file_even_from_oauth_libraries(
    log_dir: Path,
) -> None:
    for name in (
        "midst_desktop.sync",
        "google_auth_oauthlib.flow",
        "requests_oauthlib",
    ):
        for line in SECRETS:
            logging.getLogger(name).warning("%s", line)
    logging.getLogger("requests_oauthlib").debug("Obtained token r3fr3sh")
    try:
        raise RuntimeError("token=r3fr3sh rejected")
    except RuntimeError:
        logging.getLogger("midst_desktop").exception("refresh failed")
    for handler in logging.getLogger().handlers:
        handler.flush()

    written = (log_dir / LOG_FILE_NAME).read_text()
    assert written
    assert not any(leak in written for leak in LEAKS)


def test_log_lines_have_the_operations_guide_shape(log_dir: Path) -> None:
    log = logging.getLogger("midst_desktop.sync.engine")
    log.info(
        "Full import completed: %d files, %d artifacts created, %d skipped", 145, 142, 3
    )
    log.warning("Skipping file: size 105MB exceeds max 100MB")
    for handler in logging.getLogger().handlers:
        handler.flush()

    lines = (log_dir / LOG_FILE_NAME).read_text().splitlines()
    assert lines[-2].endswith(
        "[INFO] Full import completed: 145 files, 142 artifacts created, 3 skipped"
    )
    assert lines[-1].endswith("[WARN] Skipping file: size 105MB exceeds max 100MB")


def test_an_uncaught_exception_is_logged_redacted_by_the_cli_entry(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    script = f"""
import threading
from midst_desktop.cli import main
main(["--data-dir", {str(data_dir)!r}, "health", "--json"])
def fail():
    raise ValueError("token=ya29.a0Thread-Secret-access")
worker = threading.Thread(target=fail, name="worker-x")
worker.start()
worker.join()
raise RuntimeError("refresh_token=1//0gLeaked-Refresh-Token Bearer ya29.a0Main-Secret")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIDST_")}
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    logged = (data_dir / "logs" / LOG_FILE_NAME).read_text()
    for text in (result.stderr, logged):
        assert "RuntimeError" in text and "worker-x" in text and "ValueError" in text
        assert "[redacted]" in text
        for secret in ("ya29.a0Thread", "1//0gLeaked", "ya29.a0Main"):
            assert secret not in text
