"""The tray's state icons, rendered from SVG at every size the screen needs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

log = logging.getLogger(__name__)

STATES = ("idle", "syncing", "attention", "paused")
# Tray and menu sizes, each at 100 % and 200 % scale.
SIZES = (16, 22, 24, 32, 48, 64)


def resources_dir() -> Path:
    """resources/ beside the source tree, or inside the bundled binary."""
    bundled = getattr(sys, "_MEIPASS", None)
    if bundled:
        return Path(bundled) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"


def icon_path(state: str, theme: str) -> Path:
    return resources_dir() / "icons" / f"tray-{state}-{theme}.svg"


def panel_is_dark() -> bool:
    app = QGuiApplication.instance()
    if not isinstance(app, QGuiApplication):
        return False
    return bool(app.styleHints().colorScheme() == Qt.ColorScheme.Dark)


def render(svg: Path, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        log.warning("The icon %s cannot be read", svg.name)
        return image
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def state_icon(state: str, dark: bool | None = None) -> QIcon:
    """The icon of a tray state, sharp at 100 % and 200 % scale."""
    theme = "dark" if (panel_is_dark() if dark is None else dark) else "light"
    svg = icon_path(state, theme)
    icon = QIcon()
    for size in SIZES:
        for scale in (1, 2):
            pixmap = QPixmap.fromImage(render(svg, size * scale))
            pixmap.setDevicePixelRatio(scale)
            icon.addPixmap(pixmap)
    if icon.availableSizes() == [] or not svg.is_file():
        log.warning("No icon for the tray state %s", state)
    return icon


def write_pngs(out_dir: Path) -> list[Path]:
    """Write every state icon as PNG sizes (installers, themes without SVG).

    Sizes at 200 % are just the larger sizes, so each size is written once.
    """
    sizes = sorted({size * scale for size in SIZES for scale in (1, 2)})
    written = []
    for svg in sorted((resources_dir() / "icons").glob("tray-*.svg")):
        for size in sizes:
            target = out_dir / f"{size}x{size}" / f"{svg.stem}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            render(svg, size).save(str(target))
            written.append(target)
    return written
