"""Classifying files on disk without storing them (`midst-desktop classify`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from midst_desktop.classify.rules import SNIFF_BYTES, classify

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)


def read_head(path: Path) -> bytes:
    """The first bytes of a regular file. Raises OSError or ValueError."""
    descriptor = os.open(path, OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError("not a regular file")
        os.set_blocking(descriptor, True)
        return os.read(descriptor, SNIFF_BYTES)
    finally:
        os.close(descriptor)


def classify_path(path: Path) -> dict[str, Any]:
    """{"path", "artifact_type", "confidence"}, or {"path", "error"}."""
    try:
        head = read_head(path)
    except OSError as error:
        return {"path": str(path), "error": error.strerror or str(error)}
    except ValueError as error:
        return {"path": str(path), "error": str(error)}
    verdict = classify(path.name, str(path), None, head)
    return {
        "path": str(path),
        "artifact_type": str(verdict.artifact_type),
        "confidence": verdict.confidence,
        "mime_type": verdict.mime_type,
    }
