"""Start at login: the entries written start this copy of the app."""

from __future__ import annotations

import os
import plistlib
import stat
import subprocess
import sys
from pathlib import Path

from midst_desktop import __version__
from midst_desktop.ui.icons import resources_dir
from midst_desktop.ui.login_item import (
    LaunchAgent,
    XdgAutostart,
    launch_command,
    login_item,
)
from tests.support.login import exec_arguments

TEMPLATE = resources_dir() / "app" / "midst-desktop-autostart.desktop"


def prints_the_version(command: list[str]) -> bool:
    started = subprocess.run(
        [*command, "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return started.stdout.split() == ["midst-desktop", __version__]


def launcher_in(folder: Path) -> Path:
    """A script in a folder with an awkward name that starts the app."""
    folder.mkdir(parents=True)
    script = folder / "midst desktop"
    script.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m midst_desktop "$@"\n', encoding="utf-8"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_launch_command_starts_this_app() -> None:
    assert prints_the_version(launch_command())


def test_the_autostart_entry_quotes_an_awkward_path_so_it_still_starts(
    tmp_path: Path,
) -> None:
    script = launcher_in(tmp_path / 'My "Apps" $HOME 100% \\ `x`')
    item = XdgAutostart(TEMPLATE, [str(script)], tmp_path / "config")

    item.set(True)

    assert item.enabled()
    entry = (tmp_path / "config" / "autostart" / "midst-desktop.desktop").read_text()
    [exec_line] = [line for line in entry.splitlines() if line.startswith("Exec=")]
    assert exec_arguments(exec_line.removeprefix("Exec=")) == [str(script)]
    assert prints_the_version(exec_arguments(exec_line.removeprefix("Exec=")))
    # The rest of the shipped entry is kept as it is.
    assert "X-GNOME-Autostart-enabled=true" in entry
    item.set(False)
    assert not item.enabled()
    item.set(False)  # removing what is not there is no error


def test_the_macos_launch_agent_runs_the_app_at_login(tmp_path: Path) -> None:
    script = launcher_in(tmp_path / "Applications")
    item = LaunchAgent([str(script)], tmp_path / "home")

    item.set(True)

    path = tmp_path / "home" / "Library" / "LaunchAgents"
    with (path / "org.inmidst.midst-desktop.plist").open("rb") as handle:
        agent = plistlib.load(handle)
    assert agent["Label"] == "org.inmidst.midst-desktop"
    assert agent["RunAtLoad"] is True
    assert agent["LimitLoadToSessionType"] == "Aqua"
    assert prints_the_version(agent["ProgramArguments"])
    assert item.enabled()
    item.set(False)
    assert not item.enabled()
    assert os.listdir(path) == []


def test_on_linux_the_login_item_is_the_xdg_entry(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    item = login_item(TEMPLATE)
    assert isinstance(item, XdgAutostart)
    assert item.path == tmp_path / "autostart" / "midst-desktop.desktop"


def installed_tree(prefix: Path) -> Path:
    """A package layout under prefix: the build, the link on PATH, the entry."""
    build = launcher_in(prefix / "lib" / "midst-desktop")
    program = prefix / "bin" / "midst-desktop"
    program.parent.mkdir(parents=True)
    program.symlink_to(build)
    shipped = prefix / "share" / "midst-desktop" / "autostart" / "midst-desktop.desktop"
    shipped.parent.mkdir(parents=True)
    shipped.write_text(
        TEMPLATE.read_text(encoding="utf-8") + "X-Midst-Shipped=package\n",
        encoding="utf-8",
    )
    return build


def written_entry(tmp_path: Path) -> tuple[str, list[str]]:
    entry = (tmp_path / "config" / "autostart" / "midst-desktop.desktop").read_text()
    [exec_line] = [line for line in entry.splitlines() if line.startswith("Exec=")]
    return entry, exec_arguments(exec_line.removeprefix("Exec="))


def test_the_installed_app_copies_the_packages_entry_and_starts_the_installed_program(
    tmp_path: Path, monkeypatch
) -> None:
    prefix = tmp_path / "usr"
    build = installed_tree(prefix)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(build))

    login_item(TEMPLATE, prefix=prefix).set(True)

    entry, command = written_entry(tmp_path)
    assert "X-Midst-Shipped=package" in entry
    assert command == [str(prefix / "bin" / "midst-desktop")]
    assert prints_the_version(command)


def test_another_copy_of_the_app_uses_its_own_entry_and_its_own_path(
    tmp_path: Path, monkeypatch
) -> None:
    prefix = tmp_path / "usr"
    installed_tree(prefix)
    elsewhere = launcher_in(tmp_path / "unpacked")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(elsewhere))

    login_item(TEMPLATE, prefix=prefix).set(True)

    entry, command = written_entry(tmp_path)
    assert "X-Midst-Shipped" not in entry
    assert command == [str(elsewhere)]
