"""Start at login: the XDG autostart entry, a macOS LaunchAgent, the Windows Run key.

Each is what the desktop itself reads at login, written for the person only
(no administrator rights). The command written is the one that runs this
copy of the app: the installed `/usr/bin/midst-desktop` when this is the
package's build, else the bundled executable, the `midst-desktop` script
beside this interpreter, or this interpreter with `-m midst_desktop`. The
installed package's own autostart entry is the one copied when this copy is
that package.
"""

from __future__ import annotations

import contextlib
import os
import plistlib
import sys
from pathlib import Path
from typing import Protocol

APP_NAME = "midst-desktop"
# The Windows installer's "Start when I sign in" task writes the same value,
# so the setting and the installer agree on one switch.
WINDOWS_RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"
MACOS_LABEL = "org.inmidst.midst-desktop"
# Characters that make the desktop entry format want an argument quoted.
RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
# Where the Linux package puts the program and its offered autostart entry.
INSTALL_PREFIX = Path("/usr")


class LoginItem(Protocol):
    """One platform's way of starting the app when the person logs in."""

    def enabled(self) -> bool: ...

    def set(self, enabled: bool) -> None:
        """Write or remove the entry. Raises OSError."""


def installed_program(prefix: Path = INSTALL_PREFIX) -> Path | None:
    """`<prefix>/bin/midst-desktop` when it starts this very build, else None."""
    if not getattr(sys, "frozen", False):
        return None
    program = prefix / "bin" / APP_NAME
    try:
        same = program.resolve(strict=True) == Path(sys.executable).resolve()
    except OSError:
        return None
    return program if same else None


def launch_command(prefix: Path = INSTALL_PREFIX) -> list[str]:
    """The command that starts this copy of the app."""
    program = installed_program(prefix)
    if program is not None:
        # The link on PATH, not the folder behind it: it survives upgrades.
        return [str(program)]
    if getattr(sys, "frozen", False):
        return [sys.executable]
    # The entry point installed beside this interpreter (a virtualenv's bin/).
    script = Path(sys.executable).parent / APP_NAME
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "midst_desktop"]


def _desktop_exec(command: list[str]) -> str:
    """An Exec value as the desktop entry format reads it.

    Arguments with reserved characters are double-quoted with `"`, `` ` ``,
    `$` and `\\` escaped; `%` is doubled (it starts a field code); then the
    file's own string escaping doubles every backslash again.
    """

    def quoted(argument: str) -> str:
        if argument and not any(c in RESERVED for c in argument):
            return argument
        escaped = "".join("\\" + c if c in '"`$\\' else c for c in argument)
        return f'"{escaped}"'

    value = " ".join(quoted(argument).replace("%", "%%") for argument in command)
    return value.replace("\\", "\\\\")


class XdgAutostart:
    """`$XDG_CONFIG_HOME/autostart/midst-desktop.desktop` (Linux and BSD desktops)."""

    def __init__(self, template: Path, command: list[str], config_home: Path) -> None:
        self.template = template
        self.command = command
        self.path = config_home / "autostart" / f"{APP_NAME}.desktop"

    def enabled(self) -> bool:
        return self.path.is_file()

    def set(self, enabled: bool) -> None:
        if not enabled:
            self.path.unlink(missing_ok=True)
            return
        lines = [
            f"Exec={_desktop_exec(self.command)}" if line.startswith("Exec=") else line
            for line in self.template.read_text(encoding="utf-8").splitlines()
        ]
        _write_atomically(self.path, ("\n".join(lines) + "\n").encode())


class LaunchAgent:
    """`~/Library/LaunchAgents/org.inmidst.midst-desktop.plist` (macOS).

    launchd reads the folder at every login; the app is not started now.
    """

    def __init__(self, command: list[str], home: Path) -> None:
        self.command = command
        self.path = home / "Library" / "LaunchAgents" / f"{MACOS_LABEL}.plist"

    def enabled(self) -> bool:
        return self.path.is_file()

    def set(self, enabled: bool) -> None:
        if not enabled:
            self.path.unlink(missing_ok=True)
            return
        agent = {
            "Label": MACOS_LABEL,
            "ProgramArguments": self.command,
            "RunAtLoad": True,
            # A GUI session only, with the priority of an app the person uses.
            "LimitLoadToSessionType": "Aqua",
            "ProcessType": "Interactive",
        }
        _write_atomically(self.path, plistlib.dumps(agent))


class WindowsRunKey:
    """The `midst-desktop` value under HKCU\\...\\CurrentVersion\\Run (Windows)."""

    def __init__(self, command: list[str]) -> None:
        self.command = command

    def enabled(self) -> bool:
        if sys.platform == "win32":
            import winreg

            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY) as key:
                    winreg.QueryValueEx(key, APP_NAME)
            except FileNotFoundError:
                return False
            return True
        return False

    def set(self, enabled: bool) -> None:
        if sys.platform == "win32":
            import subprocess
            import winreg

            with winreg.CreateKeyEx(
                winreg.HKEY_CURRENT_USER, WINDOWS_RUN_KEY, 0, winreg.KEY_SET_VALUE
            ) as key:
                if enabled:
                    value = subprocess.list2cmdline(self.command)
                    winreg.SetValueEx(key, APP_NAME, 0, winreg.REG_SZ, value)
                    return
                with contextlib.suppress(FileNotFoundError):
                    winreg.DeleteValue(key, APP_NAME)
            return
        raise OSError("the Windows Run key exists only on Windows")


def autostart_template(bundled: Path, prefix: Path = INSTALL_PREFIX) -> Path:
    """The entry the installed package offers, when this copy is that package."""
    shipped = prefix / "share" / APP_NAME / "autostart" / f"{APP_NAME}.desktop"
    if installed_program(prefix) is not None and shipped.is_file():
        return shipped
    return bundled


def login_item(template: Path, prefix: Path = INSTALL_PREFIX) -> LoginItem:
    """This platform's login item, for this copy of the app.

    template is the autostart entry in resources/; the installed package's
    copy under prefix is used instead when this copy is the package's build.
    """
    command = launch_command(prefix)
    if sys.platform == "win32":
        return WindowsRunKey(command)
    if sys.platform == "darwin":
        return LaunchAgent(command, Path.home())
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return XdgAutostart(
        autostart_template(template, prefix), command, Path(config_home)
    )


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
