"""Whether the desktop app can start here; imports no Qt, so the CLI stays fast."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys

log = logging.getLogger(__name__)

NO_DISPLAY = "No display found"
PROBE_SECONDS = 20
# Qt ends the process, without an exception, when its platform plugin cannot
# reach the display, so a throw-away process tries first.
PROBE = "from PySide6.QtWidgets import QApplication; QApplication([]).processEvents()"


def gui_problem(environ: dict[str, str] | None = None) -> str | None:
    """None when the app can start, else why not (one line, for the person)."""
    env = dict(os.environ if environ is None else environ)
    if not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return NO_DISPLAY
    if importlib.util.find_spec("PySide6") is None:
        return "Qt (PySide6) is not installed"
    if getattr(sys, "frozen", False):
        # The bundled binary has no interpreter to run a probe with.
        return None
    try:
        probe = subprocess.run(
            [sys.executable, "-c", PROBE],
            env=env,
            capture_output=True,
            timeout=PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"Qt cannot start ({type(error).__name__})"
    if probe.returncode != 0:
        reason = probe.stderr.decode("utf-8", "replace").strip().splitlines()
        log.warning("Qt cannot start: %s", reason[-1] if reason else probe.returncode)
        return "Qt cannot start on this display"
    return None
