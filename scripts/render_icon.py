"""Render an SVG icon to PNG files of the given sizes (for installers)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def render(svg: Path, out_dir: Path, sizes: list[int]) -> list[Path]:
    """Write out_dir/<size>/<svg stem>.png for every size; return the paths."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    written = []
    for size in sizes:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        target = out_dir / str(size) / f"{svg.stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(target)):
            raise SystemExit(f"could not write {target}")
        written.append(target)
    del app
    return written


if __name__ == "__main__":
    source, destination, *size_words = sys.argv[1:]
    for path in render(Path(source), Path(destination), [int(s) for s in size_words]):
        print(path)
