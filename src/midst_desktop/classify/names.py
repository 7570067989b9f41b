"""The parts of file names and '/'-paths, as PurePosixPath gives them, cheaply.

A sync asks for them several times per file; building a PurePosixPath each
time cost more than the rules that read them. The answers are PurePosixPath's
own: a name or path of an unusual shape is handed to it.
"""

from __future__ import annotations

from pathlib import PurePosixPath


def _plain(name: str) -> bool:
    return bool(name) and "/" not in name and name not in {".", ".."}


def stem(name: str) -> str:
    """PurePosixPath(name).stem."""
    if not _plain(name):
        return PurePosixPath(name).stem
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def suffix(name: str) -> str:
    """PurePosixPath(name).suffix."""
    if not _plain(name):
        return PurePosixPath(name).suffix
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def parent(path: str) -> str:
    """str(PurePosixPath(path).parent)."""
    # A '/'-rooted path with no empty or dot parts is already in normal form.
    if not path.startswith("/") or "//" in path or "/." in path or path == "/":
        return str(PurePosixPath(path).parent)
    if path.endswith("/"):
        return str(PurePosixPath(path).parent)
    cut = path.rfind("/")
    return path[:cut] if cut > 0 else "/"
