"""Reading zip containers in memory with zip-bomb limits, and XML without entities."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from midst_desktop.classify.extract.base import ExtractError

MAX_MEMBERS = 10_000
# Only what an extractor reads counts against these; large embedded pictures
# are never opened.
MAX_MEMBER_BYTES = 64 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
# Text-heavy XML compresses about 10:1; 100:1 on a large member is a bomb.
MAX_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024

# What zipfile and zlib raise on broken archives (measured by fuzzing).
ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    UnicodeDecodeError,
    KeyError,
    IndexError,
    OverflowError,
    RuntimeError,
)
try:
    import lzma

    ZIP_ERRORS = (*ZIP_ERRORS, lzma.LZMAError)
except ImportError:  # Python built without lzma: zipfile cannot raise it either
    pass


class SafeZip:
    """A zip archive opened for reading a few members, within the bomb limits."""

    def __init__(self, path: Path) -> None:
        try:
            self.archive = zipfile.ZipFile(path)
            self.infos = self.archive.infolist()
        except ZIP_ERRORS as error:
            raise ExtractError(f"not a readable zip archive ({_why(error)})") from None
        if len(self.infos) > MAX_MEMBERS:
            raise ExtractError(f"the archive has more than {MAX_MEMBERS} members")
        total = sum(info.file_size for info in self.infos)
        if total > MAX_TOTAL_BYTES:
            raise ExtractError("the archive declares more than 1 GiB of content")
        self.by_name = {info.filename: info for info in self.infos}

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *_: object) -> None:
        self.archive.close()

    def names(self) -> list[str]:
        return list(self.by_name)

    def has(self, name: str) -> bool:
        return name in self.by_name

    def _check(self, name: str) -> zipfile.ZipInfo:
        info = self.by_name.get(name)
        if info is None:
            raise ExtractError(f"the archive has no {name}")
        if info.flag_bits & 0x1:
            raise ExtractError("the file is encrypted")
        if info.file_size > MAX_MEMBER_BYTES:
            raise ExtractError(f"{name} declares more than 64 MiB")
        compressed = max(info.compress_size, 1)
        if (
            info.file_size > RATIO_FLOOR_BYTES
            and info.file_size / compressed > MAX_RATIO
        ):
            raise ExtractError(
                f"{name} expands more than {MAX_RATIO} times: a zip bomb"
            )
        return info

    def read(self, name: str) -> bytes:
        """A member's bytes; never more than its (checked) declared size."""
        info = self._check(name)
        try:
            with self.archive.open(info) as member:
                data = member.read(info.file_size + 1)
        except ZIP_ERRORS as error:
            raise ExtractError(f"cannot read {name} ({_why(error)})") from None
        if len(data) > info.file_size:
            raise ExtractError(f"{name} is larger than it declares")
        return data

    def read_start(self, name: str, size: int) -> bytes:
        """The first bytes of a member, without reading the rest."""
        info = self._check(name)
        try:
            with self.archive.open(info) as member:
                return member.read(size)
        except ZIP_ERRORS as error:
            raise ExtractError(f"cannot read {name} ({_why(error)})") from None

    def open(self, name: str) -> IO[bytes]:
        info = self._check(name)
        try:
            return self.archive.open(info)
        except ZIP_ERRORS as error:
            raise ExtractError(f"cannot read {name} ({_why(error)})") from None

    def xml(self, name: str) -> Element:
        """A member parsed as XML, refusing DTD entities (billion laughs)."""
        return parse_xml(self.read(name), name)

    def iter_xml(self, name: str) -> Iterator[tuple[str, Element]]:
        """Streaming parse of a member: (event, element) with start and end events."""
        stream = self.open(name)
        try:
            parser: Any = SafeET.iterparse(stream, events=("start", "end"))
            yield from parser
        except DefusedXmlException:
            raise ExtractError(f"{name} declares XML entities; refused") from None
        except SafeET.ParseError as error:
            raise ExtractError(f"{name} is not well-formed XML ({error})") from None
        except ZIP_ERRORS as error:
            raise ExtractError(f"cannot read {name} ({_why(error)})") from None
        except LookupError:  # found by fuzzing: <?xml encoding="no-such"?>
            raise ExtractError(f"{name} declares an unknown encoding") from None
        finally:
            stream.close()


def parse_xml(data: bytes, what: str = "the XML") -> Element:
    try:
        root: Element = SafeET.fromstring(data)
    except DefusedXmlException:
        raise ExtractError(f"{what} declares XML entities; refused") from None
    except SafeET.ParseError as error:
        raise ExtractError(f"{what} is not well-formed XML ({error})") from None
    except LookupError:  # found by fuzzing: <?xml encoding="no-such"?>
        raise ExtractError(f"{what} declares an unknown encoding") from None
    return root


def local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def texts(
    events: Iterator[tuple[str, Element]],
    text_tags: frozenset[str],
    paragraph_tags: frozenset[str],
    limit: int,
) -> str:
    """Text of the text_tags elements, one line per paragraph_tags element.

    With no text_tags, a paragraph's whole text is taken (ODF's mixed content).
    """
    parts: list[str] = []
    size = 0
    depth = 0
    for event, element in events:
        name = local(element.tag)
        if name in paragraph_tags:
            depth += 1 if event == "start" else -1
        if event != "end":
            continue
        if text_tags and name in text_tags and element.text:
            parts.append(element.text)
            size += len(element.text)
        elif name in paragraph_tags:
            if not text_tags and depth == 0:
                paragraph = "".join(element.itertext())
                parts.append(paragraph)
                size += len(paragraph)
            parts.append("\n")
            if depth == 0:
                element.clear()
        if size >= limit:
            break
    return "".join(parts)


def _why(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__
