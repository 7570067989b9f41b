"""The review window: artifacts by status, filters, a detail pane, review actions."""

from __future__ import annotations

import bisect
import itertools
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QDate,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSettings,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QImage,
    QImageReader,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import select

from midst_desktop.classify.extract.preview import PageImage, PreviewRenderer
from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    ArtifactStatus,
    ArtifactText,
    ArtifactType,
    Integration,
    Provider,
)
from midst_desktop.ui.workers import Progress, Workers

log = logging.getLogger(__name__)

# A page appended as the view nears the end (and a filter's first page).
PAGE_SIZE = 200
# The fewest rows read for rows the view paints, and how many such pages the
# cache keeps: memory stays flat however far the view goes.
FETCH_ROWS = 32
CACHE_PAGES = 24
# Reads at once for painted rows, and how many more may wait (older ones are
# dropped: they scrolled by).
FETCHES_AT_ONCE = 2
QUEUED_FETCHES = 8
# A keyset anchor every this many rows: a page is at most this many index
# steps past one.
ANCHOR_STRIDE = 128
PLACEHOLDER = "Loading..."
STATUSES = (
    ArtifactStatus.PENDING,
    ArtifactStatus.APPROVED,
    ArtifactStatus.REJECTED,
    ArtifactStatus.ARCHIVED,
)
# Thumbnails are decoded at most this large, and pictures with more pixels
# than this are not decoded at all: a hostile image costs nothing.
THUMBNAIL_SIZE = 224
MAX_PREVIEW_PIXELS = 40_000_000
EXCERPT_CHARS = 1200
# A bulk action moves this many artifacts between two progress reports.
BULK_CHUNK = 100
DOING_WORDS: dict[str, str] = {
    ArtifactStatus.APPROVED: "Approving",
    ArtifactStatus.REJECTED: "Rejecting",
    ArtifactStatus.ARCHIVED: "Archiving",
    ArtifactStatus.PENDING: "Moving back to pending",
}
SEARCH_DELAY_MS = 250
CAPTURED_COLUMN = 4
ANY_DATE = QDate(2000, 1, 1)
NO_PARENT = QModelIndex()
TYPE_WORDS = {t.value: t.value.replace("_", " ").capitalize() for t in ArtifactType}


@dataclass(frozen=True)
class ArtifactRow:
    """What the table shows of one artifact."""

    id: str
    title: str
    artifact_type: str
    confidence: float
    status: str
    source_provider: str
    source_available: bool
    captured_date: datetime
    integration_id: int | None


def _row(artifact: Artifact) -> ArtifactRow:
    return ArtifactRow(
        artifact.id,
        artifact.title,
        artifact.artifact_type,
        artifact.confidence,
        artifact.status,
        artifact.source_provider,
        bool(artifact.source_available),
        artifact.captured_date,
        artifact.integration_id,
    )


def load_rows(
    database: Database,
    wanted: queries.ArtifactFilter,
    after: queries.SortKey | None,
    skip: int,
    limit: int,
) -> list[ArtifactRow]:
    """limit rows, skip rows past the row keyed after. Blocks: a worker's job."""
    with database.read() as session:
        return [
            ArtifactRow(
                artifact_id,
                title,
                artifact_type,
                confidence,
                status,
                provider,
                bool(available),
                captured,
                integration_id,
            )
            for (
                artifact_id,
                title,
                artifact_type,
                confidence,
                status,
                provider,
                available,
                captured,
                integration_id,
            ) in queries.list_rows(session, wanted, limit, after, skip)
        ]


def load_page(
    database: Database,
    wanted: queries.ArtifactFilter,
    after: ArtifactRow | None,
    limit: int = PAGE_SIZE,
) -> list[ArtifactRow]:
    """One keyset page after a row. Blocks on the store: a worker's job."""
    key = None if after is None else (after.captured_date, after.id)
    return load_rows(database, wanted, key, 0, limit)


def ids_in(
    database: Database,
    wanted: queries.ArtifactFilter,
    spans: list[tuple[queries.SortKey | None, int, int]],
) -> list[str]:
    """The ids of rows given as (anchor, skip, how many). Blocks: a job."""
    with database.read() as session:
        return [
            artifact_id
            for after, skip, limit in spans
            for artifact_id in queries.list_ids(session, wanted, limit, after, skip)
        ]


@dataclass
class _Block:
    """Rows the store gave for consecutive table rows, from start on."""

    number: int
    start: int
    rows: list[ArtifactRow]

    @property
    def end(self) -> int:
        return self.start + len(self.rows)


def _shifted(position: int, first: int, removed: int) -> int:
    """Where position is once the removed rows from first on have left."""
    return position - max(0, min(removed, position - first))


class ArtifactTableModel(QAbstractTableModel):
    """The artifacts a filter matches, every one a row, read from the store on demand.

    rowCount is the filter's whole count (one counting query on a worker),
    so the scroll bar spans the whole tab. The rows the view paints are read
    in small pages on a worker and kept in a bounded cache, the least
    recently shown page leaving first; until its page lands a row shows a
    placeholder. A page anywhere is found from the nearest keyset anchor (the
    (captured_date, id) of every ANCHOR_STRIDE-th row, gathered by one pass
    over the index in the background, and of the last row of every page
    read) and a skip of fewer rows than the stride, so row 500,000 costs
    about what the top does. A text search cannot be counted cheaply: its
    rows are appended page by page as the view nears its end
    (canFetchMore/fetchMore), as are a tab's until its count lands.
    """

    COLUMNS = ("Title", "Type", "Confidence", "Source", "Captured")
    # The first page of a filter is on the screen.
    page_loaded = Signal()
    # Rows first to last (inclusive) now show their artifacts.
    rows_loaded = Signal(int, int)
    load_failed = Signal(str)

    def __init__(
        self, database: Database, workers: Workers, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.workers = workers
        # The anchor pass has a thread of its own: a page never waits for it.
        self.background = Workers(self, threads=1)
        self.wanted = queries.ArtifactFilter(status=ArtifactStatus.PENDING)
        self.cache_pages = CACHE_PAGES
        self._generation = 0
        self._fetches = itertools.count(1)
        self._clear()

    def _clear(self) -> None:
        self._count = 0
        # The count is the filter's whole count (not only the rows appended).
        self._complete = False
        self._exhausted = False
        self._blocks: OrderedDict[int, _Block] = OrderedDict()
        self._last: _Block | None = None
        # Anchor n at position p: p rows come up to and with key n (None: the top).
        self._anchor_at: list[int] = [0]
        self._anchor_key: list[queries.SortKey | None] = [None]
        # Fetches on their way: number -> (start, end, appending).
        self._in_flight: dict[int, tuple[int, int, bool]] = {}
        self._queued: list[tuple[int, int]] = []
        self._first_pending = False
        self._counting = False
        self._anchoring = False
        # Grows whenever rows leave: what was read before may sit elsewhere now.
        self._epoch = 0

    # -- Qt's model interface ---------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT) -> int:
        return 0 if parent.isValid() else self._count

    def columnCount(
        self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT
    ) -> int:
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role in (
            Qt.ItemDataRole.DisplayRole,
            Qt.ItemDataRole.AccessibleTextRole,
        ):
            return self.COLUMNS[section]
        return None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._count:
            return None
        column = index.column()
        row = self._shown(index.row())
        if row is None:
            if role == Qt.ItemDataRole.DisplayRole:
                self._want(index.row())
                return PLACEHOLDER if column == 0 else ""
            if role == Qt.ItemDataRole.AccessibleTextRole:
                return PLACEHOLDER if column == 0 else ""
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            if column == 0:
                return row.title if row.source_available else f"{row.title} (gone)"
            if column == 1:
                return TYPE_WORDS.get(row.artifact_type, row.artifact_type)
            if column == 2:
                return f"{row.confidence:.0%}"
            if column == 3:
                return _provider_word(row.source_provider)
            return row.captured_date.astimezone().strftime("%Y-%m-%d")
        if role == Qt.ItemDataRole.ToolTipRole and not row.source_available:
            return "The source file is gone"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 2:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None

    def canFetchMore(
        self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT
    ) -> bool:
        return (
            not parent.isValid()
            and not self._complete
            and not self._exhausted
            and not any(appending for *_, appending in self._in_flight.values())
        )

    def fetchMore(
        self, parent: QModelIndex | QPersistentModelIndex = NO_PARENT
    ) -> None:
        if self.canFetchMore(parent):
            self._fetch(self._count, self._count + PAGE_SIZE, appending=True)

    # -- ours -------------------------------------------------------------

    @property
    def loading(self) -> bool:
        """A page is on its way."""
        return bool(self._in_flight)

    @property
    def busy(self) -> bool:
        """A page, the count or the anchors are on their way, or a page waits."""
        return bool(
            self._in_flight or self._queued or self._counting or self._anchoring
        )

    @property
    def counted(self) -> bool:
        """rowCount is the filter's whole count."""
        return self._complete

    @property
    def rows(self) -> list[ArtifactRow]:
        """The rows held now, in table order (every row of a small tab)."""
        held: dict[int, ArtifactRow] = {}
        for block in self._blocks.values():
            for offset, row in enumerate(block.rows):
                held[block.start + offset] = row
        return [held[n] for n in sorted(held)]

    @property
    def held_pages(self) -> int:
        return len(self._blocks)

    @property
    def anchors(self) -> int:
        return len(self._anchor_at)

    def row_at(self, number: int) -> ArtifactRow | None:
        if not 0 <= number < self._count:
            return None
        block = self._block_of(number)
        return None if block is None else block.rows[number - block.start]

    def set_filter(self, wanted: queries.ArtifactFilter) -> None:
        """Show what the filter matches, from the first page on."""
        self._generation += 1
        self.beginResetModel()
        self.wanted = wanted
        self._clear()
        self.endResetModel()
        self._fetch(0, PAGE_SIZE, appending=True)
        self._first_pending = True
        if not wanted.search:
            self._start_count()

    def reload(self) -> None:
        self.set_filter(self.wanted)

    def refresh(self) -> None:
        """Read the tab again where the view is (after an undo, or many moves)."""
        if self.wanted.search:
            self.reload()
            return
        recent = [(b.start, b.end) for b in reversed(self._blocks.values())][:3]
        self._generation += 1
        count = self._count
        self._clear()
        # The old count holds the view where it is until the new one lands.
        self._count = count
        self._fetch(0, PAGE_SIZE, appending=True)
        self._first_pending = True
        self._queued = [(start, min(end, count)) for start, end in reversed(recent)]
        self._start_fetches()
        self._start_count()
        if count:
            self.dataChanged.emit(
                self.index(0, 0), self.index(count - 1, len(self.COLUMNS) - 1)
            )

    def spans(
        self, ranges: list[tuple[int, int]]
    ) -> list[tuple[queries.SortKey | None, int, int]]:
        """Rows first..last (inclusive) as (anchor, skip, how many), for ids_in."""
        found = []
        for first, last in ranges:
            at = bisect.bisect_right(self._anchor_at, first) - 1
            found.append(
                (self._anchor_key[at], first - self._anchor_at[at], last - first + 1)
            )
        return found

    def held_ids(self, ranges: list[tuple[int, int]]) -> list[str] | None:
        """The ids of rows first..last, or None when one of them is not held."""
        ids = []
        for first, last in ranges:
            for number in range(first, last + 1):
                row = self.row_at(number)
                if row is None:
                    return None
                ids.append(row.id)
        return ids

    def remove_ids(self, ids: set[str]) -> None:
        """Rows that left this tab leave the table and the rows after them move
        up; when some of them are not held, the tab is read again instead."""
        positions = sorted(
            {
                block.start + offset
                for block in self._blocks.values()
                for offset, row in enumerate(block.rows)
                if row.id in ids
            }
        )
        found = {r.id for r in map(self.row_at, positions) if r is not None}
        if found != ids:
            self.refresh()
            return
        runs: list[tuple[int, int]] = []
        for number in positions:
            if runs and runs[-1][1] == number - 1:
                runs[-1] = (runs[-1][0], number)
            else:
                runs.append((number, number))
        for first, last in reversed(runs):
            self._remove_rows(first, last)

    def replace_row(self, row: ArtifactRow) -> None:
        for block in self._blocks.values():
            for offset, existing in enumerate(block.rows):
                if existing.id == row.id:
                    block.rows[offset] = row
                    number = block.start + offset
                    self.dataChanged.emit(
                        self.index(number, 0),
                        self.index(number, len(self.COLUMNS) - 1),
                    )

    def wait(self) -> None:
        self.background.wait()

    # -- the cache --------------------------------------------------------

    def _block_of(self, number: int) -> _Block | None:
        last = self._last
        if last is not None and last.start <= number < last.end:
            return last
        for block in self._blocks.values():
            if block.start <= number < block.end:
                self._last = block
                return block
        return None

    def _shown(self, number: int) -> ArtifactRow | None:
        """A row for the view to paint: its page becomes the most recent."""
        block = self._block_of(number)
        if block is None:
            return None
        if next(reversed(self._blocks)) != block.number:
            self._blocks.move_to_end(block.number)
        return block.rows[number - block.start]

    def _keep(self, start: int, rows: list[ArtifactRow]) -> None:
        if not rows:
            return
        block = _Block(next(self._fetches), start, rows)
        end = block.end
        for number, other in list(self._blocks.items()):
            if start <= other.start and other.end <= end:
                del self._blocks[number]  # the new page holds all of it
        self._blocks[block.number] = block
        while len(self._blocks) > max(1, self.cache_pages):
            self._blocks.popitem(last=False)
        self._last = None
        last = rows[-1]
        self._add_anchor(end, (last.captured_date, last.id))

    def _add_anchor(self, position: int, key: queries.SortKey) -> None:
        at = bisect.bisect_left(self._anchor_at, position)
        if at < len(self._anchor_at) and self._anchor_at[at] == position:
            return
        self._anchor_at.insert(at, position)
        self._anchor_key.insert(at, key)

    def _remove_rows(self, first: int, last: int) -> None:
        removed = last - first + 1
        self.beginRemoveRows(NO_PARENT, first, last)
        self._count -= removed
        self._epoch += 1
        for number, block in list(self._blocks.items()):
            kept = [
                row
                for offset, row in enumerate(block.rows)
                if not first <= block.start + offset <= last
            ]
            if not kept:
                del self._blocks[number]
                continue
            block.start = _shifted(block.start, first, removed)
            block.rows = kept
        self._last = None
        at: list[int] = []
        keys: list[queries.SortKey | None] = []
        for position, key in zip(self._anchor_at, self._anchor_key, strict=True):
            moved = _shifted(position, first, removed)
            if at and at[-1] == moved:
                continue  # the two say the same now
            at.append(moved)
            keys.append(key)
        self._anchor_at, self._anchor_key = at, keys
        for number, (start, end, appending) in list(self._in_flight.items()):
            self._in_flight[number] = (
                _shifted(start, first, removed),
                _shifted(end, first, removed),
                appending,
            )
        self._queued = [
            (_shifted(s, first, removed), _shifted(e, first, removed))
            for s, e in self._queued
        ]
        self.endRemoveRows()

    def _set_count(self, count: int) -> None:
        if count > self._count:
            self.beginInsertRows(NO_PARENT, self._count, count - 1)
            self._count = count
            self.endInsertRows()
        elif count < self._count:
            self.beginRemoveRows(NO_PARENT, count, self._count - 1)
            self._count = count
            for number, block in list(self._blocks.items()):
                block.rows = block.rows[: max(0, count - block.start)]
                if not block.rows:
                    del self._blocks[number]
            self._last = None
            self.endRemoveRows()

    # -- reading ----------------------------------------------------------

    def _want(self, number: int) -> None:
        """The view paints a row not held: read its page now, while it paints."""
        if self._on_its_way(number):
            return
        self._queued.append(self._around(number))
        # Only what was asked for last is still on the screen.
        del self._queued[:-QUEUED_FETCHES]
        self._start_fetches()

    def _on_its_way(self, number: int) -> bool:
        return any(s <= number < e for s, e, _ in self._in_flight.values()) or any(
            s <= number < e for s, e in self._queued
        )

    def _around(self, number: int) -> tuple[int, int]:
        """FETCH_ROWS rows from number on, or up to it when the rows below are
        held (the view scrolls up)."""
        below = next(
            (
                n
                for n in range(number + 1, min(self._count, number + FETCH_ROWS))
                if self._block_of(n) is not None
            ),
            None,
        )
        if below is not None and number > 0:
            return max(0, below - FETCH_ROWS), below
        return number, min(self._count, number + FETCH_ROWS)

    def _start_fetches(self) -> None:
        while self._queued and len(self._in_flight) < FETCHES_AT_ONCE:
            start, end = self._queued.pop()  # the newest first
            if end > start and any(
                self._block_of(n) is None for n in range(start, end)
            ):
                self._fetch(start, end)

    def _fetch(self, start: int, end: int, appending: bool = False) -> None:
        at = bisect.bisect_right(self._anchor_at, start) - 1
        after, skip = self._anchor_key[at], start - self._anchor_at[at]
        number = next(self._fetches)
        self._in_flight[number] = (start, end, appending)
        generation, epoch, wanted = self._generation, self._epoch, self.wanted
        self.workers.run(
            lambda: load_rows(self.database, wanted, after, skip, end - start),
            lambda rows: self._landed(generation, epoch, number, rows),
            lambda message: self._failed(generation, number, message),
        )

    def _landed(
        self, generation: int, epoch: int, number: int, rows: list[ArtifactRow]
    ) -> None:
        if generation != self._generation:
            return  # the filter changed while this page was on its way
        start, end, appending = self._in_flight.pop(number)
        if epoch != self._epoch:
            # Rows left meanwhile: read the range again, where it is now.
            self._queued.append((start, end))
            self._start_fetches()
            return
        if appending:
            if start + len(rows) > self._count:
                self._set_count(start + len(rows))
            if len(rows) < end - start and not self._complete:
                self._exhausted = True
        rows = rows[: max(0, self._count - start)]
        self._keep(start, rows)
        if rows:
            last = start + len(rows) - 1
            self.dataChanged.emit(
                self.index(start, 0), self.index(last, len(self.COLUMNS) - 1)
            )
            self.rows_loaded.emit(start, last)
        if self._first_pending and start == 0:
            self._first_pending = False
            self.page_loaded.emit()
            if not self.wanted.search:
                self._start_anchors()
        self._start_fetches()

    def _failed(self, generation: int, number: int, message: str) -> None:
        if generation != self._generation:
            return
        self._in_flight.pop(number, None)
        self._exhausted = True
        self._first_pending = False
        self.load_failed.emit(message)

    def _start_count(self) -> None:
        self._counting = True
        generation, epoch, wanted = self._generation, self._epoch, self.wanted

        def work() -> int | None:
            if generation != self._generation:
                return None  # another filter is shown already
            with self.database.read() as session:
                return queries.count_matching(session, wanted)

        def done(count: int | None) -> None:
            if generation != self._generation or count is None:
                return
            if epoch != self._epoch:
                self._start_count()  # it may have counted rows that left
                return
            self._counting = False
            self._complete = True
            self._set_count(count)

        self.workers.run(work, done, lambda m: self._failed_count(generation, m))

    def _failed_count(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self._counting = False
            self.load_failed.emit(message)

    def _start_anchors(self) -> None:
        self._anchoring = True
        generation, epoch, wanted = self._generation, self._epoch, self.wanted

        def work() -> list[tuple[int, queries.SortKey]] | None:
            if generation != self._generation:
                return None
            with self.database.read() as session:
                return queries.keyset_anchors(session, wanted, ANCHOR_STRIDE)

        def done(found: list[tuple[int, queries.SortKey]] | None) -> None:
            if generation != self._generation or found is None:
                return
            if epoch != self._epoch:
                self._start_anchors()  # positions moved while it read
                return
            self._anchoring = False
            for position, key in found:
                self._add_anchor(position, key)

        def failed(message: str) -> None:
            # The pages still come, with longer skips: worth a line in the log.
            if generation == self._generation:
                self._anchoring = False
                log.warning("The review table's anchors were not read: %s", message)

        self.background.run(work, done, failed)


def _provider_word(provider: str) -> str:
    words: dict[str, str] = {
        Provider.LOCAL: "Local folder",
        Provider.GOOGLE_DRIVE: "Google Drive",
        Provider.DROPBOX: "Dropbox",
    }
    return words.get(provider, provider)


# -- the detail pane's data ----------------------------------------------------


@dataclass
class Detail:
    artifact: dict[str, Any]
    excerpt: str
    local_path: str | None
    web_link: str | None
    thumbnail: QImage | None = None

    @property
    def is_local_pdf(self) -> bool:
        return bool(
            self.local_path
            and self.artifact["source_available"]
            and self.artifact["mime_type"] == "application/pdf"
        )


def load_detail(database: Database, artifact_id: str) -> Detail:
    """An artifact with its text excerpt and preview. Blocks: a worker's job."""
    with database.read() as session:
        artifact = queries.get_artifact(session, artifact_id)
        payload = queries.artifact_json(artifact)
        body = session.scalar(
            select(ArtifactText.body).where(ArtifactText.artifact_id == artifact.id)
        )
        root = None
        if artifact.integration_id is not None:
            integration = session.get(Integration, artifact.integration_id)
            root = integration.root_path if integration else None
    local_path = None
    web_link = None
    if payload["source_provider"] == Provider.LOCAL and root:
        local_path = str(Path(root) / payload["source_id"].lstrip("/"))
    elif payload["source_provider"] == Provider.GOOGLE_DRIVE:
        web_link = f"https://drive.google.com/file/d/{payload['source_id']}/view"
    elif payload["source_provider"] == Provider.DROPBOX:
        web_link = "https://www.dropbox.com/home" + payload["source_path"]
    detail = Detail(payload, (body or "")[:EXCERPT_CHARS].strip(), local_path, web_link)
    if (
        local_path
        and payload["source_available"]
        and str(payload["mime_type"]).startswith("image/")
    ):
        detail.thumbnail = read_thumbnail(local_path)
    return detail


def read_thumbnail(path: str, size: int = THUMBNAIL_SIZE) -> QImage | None:
    """A small image decoded at its small size, or None for what cannot be read."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if not full.isValid() or full.width() * full.height() > MAX_PREVIEW_PIXELS:
        return None
    scaled = full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio)
    if full.width() > size or full.height() > size:
        reader.setScaledSize(scaled)
    image = reader.read()
    return None if image.isNull() else image


def page_qimage(page: PageImage) -> QImage:
    """A drawn PDF page as a QImage that owns its pixels."""
    image = QImage(
        page.pixels, page.width, page.height, page.stride, QImage.Format.Format_RGB888
    )
    return image.copy()


# -- undo --------------------------------------------------------------------


@dataclass
class UndoStep:
    """A review action and the statuses it replaced, or an edit and the values."""

    words: str
    previous: dict[str, str] = field(default_factory=dict)
    # An edit: the artifact's id and what queries.edit_state saw before it.
    edited: tuple[str, dict[str, Any]] | None = None


def undo_step(database: Database, step: UndoStep) -> None:
    """Put back what step changed. Blocks: a worker's job."""
    if step.edited is not None:
        artifact_id, state = step.edited
        with database.write() as session:
            queries.restore_edit(session, artifact_id, state)
        return
    undo_moves(database, step)


def undo_moves(database: Database, step: UndoStep) -> None:
    """Put every artifact of step back where it was. Blocks: a worker's job."""
    with database.write() as session:
        by_previous: dict[str, list[str]] = {}
        for artifact_id, status in step.previous.items():
            by_previous.setdefault(status, []).append(artifact_id)
        for status, ids in by_previous.items():
            current = {a.id: a.status for a in queries.get_artifacts(session, ids)}
            back = [i for i in ids if current[i] != status]
            if not back:
                continue
            # Only pending leads everywhere, so the way back goes through it.
            not_pending = [i for i in back if current[i] != ArtifactStatus.PENDING]
            if not_pending:
                queries.move_status(session, not_pending, ArtifactStatus.PENDING)
            if status != ArtifactStatus.PENDING:
                queries.move_status(session, back, status)


def move(
    database: Database,
    ids: list[str],
    target: str,
    reason: str | None,
    progress: Progress | None = None,
) -> UndoStep:
    """Move artifacts in one transaction, BULK_CHUNK at a time. Blocks: a job.

    progress hears (done, total) after each chunk; all of them move, or none.
    """
    previous: dict[str, str] = {}
    with database.write() as session:
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            artifacts = queries.get_artifacts(session, chunk)
            previous.update({a.id: a.status for a in artifacts})
            queries.move_status(session, chunk, target, reason)
            session.flush()
            if progress is not None:
                progress(start + len(chunk), len(ids))
    return UndoStep(f"{target} {len(ids)}", previous)


def approve_above(
    database: Database, threshold: float, progress: Progress | None = None
) -> UndoStep:
    with database.write() as session:
        ids = list(
            session.scalars(
                select(Artifact.id).where(
                    Artifact.status == ArtifactStatus.PENDING,
                    Artifact.confidence >= threshold,
                )
            )
        )
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            queries.move_status(session, chunk, ArtifactStatus.APPROVED)
            session.flush()
            if progress is not None:
                progress(start + len(chunk), len(ids))
    return UndoStep(f"approved {len(ids)}", dict.fromkeys(ids, ArtifactStatus.PENDING))


def _learn(database: Database, settings: Settings) -> None:
    """Refit the learned model after approvals or type changes, as the CLI does."""
    from midst_desktop.classify.model import refit

    try:
        refit(database, settings.data_dir)
    except Exception as error:  # a review never fails because learning did
        log.warning("The learned model was not refitted: %s", error)


# -- the window ----------------------------------------------------------------


def _named(widget: QWidget, name: str, description: str = "") -> None:
    widget.setAccessibleName(name)
    widget.setObjectName(name.lower().replace(" ", "_").replace(".", ""))
    if description:
        widget.setAccessibleDescription(description)


class ReviewWindow(QMainWindow):
    """Review artifacts: tabs per status, filters, detail pane, actions, undo."""

    counts_changed = Signal(dict)
    action_done = Signal(str)
    # How many artifacts of a bulk action are done, of how many.
    bulk_progress = Signal(int, int)

    def __init__(
        self,
        database: Database,
        settings: Settings,
        parent: QWidget | None = None,
        learn: bool = True,
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.settings = settings
        self.learn = learn
        self.readers = Workers(self, threads=2)
        # PDF pages are drawn one at a time, in a worker process of their own,
        # so a slow page never holds up a page of the table.
        self.previewers = Workers(self, threads=1)
        self.renderer = PreviewRenderer()
        # Writes run one at a time, in order: an undo never overtakes its action.
        self.writers = Workers(self, threads=1)
        self.undo_steps: list[UndoStep] = []
        self.counts: dict[str, int] = {}
        self.detail: Detail | None = None
        self._detail_generation = 0
        self._detail_for: str | None = None
        self.ui_settings = QSettings(
            str(Path(settings.data_dir) / "ui.ini"), QSettings.Format.IniFormat
        )
        # The PDF whose first page the preview shows, or could not draw.
        self.page_shown: str | None = None
        self.page_failed: str | None = None
        self.setWindowTitle("Review artifacts - midst-desktop")
        _named(self, "Review artifacts")
        self.model = ArtifactTableModel(database, self.readers, self)
        self._build()
        self._restore()
        self.model.load_failed.connect(self.show_error)
        self.model.page_loaded.connect(self._page_loaded)
        self.model.rows_loaded.connect(self._rows_loaded)
        self.apply_filter()
        self.refresh_counts()
        self.refresh_sources()

    # -- building ---------------------------------------------------------

    def _build(self) -> None:
        central = QWidget(self)
        _named(central, "Review")
        layout = QVBoxLayout(central)

        self.notice = QLabel(central)
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        self.notice.setStyleSheet(
            "QLabel { background: palette(alternate-base); padding: 6px; }"
        )
        _named(self.notice, "Notice")
        layout.addWidget(self.notice)

        self.tabs = QTabBar(central)
        self.tabs.setExpanding(False)
        self.tabs.setDocumentMode(True)
        for status in STATUSES:
            self.tabs.addTab(status.capitalize())
        _named(self.tabs, "Status tabs", "Pending, approved, rejected, archived")
        self.tabs.currentChanged.connect(lambda _i: self.apply_filter())
        layout.addWidget(self.tabs)
        layout.addLayout(self._build_filters(central))

        self.splitter = QSplitter(Qt.Orientation.Horizontal, central)
        _named(self.splitter, "Artifacts and detail")
        self.table = QTableView(self.splitter)
        _named(self.table, "Artifacts", "A table of artifacts; A approves, R rejects")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        corner = self.table.findChild(QAbstractButton, "qt_tableview_cornerbutton")
        if corner is not None:
            corner.setAccessibleName("Select all artifacts")
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(0, 300)
        header.resizeSection(1, 130)
        header.resizeSection(2, 90)
        header.resizeSection(3, 110)
        header.resizeSection(4, 100)
        # Only Captured sorts (both ways read one index); a click elsewhere
        # puts the indicator back.
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(CAPTURED_COLUMN, Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._sort_clicked)
        self.table.selectionModel().currentRowChanged.connect(self._current_changed)
        self.table.selectionModel().selectionChanged.connect(
            lambda *_: self._update_actions()
        )
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self._build_detail(self.splitter))
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([740, 520])
        layout.addWidget(self.splitter, 1)
        layout.addLayout(self._build_actions(central))
        self.setCentralWidget(central)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(True)
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        _named(self.progress, "Working")
        self.statusBar().addPermanentWidget(self.progress)
        _named(self.statusBar(), "Status")
        self.resize(1100, 680)

    def _build_filters(self, parent: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        self.search = QLineEdit(parent)
        self.search.setPlaceholderText("Search titles and text")
        self.search.setClearButtonEnabled(True)
        _named(self.search, "Search", "Full-text search over titles and text")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.search.returnPressed.connect(self.apply_filter)
        row.addWidget(self.search, 2)

        self.type_filter = QComboBox(parent)
        self.type_filter.addItem("Any type", None)
        for value, words in TYPE_WORDS.items():
            self.type_filter.addItem(words, value)
        _named(self.type_filter, "Type filter")
        row.addWidget(self.type_filter)

        self.source_filter = QComboBox(parent)
        self.source_filter.addItem("Any source", None)
        _named(self.source_filter, "Source filter")
        row.addWidget(self.source_filter)

        self.min_confidence = QDoubleSpinBox(parent)
        self.max_confidence = QDoubleSpinBox(parent)
        for box, name in (
            (self.min_confidence, "Lowest confidence"),
            (self.max_confidence, "Highest confidence"),
        ):
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.05)
            box.setDecimals(2)
            _named(box, name)
        self.max_confidence.setValue(1.0)
        for box in (self.min_confidence, self.max_confidence):
            box.valueChanged.connect(lambda _v: self.apply_filter())
        row.addWidget(QLabel("Confidence", parent))
        row.addWidget(self.min_confidence)
        row.addWidget(QLabel("to", parent))
        row.addWidget(self.max_confidence)

        self.date_from = QDateEdit(parent)
        self.date_to = QDateEdit(parent)
        for date_box, name in (
            (self.date_from, "Captured from"),
            (self.date_to, "Until"),
        ):
            date_box.setCalendarPopup(True)
            date_box.setMinimumDate(ANY_DATE)
            date_box.setSpecialValueText("any date")
            date_box.setDate(ANY_DATE)
            date_box.setDisplayFormat("yyyy-MM-dd")
            _named(date_box, name)
            date_box.dateChanged.connect(lambda _d: self.apply_filter())
        row.addWidget(QLabel("Captured", parent))
        row.addWidget(self.date_from)
        row.addWidget(QLabel("to", parent))
        row.addWidget(self.date_to)

        for combo in (self.type_filter, self.source_filter):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
        return row

    def _build_detail(self, parent: QWidget) -> QWidget:
        pane = QWidget(parent)
        _named(pane, "Detail")
        layout = QVBoxLayout(pane)
        self.gone_badge = QLabel("Source file gone", pane)
        self.gone_badge.setStyleSheet(
            "QLabel { background: #b5462f; color: white; border-radius: 4px;"
            " padding: 2px 8px; font-weight: bold; }"
        )
        self.gone_badge.setVisible(False)
        _named(self.gone_badge, "Source gone", "The source file is no longer there")
        layout.addWidget(self.gone_badge, 0, Qt.AlignmentFlag.AlignLeft)

        self.preview = QLabel(pane)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setWordWrap(True)
        self.preview.setFixedHeight(THUMBNAIL_SIZE + 20)
        self.preview.setFrameShape(QFrame.Shape.StyledPanel)
        self.preview.setMargin(8)
        self.preview.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        _named(self.preview, "Preview")
        layout.addWidget(self.preview)

        self.metadata = QLabel(pane)
        self.metadata.setWordWrap(True)
        self.metadata.setTextFormat(Qt.TextFormat.PlainText)
        self.metadata.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        _named(self.metadata, "Metadata")
        layout.addWidget(self.metadata)

        form = QFormLayout()
        self.title_edit = QLineEdit(pane)
        _named(self.title_edit, "Title")
        self.type_edit = QComboBox(pane)
        for value, words in TYPE_WORDS.items():
            self.type_edit.addItem(words, value)
        _named(self.type_edit, "Type")
        self.tags_edit = QLineEdit(pane)
        self.tags_edit.setPlaceholderText("comma, separated")
        _named(self.tags_edit, "Tags")
        self.description_edit = QPlainTextEdit(pane)
        self.description_edit.setMaximumHeight(80)
        self.description_edit.setTabChangesFocus(True)
        _named(self.description_edit, "Description")
        form.addRow("&Title", self.title_edit)
        form.addRow("T&ype", self.type_edit)
        form.addRow("Ta&gs", self.tags_edit)
        form.addRow("&Description", self.description_edit)
        layout.addLayout(form)

        buttons = QHBoxLayout()
        self.save_button = QPushButton("&Save changes", pane)
        _named(self.save_button, "Save changes")
        self.save_button.clicked.connect(self.save_edits)
        self.open_button = QPushButton("&Open source", pane)
        _named(self.open_button, "Open source")
        self.open_button.clicked.connect(self.open_source)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self._set_detail_enabled(False)
        return pane

    def _build_actions(self, parent: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        self.approve_action = self._action("Approve", "A", self.approve)
        self.reject_action = self._action("Reject", "R", self.reject)
        self.archive_action = self._action("Archive", "E", self.archive)
        self.restore_action = self._action("Back to pending", "P", self.restore)
        self.undo_action = QAction("Undo", self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.triggered.connect(self.undo)
        self.undo_action.setEnabled(False)
        self.addAction(self.undo_action)
        self.save_action = QAction("Save changes", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save_edits)
        self.addAction(self.save_action)
        self.oldest_action = QAction("Oldest captured first", self)
        self.oldest_action.setCheckable(True)
        self.oldest_action.setShortcut(QKeySequence("Ctrl+Shift+O"))
        self.oldest_action.toggled.connect(self._order_toggled)
        self.addAction(self.oldest_action)
        self.search_action = QAction("Search", self)
        self.search_action.setShortcut(QKeySequence.StandardKey.Find)
        self.search_action.triggered.connect(self.search.setFocus)
        self.addAction(self.search_action)

        for action in (
            self.approve_action,
            self.reject_action,
            self.archive_action,
            self.restore_action,
        ):
            row.addWidget(self._button(action, parent))
        self.reason = QLineEdit(parent)
        self.reason.setPlaceholderText("Reason for rejecting (optional)")
        _named(self.reason, "Reject reason")
        row.addWidget(self.reason, 1)
        row.addWidget(self._button(self.undo_action, parent))
        row.addSpacing(16)

        self.threshold = QDoubleSpinBox(parent)
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.9)
        _named(self.threshold, "Approve threshold")
        self.threshold.valueChanged.connect(lambda _v: self.preview_threshold())
        self.approve_above_button = QPushButton("Approve pending at or above", parent)
        _named(self.approve_above_button, "Approve all pending above confidence")
        self.approve_above_button.clicked.connect(self.approve_above)
        self.threshold_count = QLabel(parent)
        _named(self.threshold_count, "Artifacts that would be approved")
        row.addWidget(self.approve_above_button)
        row.addWidget(self.threshold)
        row.addWidget(self.threshold_count)
        return row

    def _action(self, words: str, key: str, slot: Any) -> QAction:
        action = QAction(words, self)
        action.setShortcut(QKeySequence(key))
        # Single-letter keys act on the table only, so typing a title or a
        # search never approves anything.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{words} ({key})")
        action.triggered.connect(slot)
        self.table.addAction(action)
        return action

    def _button(self, action: QAction, parent: QWidget) -> QPushButton:
        button = QPushButton(action.text(), parent)
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        button.setToolTip(f"{action.text()} ({key})")
        _named(button, action.text())
        button.clicked.connect(action.trigger)
        action.enabledChanged.connect(button.setEnabled)
        button.setEnabled(action.isEnabled())
        return button

    # -- filters ----------------------------------------------------------

    @property
    def status(self) -> str:
        return STATUSES[max(self.tabs.currentIndex(), 0)].value

    def current_filter(self) -> queries.ArtifactFilter:
        words = queries.search_words(self.search.text())
        low = self.min_confidence.value()
        high = self.max_confidence.value()
        return queries.ArtifactFilter(
            status=self.status,
            artifact_type=self.type_filter.currentData(),
            integration_id=self.source_filter.currentData(),
            search=" ".join(words) or None,
            at_least=low if low > 0 else None,
            below=None if high >= 1.0 else high + 1e-9,
            captured_from=_day_start(self.date_from.date()),
            captured_before=_day_end(self.date_to.date()),
            oldest_first=self.oldest_action.isChecked(),
        )

    def _sort_clicked(self, column: int, order: Qt.SortOrder) -> None:
        if column != CAPTURED_COLUMN:
            self._show_order()
            return
        self.oldest_action.setChecked(order == Qt.SortOrder.AscendingOrder)

    def _order_toggled(self, _oldest: bool) -> None:
        self._show_order()
        self.apply_filter()

    def _show_order(self) -> None:
        header = self.table.horizontalHeader()
        header.blockSignals(True)
        header.setSortIndicator(
            CAPTURED_COLUMN,
            Qt.SortOrder.AscendingOrder
            if self.oldest_action.isChecked()
            else Qt.SortOrder.DescendingOrder,
        )
        header.blockSignals(False)

    def apply_filter(self) -> None:
        self._search_timer.stop()
        wanted = self.current_filter()
        if wanted == self.model.wanted and self.model.rowCount():
            return
        self.model.set_filter(wanted)
        self._show_detail(None)
        self._update_actions()

    def sync_landed(self) -> None:
        """A sync changed the store: new counts, and the tab read again in place.

        A search keeps its list until it is run again: reading it again would
        take the view back to its top.
        """
        self.refresh_counts()
        if not self.model.wanted.search:
            self.model.refresh()

    def refresh_counts(self) -> None:
        def work() -> dict[str, int]:
            with self.database.read() as session:
                return queries.count_by_status(session)

        self.readers.run(work, self._counts_landed, self.show_error)
        self.preview_threshold()

    def _counts_landed(self, counts: dict[str, int]) -> None:
        self.counts = counts
        for number, status in enumerate(STATUSES):
            self.tabs.setTabText(
                number, f"{status.capitalize()} ({counts.get(status, 0):,})"
            )
        self.counts_changed.emit(counts)

    def refresh_sources(self) -> None:
        def work() -> list[tuple[int, str]]:
            with self.database.read() as session:
                return [
                    (i.id, i.display_name) for i in queries.list_integrations(session)
                ]

        self.readers.run(work, self._sources_landed, self.show_error)

    def _sources_landed(self, sources: list[tuple[int, str]]) -> None:
        chosen = self.source_filter.currentData()
        self.source_filter.blockSignals(True)
        self.source_filter.clear()
        self.source_filter.addItem("Any source", None)
        for integration_id, name in sources:
            self.source_filter.addItem(name, integration_id)
        wanted = self.ui_settings.value("filter/source")
        target = chosen if chosen is not None else _int_or_none(wanted)
        found = self.source_filter.findData(target) if target is not None else 0
        self.source_filter.setCurrentIndex(max(found, 0))
        self.source_filter.blockSignals(False)
        if self.source_filter.currentData() != self.model.wanted.integration_id:
            self.apply_filter()

    def preview_threshold(self) -> None:
        threshold = self.threshold.value()
        wanted = queries.ArtifactFilter(
            status=ArtifactStatus.PENDING, at_least=threshold
        )

        def work() -> tuple[float, int]:
            with self.database.read() as session:
                return threshold, queries.count_matching(session, wanted)

        self.readers.run(work, self._threshold_landed, self.show_error)

    def _threshold_landed(self, result: tuple[float, int]) -> None:
        threshold, count = result
        if threshold != self.threshold.value():
            return
        self.threshold_count.setText(f"({count:,} would be approved)")
        self.approve_above_button.setEnabled(count > 0)

    # -- selection and detail ---------------------------------------------

    def selected_ranges(self) -> list[tuple[int, int]]:
        """The selected rows as (first, last) runs, or the current row's.

        Ranges, not rows: Select all over half a million rows is one range.
        """
        count = self.model.rowCount()
        spans = sorted(
            (max(r.top(), 0), min(r.bottom(), count - 1))
            for r in self.table.selectionModel().selection().toList()
        )
        ranges: list[tuple[int, int]] = []
        for first, last in spans:
            if first > last:
                continue
            if ranges and first <= ranges[-1][1] + 1:
                ranges[-1] = (ranges[-1][0], max(last, ranges[-1][1]))
            else:
                ranges.append((first, last))
        current = self.table.currentIndex().row()
        if not ranges and 0 <= current < count:
            ranges = [(current, current)]
        return ranges

    def selected_rows(self) -> list[ArtifactRow]:
        """The selected rows that are held (all of them in a small selection)."""
        rows = (
            self.model.row_at(n)
            for a, b in self.selected_ranges()
            for n in range(a, b + 1)
        )
        return [r for r in rows if r is not None]

    def _page_loaded(self) -> None:
        if not self.table.currentIndex().isValid() and self.model.rowCount():
            self.table.selectRow(0)
        self._update_actions()

    def _rows_loaded(self, first: int, last: int) -> None:
        # The current row may have been a placeholder until now.
        current = self.table.currentIndex().row()
        if first <= current <= last:
            row = self.model.row_at(current)
            if row is not None and row.id != self._detail_for:
                self._show_detail(row)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_detail(self.model.row_at(current.row()))

    def _show_detail(self, row: ArtifactRow | None) -> None:
        self._detail_generation += 1
        generation = self._detail_generation
        self._detail_for = None if row is None else row.id
        if row is None:
            self.detail = None
            self.preview.clear()
            self.metadata.clear()
            self.title_edit.clear()
            self.tags_edit.clear()
            self.description_edit.clear()
            self.gone_badge.setVisible(False)
            self._set_detail_enabled(False)
            return
        self.readers.run(
            lambda: load_detail(self.database, row.id),
            lambda detail: self._detail_landed(generation, detail),
            self.show_error,
        )

    def _detail_landed(self, generation: int, detail: Detail) -> None:
        if generation != self._detail_generation:
            return
        self.detail = detail
        self.page_shown = self.page_failed = None
        artifact = detail.artifact
        self.gone_badge.setVisible(not artifact["source_available"])
        if detail.is_local_pdf:
            self._draw_page(generation, str(detail.local_path))
        if detail.thumbnail is not None:
            self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.preview.setPixmap(QPixmap.fromImage(detail.thumbnail))
        elif detail.excerpt:
            # An excerpt reads like the start of the file: from the top left.
            self.preview.setAlignment(
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
            )
            self.preview.setText(detail.excerpt)
        else:
            self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.preview.setText("No preview for this file")
        self.metadata.setText(_metadata_text(artifact))
        self.title_edit.setText(artifact["title"])
        self.type_edit.setCurrentIndex(
            max(self.type_edit.findData(artifact["artifact_type"]), 0)
        )
        self.tags_edit.setText(", ".join(artifact["tags"]))
        self.description_edit.setPlainText(artifact["description"] or "")
        self._set_detail_enabled(True)
        self.open_button.setEnabled(
            bool(detail.web_link)
            or (bool(detail.local_path) and artifact["source_available"])
        )

    def _draw_page(self, generation: int, path: str) -> None:
        """Show the PDF's first page once drawn; the excerpt stands in meanwhile."""
        side = round(THUMBNAIL_SIZE * self.devicePixelRatioF())
        renderer = self.renderer
        self.previewers.run(
            lambda: renderer.render(path, side),
            lambda page: self._page_landed(generation, path, page),
        )

    def _page_landed(self, generation: int, path: str, page: PageImage | None) -> None:
        if generation != self._detail_generation:
            return  # another artifact is shown
        if page is None:
            self.page_failed = path  # the excerpt stays
            return
        pixmap = QPixmap.fromImage(page_qimage(page))
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setPixmap(pixmap)
        self.page_shown = path

    def _set_detail_enabled(self, enabled: bool) -> None:
        for widget in (
            self.title_edit,
            self.type_edit,
            self.tags_edit,
            self.description_edit,
            self.save_button,
            self.open_button,
        ):
            widget.setEnabled(enabled)

    def _update_actions(self) -> None:
        rows = self.selected_ranges()
        status = self.status
        self.approve_action.setEnabled(bool(rows) and status == ArtifactStatus.PENDING)
        self.reject_action.setEnabled(bool(rows) and status == ArtifactStatus.PENDING)
        self.archive_action.setEnabled(bool(rows) and status != ArtifactStatus.ARCHIVED)
        self.restore_action.setEnabled(bool(rows) and status != ArtifactStatus.PENDING)

    # -- actions ----------------------------------------------------------

    def approve(self) -> None:
        self._move(ArtifactStatus.APPROVED)

    def reject(self) -> None:
        self._move(ArtifactStatus.REJECTED, self.reason.text().strip() or None)

    def archive(self) -> None:
        self._move(ArtifactStatus.ARCHIVED)

    def restore(self) -> None:
        self._move(ArtifactStatus.PENDING)

    def _move(self, target: str, reason: str | None = None) -> None:
        ranges = self.selected_ranges()
        if not ranges:
            return
        first = ranges[0][0]
        total = sum(last - start + 1 for start, last in ranges)
        # Rows never shown are not held: their ids are read on the worker.
        held = self.model.held_ids(ranges)
        spans = self.model.spans(ranges) if held is None else []
        wanted = self.model.wanted
        words = {
            ArtifactStatus.APPROVED: "Approved",
            ArtifactStatus.REJECTED: "Rejected",
            ArtifactStatus.ARCHIVED: "Archived",
            ArtifactStatus.PENDING: "Moved back to pending",
        }[ArtifactStatus(target)]

        def work(progress: Progress) -> UndoStep:
            ids = held if held is not None else ids_in(self.database, wanted, spans)
            step = move(self.database, ids, target, reason, progress)
            if self.learn and target == ArtifactStatus.APPROVED:
                _learn(self.database, self.settings)
            return step

        def done(step: UndoStep) -> None:
            step.words = f"{words} {_count_words(len(step.previous))}"
            self._push_undo(step)
            self.model.remove_ids(set(step.previous))
            self.reason.clear()
            self._select_near(first)
            self.refresh_counts()
            self.action_done.emit(step.words)

        self._write_counted(work, done, DOING_WORDS[target], total)

    def approve_above(self) -> None:
        threshold = self.threshold.value()

        def work(progress: Progress) -> UndoStep:
            step = approve_above(self.database, threshold, progress)
            if self.learn and step.previous:
                _learn(self.database, self.settings)
            return step

        def done(step: UndoStep) -> None:
            step.words = f"Approved {_count_words(len(step.previous))}"
            if step.previous:
                self._push_undo(step)
            self.model.refresh()
            self.refresh_counts()
            self.action_done.emit(step.words)

        self._write_counted(work, done, DOING_WORDS[ArtifactStatus.APPROVED], 0)

    def undo(self) -> None:
        if self.writers.busy:
            # The action to undo may still be on its way; undo it once it landed.
            QTimer.singleShot(50, self.undo)
            return
        if not self.undo_steps:
            return
        step = self.undo_steps.pop()
        self.undo_action.setEnabled(bool(self.undo_steps))

        def work() -> None:
            undo_step(self.database, step)
            if self.learn and step.edited is not None:
                _learn(self.database, self.settings)

        def done(_result: object) -> None:
            self.model.refresh()
            self.refresh_counts()
            self.action_done.emit(f"Undone: {step.words}")

        self._write(work, done, "Undoing...")

    def save_edits(self) -> None:
        if self.detail is None:
            return
        artifact = self.detail.artifact
        title = self.title_edit.text()
        artifact_type = self.type_edit.currentData()
        tags = [t.strip() for t in self.tags_edit.text().split(",") if t.strip()]
        description = self.description_edit.toPlainText()
        changed_type = artifact_type != artifact["artifact_type"]

        def work() -> tuple[ArtifactRow, UndoStep]:
            with self.database.write() as session:
                before = queries.edit_state(
                    queries.get_artifact(session, artifact["id"])
                )
                edited = queries.edit_artifact(
                    session,
                    artifact["id"],
                    title=title if title != artifact["title"] else None,
                    artifact_type=artifact_type if changed_type else None,
                    tags=tags,
                    description=description,
                )
                row = _row(edited)
            if self.learn and changed_type:
                _learn(self.database, self.settings)
            return row, UndoStep(f"Edit of {row.title}", edited=(row.id, before))

        def done(result: tuple[ArtifactRow, UndoStep]) -> None:
            row, step = result
            self._push_undo(step)
            self.model.replace_row(row)
            if self.detail is not None and self.detail.artifact["id"] == row.id:
                self.detail.artifact.update(
                    title=row.title,
                    artifact_type=row.artifact_type,
                    tags=tags,
                    description=description,
                )
            self.action_done.emit(f"Saved {row.title}")

        self._write(work, done, "Saving...")

    def open_source(self) -> None:
        if self.detail is None:
            return
        if self.detail.local_path and self.detail.artifact["source_available"]:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.detail.local_path))
        elif self.detail.web_link:
            QDesktopServices.openUrl(QUrl(self.detail.web_link))

    def _push_undo(self, step: UndoStep) -> None:
        self.undo_steps.append(step)
        self.undo_action.setEnabled(True)
        self.undo_action.setText(f"Undo {step.words.lower()}")

    def _select_near(self, number: int) -> None:
        if not self.model.rowCount():
            self._show_detail(None)
            self._update_actions()
            return
        number = min(number, self.model.rowCount() - 1)
        self.table.selectRow(number)
        self.table.setFocus()
        self._update_actions()

    def _write_counted(self, work: Any, done: Any, words: str, total: int) -> None:
        """A bulk write whose progress bar counts the artifacts done."""
        self._show_count(words, 0, total)

        def finished(result: Any) -> None:
            self._end_progress()
            done(result)

        def failed(message: str) -> None:
            self._end_progress()
            self.show_error(message)

        self.writers.run_counted(
            work, lambda d, t: self._show_count(words, d, t), finished, failed
        )

    def _show_count(self, words: str, done: int, total: int) -> None:
        self.progress.setVisible(True)
        if total <= 0:
            self.progress.setRange(0, 0)  # the count is not known yet
            self.statusBar().showMessage(f"{words}...")
            return
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        text = f"{done:,} of {total:,}"
        self.progress.setFormat(text)
        self.progress.setAccessibleDescription(f"{words} {text}")
        self.statusBar().showMessage(f"{words} {text}...")
        self.bulk_progress.emit(done, total)

    def _end_progress(self) -> None:
        self.progress.setRange(0, 0)
        self.progress.setFormat("")
        self.progress.setAccessibleDescription("")
        self.progress.setVisible(self.writers.busy)
        self.statusBar().clearMessage()

    def _write(self, work: Any, done: Any, words: str) -> None:
        self.progress.setRange(0, 0)
        self.progress.setVisible(True)
        self.statusBar().showMessage(words)

        def finished(result: Any) -> None:
            self.progress.setVisible(self.writers.busy)
            self.statusBar().clearMessage()
            done(result)

        def failed(message: str) -> None:
            self.progress.setVisible(self.writers.busy)
            self.show_error(message)

        self.writers.run(work, finished, failed)

    def show_error(self, message: str) -> None:
        self.statusBar().showMessage(f"Could not finish: {message}", 15000)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # -- remembering ------------------------------------------------------

    def _restore(self) -> None:
        store = self.ui_settings
        geometry = store.value("review/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        header = store.value("review/columns")
        if isinstance(header, QByteArray):
            self.table.horizontalHeader().restoreState(header)
        splitter = store.value("review/splitter")
        if isinstance(splitter, QByteArray):
            self.splitter.restoreState(splitter)
        widgets: list[QWidget] = [
            self.tabs,
            self.search,
            self.type_filter,
            self.min_confidence,
            self.max_confidence,
            self.date_from,
            self.date_to,
        ]
        for widget in widgets:
            widget.blockSignals(True)
        self.tabs.setCurrentIndex(int(str(store.value("filter/tab", 0) or 0)))
        self.search.setText(str(store.value("filter/search", "") or ""))
        found = self.type_filter.findData(store.value("filter/type"))
        self.type_filter.setCurrentIndex(max(found, 0))
        self.min_confidence.setValue(float(str(store.value("filter/min", 0.0) or 0.0)))
        self.max_confidence.setValue(float(str(store.value("filter/max", 1.0) or 1.0)))
        for box, key in ((self.date_from, "filter/from"), (self.date_to, "filter/to")):
            text = str(store.value(key, "") or "")
            date = QDate.fromString(text, Qt.DateFormat.ISODate) if text else ANY_DATE
            box.setDate(date if date.isValid() else ANY_DATE)
        self.oldest_action.blockSignals(True)
        self.oldest_action.setChecked(str(store.value("filter/oldest", "")) == "true")
        self.oldest_action.blockSignals(False)
        self._show_order()
        for widget in widgets:
            widget.blockSignals(False)

    def remember(self) -> None:
        store = self.ui_settings
        store.setValue("review/geometry", self.saveGeometry())
        store.setValue("review/columns", self.table.horizontalHeader().saveState())
        store.setValue("review/splitter", self.splitter.saveState())
        store.setValue("filter/tab", self.tabs.currentIndex())
        store.setValue("filter/search", self.search.text())
        store.setValue("filter/type", self.type_filter.currentData() or "")
        store.setValue("filter/source", self.source_filter.currentData() or "")
        store.setValue("filter/min", self.min_confidence.value())
        store.setValue("filter/max", self.max_confidence.value())
        store.setValue(
            "filter/oldest", "true" if self.oldest_action.isChecked() else "false"
        )
        for box, key in ((self.date_from, "filter/from"), (self.date_to, "filter/to")):
            date = box.date()
            store.setValue(
                key, "" if date == ANY_DATE else date.toString(Qt.DateFormat.ISODate)
            )
        store.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.remember()
        # A closed window keeps no PDF worker; the next preview starts one.
        # On a worker: close() waits for a page being drawn.
        self.previewers.run(self.renderer.close)
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.readers.wait()
        self.model.wait()
        self.writers.wait()
        self.previewers.wait()
        self.renderer.close()


def _day_start(day: QDate) -> datetime | None:
    if day == ANY_DATE:
        return None
    local = datetime(day.year(), day.month(), day.day()).astimezone()
    return local.astimezone(UTC)


def _day_end(date: QDate) -> datetime | None:
    if date == ANY_DATE:
        return None
    start = _day_start(date.addDays(1))
    return start


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _count_words(count: int) -> str:
    return f"{count:,} artifact" + ("" if count == 1 else "s")


def _metadata_text(artifact: dict[str, Any]) -> str:
    meta = artifact.get("metadata") or {}
    lines = [
        f"Source: {artifact['source_path']}",
        f"Size: {_size_words(int(artifact['size_bytes'] or 0))}"
        f"  ·  {artifact['mime_type']}",
        f"Captured: {str(artifact['captured_date'])[:10]}"
        + (
            f"  ·  modified {str(artifact['modified_at'])[:10]}"
            if artifact.get("modified_at")
            else ""
        ),
        f"Classified by {artifact['classified_by']}: "
        f"{TYPE_WORDS.get(artifact['artifact_type'], artifact['artifact_type'])}, "
        f"{float(artifact['confidence']):.0%}",
    ]
    for key, words in (("pages", "Pages"), ("slides", "Slides")):
        if meta.get(key) not in (None, "", []):
            lines.append(f"{words}: {meta[key]}")
    if meta.get("width") and meta.get("height"):
        lines.append(f"Dimensions: {meta['width']} x {meta['height']}")
    if meta.get("duration_seconds"):
        lines.append(f"Duration: {float(meta['duration_seconds']):,.1f} s")
    for key, words in (("doi", "DOI"), ("arxiv_id", "arXiv")):
        if meta.get(key) not in (None, "", []):
            lines.append(f"{words}: {meta[key]}")
    # The engine keeps the classifier's verdict, with its reason in words,
    # under "classification".
    verdict = meta.get("classification")
    if isinstance(verdict, dict) and verdict.get("reason"):
        lines.append(f"Why: {verdict['reason']}")
    if artifact.get("review_reason"):
        lines.append(f"Reason: {artifact['review_reason']}")
    return "\n".join(lines)


def _size_words(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
