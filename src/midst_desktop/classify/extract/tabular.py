"""Tabular data: CSV, TSV, JSON (and JSON lines), Parquet by its footer magic."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

from midst_desktop.classify.extract.base import (
    MAX_TEXT_BYTES,
    ExtractError,
    Extraction,
    clean,
    clip,
)
from midst_desktop.classify.extract.text import read_text
from midst_desktop.classify.sniff import PARQUET_MAGIC, table_delimiter

MAX_COLUMNS_SHOWN = 50
# Rows are counted over the text read (MAX_TEXT_BYTES); beyond it, estimated.
TEXT_FOR_SEARCH = 8_000


def extract_table(path: Path, fmt: str) -> Extraction:
    if fmt == "parquet":
        return _parquet(path)
    raw = read_text(path)
    if fmt == "json":
        return _json(raw, path.stat().st_size)
    return _delimited(raw, fmt, path.stat().st_size)


def _delimited(raw: str, fmt: str, size: int) -> Extraction:
    delimiter = table_delimiter(raw[:8192]) or ("\t" if fmt == "tsv" else ",")
    reader: Iterable[list[str]]
    if delimiter == " ":
        reader = (line.split() for line in raw.splitlines() if line.strip())
    else:
        reader = csv.reader(io.StringIO(raw), delimiter=delimiter)
    rows = 0
    columns = 0
    header: list[str] = []
    try:
        for row in reader:
            if rows == 0:
                header = row
            columns = max(columns, len(row))
            rows += 1
    except csv.Error as error:
        raise ExtractError(f"not readable as {fmt.upper()} ({error})") from None
    result = Extraction(format=fmt, text=clip(raw, TEXT_FOR_SEARCH))
    result.metadata["rows"] = _estimate(rows, len(raw), size)
    result.metadata["columns"] = columns
    result.metadata["column_names"] = [
        name
        for name in (clean(cell, 80) for cell in header[:MAX_COLUMNS_SHOWN])
        if name
    ]
    return result


def _estimate(rows: int, read: int, size: int) -> int:
    if size <= MAX_TEXT_BYTES or read == 0:
        return rows
    return int(rows * size / read)


def _json(raw: str, size: int) -> Extraction:
    result = Extraction(format="json", text=clip(raw, TEXT_FOR_SEARCH))
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        lines = [line for line in raw.splitlines() if line.strip()]
        if size > MAX_TEXT_BYTES and lines:
            lines = lines[:-1]  # the last line read may be cut off
        try:
            records = [json.loads(line) for line in lines]
        except (json.JSONDecodeError, RecursionError):
            if size > MAX_TEXT_BYTES:
                return result  # too large to parse whole: known by its shape only
            raise ExtractError("not valid JSON") from None
        result.format = "jsonl"
        document = records
    if isinstance(document, list):
        result.metadata["rows"] = len(document)
        objects = [row for row in document[:100] if isinstance(row, dict)]
        if objects:
            keys = sorted({key for row in objects for key in row})
            result.metadata["columns"] = len(keys)
            result.metadata["column_names"] = keys[:MAX_COLUMNS_SHOWN]
    elif isinstance(document, dict):
        result.metadata["columns"] = len(document)
        result.metadata["column_names"] = list(document)[:MAX_COLUMNS_SHOWN]
    return result


def _parquet(path: Path) -> Extraction:
    """Parquet is known by its magic at both ends; its schema is not read."""
    with path.open("rb") as handle:
        start = handle.read(4)
        handle.seek(0, io.SEEK_END)
        if handle.tell() < 12:
            raise ExtractError("the Parquet file is cut off")
        handle.seek(-4, io.SEEK_END)
        end = handle.read(4)
    if start != PARQUET_MAGIC or end != PARQUET_MAGIC:
        raise ExtractError("not a Parquet file, or one that is cut off")
    return Extraction(format="parquet")
