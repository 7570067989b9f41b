"""The first page of a PDF as a small picture, drawn in a worker process.

PDFium parses whatever the file holds, so a hostile PDF must not reach the
caller's process (the review window's): the page is drawn in a worker under
the extraction worker's memory and CPU limits, with a wall-clock timeout,
and only the pixels come back. A worker that hangs or crashes is killed and
the next preview starts a new one. Nothing here imports Qt.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import stat as stat_module
import threading
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from midst_desktop.classify.extract.isolation import (
    START_TIMEOUT_SECONDS,
    apply_cpu_limit,
    apply_memory_limit,
)

log = logging.getLogger(__name__)

RENDER_TIMEOUT_SECONDS = 5.0
RENDER_MEMORY_MB = 512
# The longest side a page is drawn at; the pane shows it at most this large.
MAX_RENDER_SIDE = 1024
CACHE_ENTRIES = 24


@dataclass(frozen=True)
class PageImage:
    """Pixels of a drawn page: RGB, three bytes a pixel, rows `stride` apart."""

    width: int
    height: int
    stride: int
    pixels: bytes


def draw_first_page(path: str, side: int) -> PageImage:
    """Draw page one of the PDF at path to fit a side x side box.

    Raises ValueError for a file that has no page to draw, and PDFium's own
    error for a file it cannot open (damaged, encrypted).
    """
    import pypdfium2  # type: ignore[import-untyped]

    side = max(16, min(side, MAX_RENDER_SIDE))
    document = pypdfium2.PdfDocument(path)
    try:
        if len(document) == 0:
            raise ValueError("the PDF has no pages")
        page = document[0]
        width, height = page.get_size()
        if not (width > 0 and height > 0):
            raise ValueError("the first page has no size")
        # The scale follows from the box, so a page that claims to be huge is
        # still drawn no larger than the box.
        scale = min(side / width, side / height)
        bitmap = page.render(scale=scale, rev_byteorder=True)
        if bitmap.mode != "RGB":
            raise ValueError(f"PDFium drew the page as {bitmap.mode}")
        drawn = PageImage(
            int(bitmap.width),
            int(bitmap.height),
            int(bitmap.stride),
            bytes(bitmap.buffer),
        )
        bitmap.close()
        page.close()
        return drawn
    finally:
        document.close()


def _serve(connection: Connection, memory_mb: int, seconds: float) -> None:
    """The worker's loop: a path and a box in, a page's pixels or an error out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    apply_memory_limit(memory_mb)
    import pypdfium2  # noqa: F401  (loaded before "ready", not during a render)

    connection.send(("ready", None))
    while True:
        try:
            path, side = connection.recv()
        except (EOFError, OSError):
            return
        apply_cpu_limit(seconds)
        try:
            connection.send(("page", draw_first_page(path, side)))
        except MemoryError:
            connection.send(("error", "the page needs too much memory"))
            return
        except Exception as error:  # this file's failure, not the worker's
            connection.send(("error", f"{type(error).__name__}: {error}"[:300]))


class PreviewRenderer:
    """Draws first pages in one worker process, started on first use; small cache.

    Thread-safe: callers take turns. `render` blocks for up to the timeout,
    so it belongs on a worker thread, never the GUI thread. It returns None
    for a file that cannot be drawn, and never raises for a bad file.
    """

    def __init__(
        self,
        timeout_seconds: float = RENDER_TIMEOUT_SECONDS,
        memory_mb: int = RENDER_MEMORY_MB,
        cache_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.cache_entries = cache_entries
        self.restarts = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._connection: Connection | None = None
        self._cache: OrderedDict[tuple[str, int, int, int], PageImage | None] = (
            OrderedDict()
        )

    def render(self, path: str, side: int) -> PageImage | None:
        """The first page of the PDF at path, fitted to side, or None."""
        try:
            stat = Path(path).stat()
        except OSError as error:
            self.last_error = str(error)
            return None
        if not stat_module.S_ISREG(stat.st_mode):
            self.last_error = "not a regular file"
            return None
        key = (path, stat.st_mtime_ns, stat.st_size, side)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            image = self._render(path, side)
            self._cache[key] = image
            while len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)
            return image

    def _render(self, path: str, side: int) -> PageImage | None:
        try:
            connection = self._connection or self._start()
            connection.send((path, side))
            if not connection.poll(self.timeout_seconds):
                self._stop()
                return self._failed(
                    path, f"drawing took longer than {self.timeout_seconds:g} s"
                )
            kind, value = connection.recv()
        except (EOFError, OSError, RuntimeError) as error:
            exitcode = self._process.exitcode if self._process is not None else None
            self._stop()
            return self._failed(path, f"the worker stopped ({exitcode}): {error}")
        if kind != "page":
            return self._failed(path, str(value))
        self.last_error = None
        return value if isinstance(value, PageImage) else None

    def _failed(self, path: str, message: str) -> PageImage | None:
        """Note why a file has no preview; None, to return for it."""
        self.last_error = message
        log.warning("No PDF preview for %s: %s", path, message)
        return None

    def _start(self) -> Connection:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve,
            args=(child, self.memory_mb, self.timeout_seconds),
            name="midst-preview",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._connection = process, parent
        if not parent.poll(START_TIMEOUT_SECONDS):
            self._stop()
            raise RuntimeError("the preview worker did not start")
        parent.recv()
        return parent

    def _stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self.restarts += 1
        self._process = self._connection = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        """Stop the worker; a later render starts a new one."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            if self._process is not None:
                self._process.join(timeout=2)
                if self._process.is_alive():
                    self._process.kill()
                    self._process.join()
                self._process = None
