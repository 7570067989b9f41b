"""Render the review window, the tray menu and the settings under Xvfb, into
docs/screenshots/*.png, over real artifacts synced from sample files.

Usage: .venv/bin/python scripts/screenshots.py [OUT_DIR]
Needs Xvfb and ImageMagick's import (scripts/system-deps.sh test installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCREEN = "1440x900x24"
DISPLAY_NUMBER = 77

EXTRA_FILES = {
    "writing/river-ode.txt": (
        "Ode to the river\n\nThe river bends and sings,\nand carries the evening "
        "light\ndown to the sea.\n"
    ),
    "writing/notes-on-light.md": (
        "# Notes on light\n\nA short essay on how painters keep the light of a room.\n"
    ),
    "papers/layered-sediments.md": (
        "On Layered Sediments\nAbstract\nWe measure layered sediments under "
        "cyclic load.\ndoi:10.1234/sediments.2021.042\nReferences\n[1] C. "
        "Author. Soil Mechanics. 1998.\n"
    ),
    "data/strain.csv": "load,strain\n1,0.10\n2,0.20\n3,0.31\n4,0.39\n",
    "code/plot_strain.py": (
        "import csv\n\n\ndef read(path):\n    with open(path) as f:\n"
        "        return list(csv.DictReader(f))\n"
    ),
}


def start_xvfb() -> subprocess.Popen[bytes]:
    if not shutil.which("Xvfb") or not shutil.which("import"):
        raise SystemExit("Xvfb and ImageMagick's import are needed (system-deps.sh)")
    server = subprocess.Popen(
        ["Xvfb", f":{DISPLAY_NUMBER}", "-screen", "0", SCREEN, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # The X server's own socket path, fixed by X11.
    socket = Path(f"/tmp/.X11-unix/X{DISPLAY_NUMBER}")  # noqa: S108
    for _ in range(100):
        if socket.exists():
            break
        time.sleep(0.05)
    else:
        server.kill()
        raise SystemExit("Xvfb did not start")
    return server


def photograph(window_id: int, target: Path) -> None:
    subprocess.run(
        ["import", "-window", str(window_id), str(target)],
        check=True,
        env={**os.environ, "DISPLAY": f":{DISPLAY_NUMBER}"},
    )
    print(
        f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
    )


def render(out_dir: Path, work: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from make_samples import make_samples, png_bytes
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from midst_desktop.agent import Agent
    from midst_desktop.config import load_settings
    from midst_desktop.store import queries
    from midst_desktop.store.db import open_database
    from midst_desktop.store.models import Integration
    from midst_desktop.sync.engine import SyncEngine
    from midst_desktop.sync.registry import provider_for
    from midst_desktop.ui.review import ReviewWindow
    from midst_desktop.ui.settings import SettingsWindow
    from midst_desktop.ui.tray import TrayController

    folder = work / "Portfolio"
    make_samples(folder)
    (folder / "art").mkdir()
    (folder / "art" / "harbour-study.png").write_bytes(png_bytes(480, 320))
    for name, text in EXTRA_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    settings = load_settings(
        data_dir=str(work / "data"),
        database_url=f"sqlite:///{work / 'midst.db'}",
        environ={},
    )
    database = open_database(settings.database_url)
    with database.write() as session:
        integration = Integration(
            provider="local",
            display_name="Portfolio",
            account_label=os.environ.get("USER") or "me",
            root_path=str(folder),
            folder_config={"excluded_patterns": [], "max_file_size_mb": 100},
        )
        session.add(integration)
        session.flush()
        integration_id = integration.id
    SyncEngine(database, settings, provider_for).sync(integration_id, "full", "manual")
    with database.write() as session:
        rows = queries.list_artifacts(session, queries.ArtifactFilter(), 3)
        queries.move_status(session, [rows[-1].id], "approved")

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setStyle("Fusion")
    agent = Agent(database, settings)

    def settle(seconds: float = 1.0) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    review = ReviewWindow(database, settings, learn=False)
    review.resize(1280, 720)
    review.move(0, 0)
    review.show()
    settle(1.5)
    picture = next(
        (n for n, r in enumerate(review.model.rows) if "harbour" in r.title),
        0,
    )
    review.table.selectRow(picture)
    review.table.setFocus()
    settle(1.0)
    photograph(int(review.winId()), out_dir / "review.png")

    # A text file: its preview is the start of its text.
    poem = next(
        (n for n, r in enumerate(review.model.rows) if "river" in r.title.lower()),
        0,
    )
    review.table.selectRow(poem)
    settle(1.0)
    photograph(int(review.winId()), out_dir / "review-text.png")

    # The PDF's first page is drawn in a worker process: wait until it shows.
    for number in range(len(review.model.rows)):
        review.table.selectRow(number)
        settle(0.3)
        detail = review.detail
        if detail is not None and detail.is_local_pdf:
            end = time.monotonic() + 20
            while review.page_shown is None and time.monotonic() < end:
                settle(0.1)
            settle(0.5)
            photograph(int(review.winId()), out_dir / "review-pdf.png")
            break
    review.hide()

    tray = TrayController(
        database,
        settings,
        agent.scheduler,
        lambda: None,
        lambda: None,
        lambda: None,
        use_tray=False,
    )
    settle(1.0)
    tray.menu.popup(QPoint(40, 40))
    settle(0.5)
    tray.sync_menu.popup(QPoint(40 + tray.menu.width(), 80))
    settle(0.5)
    photograph(int(tray.menu.winId()), out_dir / "tray-menu.png")
    tray.sync_menu.hide()
    tray.menu.hide()

    settings_window = SettingsWindow(database, settings, agent.scheduler)
    settings_window.resize(900, 560)
    settings_window.move(0, 0)
    settings_window.show()
    settle(1.0)
    settings_window.patterns_edit.setPlainText("*.wav\n/code/*")
    settle(1.0)
    photograph(int(settings_window.winId()), out_dir / "settings.png")
    settings_window.show_onboarding()
    settle(0.5)
    photograph(int(settings_window.winId()), out_dir / "onboarding.png")

    write_icon_strip(out_dir / "tray-icons.png")
    from midst_desktop.ui.icons import write_pngs

    write_pngs(ROOT / "resources" / "icons" / "png")
    review.shutdown()
    tray.shutdown()
    settings_window.shutdown()
    database.dispose()


def write_icon_strip(target: Path) -> None:
    """The four tray states on a light and a dark panel, at 200 % scale."""
    from PySide6.QtGui import QColor, QImage, QPainter

    from midst_desktop.ui.icons import STATES, icon_path, render

    size, gap = 48, 16
    image = QImage(
        gap + len(STATES) * (size + gap), 2 * (size + gap), QImage.Format.Format_RGB32
    )
    painter = QPainter(image)
    for row, (theme, panel) in enumerate((("light", "#eceff1"), ("dark", "#263238"))):
        top = row * (size + gap)
        painter.fillRect(0, top, image.width(), size + gap, QColor(panel))
        for column, state in enumerate(STATES):
            picture = render(icon_path(state, theme), size)
            painter.drawImage(gap + column * (size + gap), top + gap // 2, picture)
    painter.end()
    image.save(str(target))
    print(
        f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}"
    )


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out_dir.mkdir(parents=True, exist_ok=True)
    server = start_xvfb()
    os.environ["DISPLAY"] = f":{DISPLAY_NUMBER}"
    os.environ.pop("WAYLAND_DISPLAY", None)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        with tempfile.TemporaryDirectory() as work:
            render(out_dir, Path(work))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
