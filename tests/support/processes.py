"""The real command line in child processes, and work done as an unprivileged user."""

from __future__ import annotations

import os
import pickle
import pwd
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

UNPRIVILEGED_USER = "nobody"


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a child CLI: ours without any MIDST_/ORCH_ setting."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MIDST_", "ORCH_"))
    }
    env.update(extra)
    return env


def cli_command(data_dir: Path, database_url: str, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "midst_desktop.cli",
        "--data-dir",
        str(data_dir),
        "--database-url",
        database_url,
        *args,
    ]


def run_cli(
    data_dir: Path,
    database_url: str,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_command(data_dir, database_url, *args),
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(
    data_dir: Path, database_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command(data_dir, database_url, *args),
        env=env or cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_hard(process: subprocess.Popen[str]) -> int:
    """SIGKILL the process (if it still runs) and reap it; returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    return process.returncode


def unprivileged_ids() -> tuple[int, int]:
    account = pwd.getpwnam(UNPRIVILEGED_USER)
    return account.pw_uid, account.pw_gid


def shared_folder(prefix: str) -> Path:
    """A fresh folder the unprivileged user owns (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        uid, gid = unprivileged_ids()
        os.chown(folder, uid, gid)
    return folder


def give_away(*roots: Path) -> None:
    """Hand a tree to the unprivileged user, so only its modes decide access."""
    if os.geteuid() != 0:
        return
    uid, gid = unprivileged_ids()
    for root in roots:
        os.lchown(root, uid, gid)
        for folder, dirs, files in os.walk(root):
            for name in (*dirs, *files):
                os.lchown(os.path.join(folder, name), uid, gid)


def call_unprivileged(function: Callable[..., Any], *args: Any) -> Any:
    """Run function(*args) in a forked child that is not root; return its result.

    A root process ignores file permissions, so the child drops to 'nobody'
    when we are root. The interpreter lives where 'nobody' may not read, so
    everything function needs must be imported before the call. An exception
    in the child is raised here as an AssertionError with its traceback.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read_end)
        status = 0
        try:
            if os.geteuid() == 0:
                uid, gid = unprivileged_ids()
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
            outcome: tuple[str, Any] = ("ok", function(*args))
        except BaseException:
            outcome = ("error", traceback.format_exc())
            status = 1
        try:
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(outcome, pipe)
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    if not data:
        raise AssertionError("the unprivileged child died without an answer")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"the unprivileged child failed:\n{value}")
    return value


def one_line(stream: str) -> str:
    """The single line a failing command must print; fails on more or a traceback."""
    lines = [line for line in stream.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got: {stream!r}"
    assert "Traceback" not in stream
    return lines[0]
