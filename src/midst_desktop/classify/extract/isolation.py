"""A worker process that runs extractors under memory and CPU limits.

One worker serves many files in turn, so its start-up cost is paid once. A
file that takes too long, exhausts the memory limit or crashes the parser
costs that one file: the worker is killed (or has died), the file's result
says why, and the next file gets a fresh worker.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from midst_desktop.classify.extract.base import MEMORY_MESSAGE, Extraction, failure

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_MEMORY_MB = 1024
# A worker's reply is at most the clipped text plus metadata.
MAX_REPLY_BYTES = 4 * 1024 * 1024
START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-file wall-clock and CPU time, and the worker's address space.

    The CPU limit is the timeout unless set apart (which the tests do, to
    reach it before the clock runs out).
    """

    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB
    cpu_seconds: float | None = None

    @property
    def cpu(self) -> float:
        return (
            self.cpu_seconds if self.cpu_seconds is not None else self.timeout_seconds
        )


def apply_memory_limit(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: the process boundary and the timeout remain
        return
    limit = memory_mb * 1024 * 1024
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):  # macOS does not enforce RLIMIT_AS
        log.debug("The extraction worker runs without a memory limit")


def apply_cpu_limit(seconds: float) -> None:
    """Allow this many more CPU seconds; SIGXCPU ends the worker beyond them."""
    try:
        import resource
    except ImportError:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(used + seconds) + 1
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
    except (ValueError, OSError):
        pass


def serve(connection: Connection, limits: Limits) -> None:
    """The worker's loop: one request in, one reply out, until the pipe closes."""
    # The parent handles Ctrl-C; a worker in the middle of a file must not die
    # with a traceback on the terminal.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    apply_memory_limit(limits.memory_mb)
    from midst_desktop.classify.extract import extract_file

    connection.send_bytes(b'{"ready": true}')
    while True:
        try:
            request = json.loads(connection.recv_bytes())
        except (EOFError, OSError):
            return
        apply_cpu_limit(limits.cpu)
        try:
            result = extract_file(
                Path(request["path"]), request.get("name"), request.get("format")
            )
        except MemoryError:
            result = failure("unknown", MEMORY_MESSAGE)
        except Exception as error:  # a parser bug: this file's failure only
            result = failure(
                "unknown", f"the extractor failed ({type(error).__name__})"
            )
        reply = json.dumps(result.to_wire()).encode()
        if len(reply) > MAX_REPLY_BYTES:
            result.text = result.text[: len(result.text) // 2]
            reply = json.dumps(result.to_wire()).encode()
        connection.send_bytes(reply)
        if result.error == MEMORY_MESSAGE:
            return  # a fresh worker, rather than one whose heap is fragmented


class ExtractorPool:
    """Runs extraction in one worker process, started on first use.

    Not thread-safe: one caller at a time. `extract` blocks for up to the
    timeout and never raises for a bad file.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._connection: Connection | None = None
        self.restarts = 0

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _start(self) -> Connection:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=serve, args=(child, self.limits), name="midst-extract", daemon=True
        )
        process.start()
        child.close()
        if not parent.poll(START_TIMEOUT_SECONDS):
            process.kill()
            process.join()
            raise RuntimeError("the extraction worker did not start")
        try:
            parent.recv_bytes()
        except EOFError:
            process.join()
            raise RuntimeError(
                f"the extraction worker stopped at start (exit {process.exitcode})"
            ) from None
        self._process, self._connection = process, parent
        return parent

    def _stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
        self._process = self._connection = None

    def close(self) -> None:
        """Stop the worker; a later extract starts a new one."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._process is not None:
            self._process.join(timeout=2)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def extract(
        self, path: Path, name: str | None = None, fmt: str | None = None
    ) -> Extraction:
        """Text and metadata of one file; on any trouble, a result with error set."""
        connection = self._connection or self._start()
        request = json.dumps(
            {"path": os.fspath(path), "name": name or path.name, "format": fmt}
        ).encode()
        try:
            connection.send_bytes(request)
            if not connection.poll(self.limits.timeout_seconds):
                self._stop()
                self.restarts += 1
                return failure(
                    fmt or "unknown",
                    f"extraction took longer than {self.limits.timeout_seconds:g} s",
                )
            reply = connection.recv_bytes(MAX_REPLY_BYTES)
        except (EOFError, OSError):
            process = self._process
            if process is not None:
                process.join(timeout=5)
            exitcode = process.exitcode if process is not None else None
            self._stop()
            self.restarts += 1
            return failure(fmt or "unknown", _death(exitcode, self.limits))
        result = Extraction.from_wire(json.loads(reply))
        if result.error == MEMORY_MESSAGE:
            self._stop()
            self.restarts += 1
        return result


def _death(exitcode: int | None, limits: Limits) -> str:
    cpu_signal = getattr(signal, "SIGXCPU", None)
    if cpu_signal is not None and exitcode == -cpu_signal:
        return f"extraction used more than {limits.cpu:g} s of CPU"
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the extractor crashed ({name})"
    return f"the extractor stopped unexpectedly (exit {exitcode})"
