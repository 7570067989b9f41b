"""Extraction during a sync: content hashed once, spooled privately, read in the worker.

The engine reads each new or changed file once. While it hashes the bytes,
a file that an extractor reads is copied into a private spool file in the
cache dir, which the worker process opens and which is deleted right after:
the worker never opens a source path itself, so a file swapped or changed
during the run cannot mislead or block it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from midst_desktop.classify.extract import extraction_format
from midst_desktop.classify.extract.base import Extraction
from midst_desktop.classify.extract.isolation import ExtractorPool, Limits
from midst_desktop.classify.sniff import SNIFF_BYTES, sniff

log = logging.getLogger(__name__)

READ_CHUNK = 1024 * 1024
SPOOL_DIR_NAME = "extract"


@dataclass(frozen=True, slots=True)
class ReadContent:
    """One pass over a file: its SHA-256, its first bytes, and its extraction."""

    content_hash: str
    head: bytes
    extraction: Extraction | None


class ContentExtractor:
    """Hashes, spools and extracts files for one sync run; close() when done.

    Not thread-safe. The worker process starts on the first file extracted.
    """

    def __init__(self, cache_dir: Path, limits: Limits | None = None) -> None:
        self.spool_dir = cache_dir / SPOOL_DIR_NAME
        self.pool = ExtractorPool(limits)
        self.extracted = 0
        self.failed = 0

    def close(self) -> None:
        self.pool.close()

    def __enter__(self) -> ContentExtractor:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @staticmethod
    def wants(name: str, head: bytes) -> str | None:
        """The format to extract the file as, or None when nothing reads it."""
        return extraction_format(name, sniff(head[:SNIFF_BYTES]))

    def read(self, stream: BinaryIO, name: str, limit: int) -> ReadContent:
        """Hash a stream up to limit bytes and extract it when an extractor reads it.

        Raises OSError when the stream or the spool cannot be read or written.
        """
        digest = hashlib.sha256()
        first = stream.read(READ_CHUNK)
        digest.update(first)
        head = first[:SNIFF_BYTES]
        fmt = self.wants(name, head)
        if fmt is None:
            _hash_rest(stream, digest, len(first), limit)
            return ReadContent(digest.hexdigest(), head, None)

        self.spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The spool's name is ours, never the source's: no path tricks.
        descriptor, spool_name = tempfile.mkstemp(dir=self.spool_dir, suffix=".spool")
        spool = Path(spool_name)
        try:
            with os.fdopen(descriptor, "wb") as out:
                out.write(first)
                _hash_rest(stream, digest, len(first), limit, out)
            extraction = self.pool.extract(spool, name, fmt)
        finally:
            with contextlib.suppress(FileNotFoundError):
                spool.unlink()
        self.extracted += 1
        if extraction.failed:
            self.failed += 1
        return ReadContent(digest.hexdigest(), head, extraction)


def _hash_rest(
    stream: BinaryIO,
    digest: hashlib._Hash,
    total: int,
    limit: int,
    out: BinaryIO | None = None,
) -> None:
    while total <= limit:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return
        digest.update(chunk)
        if out is not None:
            out.write(chunk)
        total += len(chunk)
