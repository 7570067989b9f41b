"""Running midst-desktop as a person does: a real process with a data dir of its own."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from midst_desktop.cli import main

COMMAND = (sys.executable, "-m", "midst_desktop.cli")
PROCESS_TIMEOUT_SECONDS = 120
# Variables of the person running the tests that would change what the CLI does.
CLEARED_PREFIXES = ("MIDST_", "ORCH_")


def child_environment(**extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(CLEARED_PREFIXES)
    }
    env.update(extra)
    return env


@dataclass(frozen=True)
class Outcome:
    """What one command did: its exit code and both streams."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def error_line(self) -> str:
        """The one line an error prints on stderr (asserted to be exactly one)."""
        lines = self.stderr.splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {self.stderr!r}"
        assert lines[0].strip(), "the error line is empty"
        return lines[0]


def assert_no_traceback(outcome: Outcome) -> None:
    for stream in (outcome.stdout, outcome.stderr):
        assert "Traceback" not in stream, stream
        assert "Logging error" not in stream, stream


class Cli:
    """One person's midst-desktop: a data dir and, optionally, a store URL.

    run() starts a real process; call() runs main() in this process (for
    tables of many cases, where start-up time would dominate).
    """

    def __init__(self, data_dir: Path, database_url: str | None = None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url

    def argv(self, *args: str) -> list[str]:
        options = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            options += ["--database-url", self.database_url]
        return [*options, *args]

    def run(
        self,
        *args: str,
        expect: int | None = 0,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Outcome:
        done = subprocess.run(
            [*COMMAND, *self.argv(*args)],
            capture_output=True,
            text=True,
            env=env or child_environment(),
            cwd=cwd,
            timeout=PROCESS_TIMEOUT_SECONDS,
            check=False,
        )
        outcome = Outcome(done.returncode, done.stdout, done.stderr)
        assert_no_traceback(outcome)
        if expect is not None:
            assert outcome.code == expect, (
                f"midst-desktop {' '.join(args)} exited {outcome.code}, "
                f"not {expect}: {outcome.stderr}"
            )
        return outcome

    def json(self, *args: str) -> Any:
        """Run a command with --json in a process; its parsed output."""
        return self.run(*args, "--json").json()

    def start(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*COMMAND, *self.argv(*args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or child_environment(),
        )

    def call(self, *args: str, expect: int | None = 0) -> Outcome:
        """Run main() in this process, as the console script would."""
        outcome = call_main(self.argv(*args))
        if expect is not None:
            assert outcome.code == expect, (
                f"midst-desktop {' '.join(args)} exited {outcome.code}, "
                f"not {expect}: {outcome.stderr}"
            )
        return outcome

    def call_json(self, *args: str) -> Any:
        return self.call(*args, "--json").json()


def call_main(argv: list[str]) -> Outcome:
    """main(argv) with both streams captured; argparse's exits become codes."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exit_:
                code = 0 if exit_.code is None else int(exit_.code != 0)
                code = exit_.code if isinstance(exit_.code, int) else code
    finally:
        _drop_cli_log_handlers()
    outcome = Outcome(code, out.getvalue(), err.getvalue())
    assert_no_traceback(outcome)
    return outcome


def _drop_cli_log_handlers() -> None:
    # main() sets up logging to the captured stderr and the data dir's log
    # file; both are gone after the call, so their handlers must go too.
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_midst", False):
            root.removeHandler(handler)
            handler.close()
