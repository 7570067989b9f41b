"""Audio and video: duration and tags with mutagen; Matroska and AVI headers by hand."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import mutagen

from midst_desktop.classify.extract.base import (
    ExtractError,
    Extraction,
    clean,
    parse_date,
)

# Matroska and AVI keep what we need in their first bytes.
HEADER_BYTES = 256 * 1024
EBML_HEADER, EBML_SEGMENT, EBML_CLUSTER = 0x1A45DFA3, 0x18538067, 0x1F43B675
EBML_INFO, EBML_TRACKS, EBML_TRACK_ENTRY = 0x1549A966, 0x1654AE6B, 0xAE
EBML_TIMECODE_SCALE, EBML_DURATION, EBML_TITLE, EBML_TRACK_TYPE = (
    0x2AD7B1,
    0x4489,
    0x7BA9,
    0x83,
)
VIDEO_FORMATS = {"mp4", "m4v", "mov", "mkv", "webm", "avi", "wmv", "flv", "ogv", "3gp"}
MEDIA_ERRORS = (
    mutagen.MutagenError,
    OSError,
    ValueError,
    EOFError,
    struct.error,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    ZeroDivisionError,
)


def extract_media(path: Path, fmt: str) -> Extraction:
    if fmt in {"mkv", "webm"}:
        return _matroska(path, fmt)
    if fmt == "avi":
        return _avi(path)
    try:
        media = mutagen.File(path, easy=True)
    except MEDIA_ERRORS as error:
        raise ExtractError(f"not a readable media file ({_short(error)})") from None
    if media is None:
        raise ExtractError("not a media format this app reads")
    result = Extraction(format=fmt)
    length = getattr(media.info, "length", None)
    if isinstance(length, (int, float)) and length > 0:
        result.metadata["duration_seconds"] = round(float(length), 2)
    tags: Any = media.tags or {}
    result.title = clean(_first(tags, "title"), 300)
    artist = clean(_first(tags, "artist"), 200)
    if artist:
        result.metadata["artist"] = artist
        result.authors = [artist]
    album = clean(_first(tags, "album"), 200)
    if album:
        result.metadata["album"] = album
    result.captured = parse_date(_first(tags, "date"))
    result.metadata["has_video"] = fmt in VIDEO_FORMATS
    return result


def _first(tags: Any, key: str) -> str | None:
    try:
        values = tags.get(key)
    except (KeyError, ValueError, TypeError):
        return None
    if isinstance(values, list):
        return str(values[0]) if values else None
    return str(values) if values else None


def _read_head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(HEADER_BYTES)


def _vint(data: bytes, position: int, marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at position: (value, its length)."""
    first = data[position]
    length = 1
    while length <= 8 and not first & (0x80 >> (length - 1)):
        length += 1
    if length > 8:
        raise ExtractError("not a Matroska file (bad element header)")
    value = first if marker else first & (0xFF >> length)
    for byte in data[position + 1 : position + length]:
        value = (value << 8) | byte
    if position + length > len(data):
        raise ExtractError("the Matroska header is cut off")
    return value, length


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(id, data start, data end) of the elements between start and end."""
    found = []
    position = start
    while position < min(end, len(data)) - 1:
        element_id, id_length = _vint(data, position, marker=True)
        size, size_length = _vint(data, position + id_length, marker=False)
        body = position + id_length + size_length
        unknown = size == (1 << (7 * size_length)) - 1
        stop = end if unknown else body + size
        found.append((element_id, body, stop))
        if element_id == EBML_CLUSTER:
            break
        position = stop if not unknown else body
        if element_id == EBML_SEGMENT:
            position = body
    return found


def _matroska(path: Path, fmt: str) -> Extraction:
    data = _read_head(path)
    try:
        top = _elements(data, 0, len(data))
    except IndexError:
        raise ExtractError("the Matroska header is cut off") from None
    if not top or top[0][0] != EBML_HEADER:
        raise ExtractError("not a Matroska or WebM file")
    result = Extraction(format=fmt)
    scale = 1_000_000
    duration = None
    video = False
    try:
        for element_id, body, stop in top:
            if element_id == EBML_INFO:
                for child, child_body, child_stop in _elements(data, body, stop):
                    value = data[child_body:child_stop]
                    if child == EBML_TIMECODE_SCALE and value:
                        scale = int.from_bytes(value, "big")
                    elif child == EBML_DURATION and len(value) in {4, 8}:
                        duration = struct.unpack(
                            ">f" if len(value) == 4 else ">d", value
                        )[0]
                    elif child == EBML_TITLE:
                        result.title = clean(value.decode("utf-8", "replace"), 300)
            elif element_id == EBML_TRACKS:
                for entry, entry_body, entry_stop in _elements(data, body, stop):
                    if entry != EBML_TRACK_ENTRY:
                        continue
                    for child, child_body, child_stop in _elements(
                        data, entry_body, entry_stop
                    ):
                        if (
                            child == EBML_TRACK_TYPE
                            and data[child_body:child_stop] == b"\x01"
                        ):
                            video = True
    except IndexError:
        raise ExtractError("the Matroska header is cut off") from None
    if duration is not None and duration > 0:
        result.metadata["duration_seconds"] = round(duration * scale / 1e9, 2)
    result.metadata["has_video"] = video
    return result


def _avi(path: Path) -> Extraction:
    data = _read_head(path)
    if data[:4] != b"RIFF" or data[8:12] != b"AVI ":
        raise ExtractError("not an AVI file")
    position = data.find(b"avih")
    if position < 0 or position + 8 + 20 > len(data):
        raise ExtractError("the AVI header is missing")
    micros, _, _, _, frames = struct.unpack_from("<5I", data, position + 8)
    result = Extraction(format="avi")
    if micros and frames:
        result.metadata["duration_seconds"] = round(micros * frames / 1e6, 2)
    result.metadata["has_video"] = True
    return result


def _short(error: BaseException) -> str:
    text = str(error).splitlines()[0][:160] if str(error) else ""
    if text:
        return text
    # mutagen says nothing when a tag or header ends before its declared size.
    if isinstance(error, mutagen.MutagenError):
        return "cut off or damaged"
    return type(error).__name__
