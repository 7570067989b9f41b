"""midst-desktop with no command on a real X display starts the desktop app."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import missing
from tests.support.cli import Cli, child_environment
from tests.support.store import write

DISPLAY_NUMBER = 93
DEADLINE_SECONDS = 60


@pytest.fixture
def x_display() -> Iterator[str]:
    if shutil.which("Xvfb") is None:
        missing("Xvfb is not installed (scripts/system-deps.sh test)")
    server = subprocess.Popen(
        [
            "Xvfb",
            f":{DISPLAY_NUMBER}",
            "-screen",
            "0",
            "1024x768x24",
            "-nolisten",
            "tcp",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{DISPLAY_NUMBER}")
    deadline = time.monotonic() + 10
    while not socket.exists():
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            pytest.fail("Xvfb did not start")
        time.sleep(0.05)
    yield f":{DISPLAY_NUMBER}"
    server.terminate()
    server.wait()


def read_log(data_dir: Path) -> str:
    path = data_dir / "logs" / "midst-desktop.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def wait_for_log(data_dir: Path, words: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while words not in read_log(data_dir):
        if time.monotonic() > deadline:
            pytest.fail(f"the log never said {words!r}:\n{read_log(data_dir)}")
        time.sleep(0.1)


def test_with_a_display_and_no_tray_the_app_opens_syncs_and_stops_on_sigterm(
    tmp_path: Path, x_display: str
) -> None:
    cli = Cli(tmp_path / "data")
    root = tmp_path / "Work"
    write(root / "essay.md", "an essay about rivers")
    cli.call("integrations", "add", "local", str(root))
    env = child_environment(DISPLAY=x_display, QT_QPA_PLATFORM="xcb")
    env.pop("WAYLAND_DISPLAY", None)

    app = cli.start(env=env)
    try:
        wait_for_log(cli.data_dir, "Desktop app started (tray not available)")
        wait_for_log(cli.data_dir, "Agent started")
        # The agent syncs on its own while the window is up.
        wait_for_log(cli.data_dir, "Full import completed")
        app.send_signal(signal.SIGTERM)
        out, err = app.communicate(timeout=DEADLINE_SECONDS)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()

    assert app.returncode == 0, err
    assert "Traceback" not in out + err
    assert "headless agent" not in out
    log = read_log(cli.data_dir)
    assert "No system tray: showing the review window instead" in log
    assert log.index("Desktop app stopped") > log.index("Agent stopped")
    listed = cli.json("artifacts", "list")
    assert [a["name"] for a in listed] == ["essay.md"]
