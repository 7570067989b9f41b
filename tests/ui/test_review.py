"""The review window over a real synced folder: review, edit, bulk, undo, filters."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, QPoint, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QAbstractItemView
from pytestqt.qtbot import QtBot
from sqlalchemy import event, select

from midst_desktop.store import queries
from midst_desktop.store.models import (
    Artifact,
    ArtifactStatus,
    Integration,
    IntegrationStatus,
    Provider,
    utcnow,
)
from midst_desktop.ui.review import (
    ANCHOR_STRIDE,
    BULK_CHUNK,
    CAPTURED_COLUMN,
    PAGE_SIZE,
    PLACEHOLDER,
    ReviewWindow,
)
from tests.ui.conftest import Synced, sqlite_only


def statuses(synced: Synced) -> dict[str, str]:
    with synced.database.read() as session:
        return {a.id: a.status for a in session.scalars(select(Artifact))}


def open_window(qtbot: QtBot, synced: Synced) -> ReviewWindow:
    window = ReviewWindow(synced.database, synced.settings, learn=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: not window.model.busy and bool(window.counts))
    return window


def settle(qtbot: QtBot, window: ReviewWindow) -> None:
    qtbot.waitUntil(
        lambda: (
            not window.writers.busy
            and not window.readers.busy
            and not window.model.busy
        )
    )


@sqlite_only
def test_pending_tab_lists_every_pending_artifact_with_counts(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)

    pending = [i for i, s in statuses(synced).items() if s == ArtifactStatus.PENDING]
    assert len(pending) >= 6
    assert sorted(r.id for r in window.model.rows) == sorted(pending)
    assert window.tabs.tabText(0) == f"Pending ({len(pending)})"
    assert window.tabs.tabText(1) == "Approved (0)"
    settle(qtbot, window)
    assert window.detail is not None
    assert window.detail.artifact["id"] == window.model.rows[0].id


def test_keyboard_only_review_approves_rejects_and_undoes(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    table = window.table
    table.setFocus()
    first, second = window.model.rows[0].id, window.model.rows[1].id

    qtbot.keyClick(table, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: statuses(synced)[first] == ArtifactStatus.APPROVED)
    settle(qtbot, window)
    assert first not in {r.id for r in window.model.rows}
    # The next artifact is current, so review goes on without the mouse.
    assert window.model.row_at(table.currentIndex().row()).id == second

    window.reason.setText("a duplicate")
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: statuses(synced)[second] == ArtifactStatus.REJECTED)
    with synced.database.read() as session:
        assert queries.get_artifact(session, second).review_reason == "a duplicate"
    settle(qtbot, window)
    assert window.tabs.tabText(1) == "Approved (1)"
    assert window.tabs.tabText(2) == "Rejected (1)"

    qtbot.keyClick(table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: statuses(synced)[second] == ArtifactStatus.PENDING)
    assert statuses(synced)[first] == ArtifactStatus.APPROVED
    settle(qtbot, window)
    assert second in {r.id for r in window.model.rows}


@sqlite_only
def test_down_moves_and_archive_key_archives_the_current_artifact(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Down)
    current = window.model.row_at(window.table.currentIndex().row())
    assert current is not None and current.id == window.model.rows[1].id

    qtbot.keyClick(window.table, Qt.Key.Key_E)
    qtbot.waitUntil(lambda: statuses(synced)[current.id] == ArtifactStatus.ARCHIVED)


@sqlite_only
def test_single_letter_keys_in_a_text_field_do_not_review(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    before = statuses(synced)
    qtbot.keyClicks(window.reason, "are")
    settle(qtbot, window)
    assert statuses(synced) == before


@sqlite_only
def test_bulk_archive_of_a_selection_and_its_undo(qtbot: QtBot, synced: Synced) -> None:
    window = open_window(qtbot, synced)
    every = {r.id for r in window.model.rows}
    window.table.selectAll()

    window.archive_action.trigger()
    qtbot.waitUntil(
        lambda: all(statuses(synced)[i] == ArtifactStatus.ARCHIVED for i in every)
    )
    settle(qtbot, window)
    assert window.model.rows == []
    assert window.tabs.tabText(3) == f"Archived ({len(every)})"

    window.undo_action.trigger()
    qtbot.waitUntil(
        lambda: all(statuses(synced)[i] == ArtifactStatus.PENDING for i in every)
    )
    settle(qtbot, window)
    assert {r.id for r in window.model.rows} == every


@sqlite_only
def test_undo_of_an_archived_approval_makes_it_approved_again(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    target = window.model.rows[0].id
    window.approve_action.trigger()
    qtbot.waitUntil(lambda: statuses(synced)[target] == ArtifactStatus.APPROVED)
    window.tabs.setCurrentIndex(1)
    settle(qtbot, window)
    window.table.selectRow(0)
    window.archive_action.trigger()
    qtbot.waitUntil(lambda: statuses(synced)[target] == ArtifactStatus.ARCHIVED)

    window.undo_action.trigger()
    qtbot.waitUntil(lambda: statuses(synced)[target] == ArtifactStatus.APPROVED)


@sqlite_only
def test_editing_title_type_tags_and_description_is_saved(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    settle(qtbot, window)
    target = window.detail.artifact["id"]  # type: ignore[union-attr]

    window.title_edit.setText("Layered sediments, revised")
    window.type_edit.setCurrentIndex(window.type_edit.findData("dataset"))
    window.tags_edit.setText("geology, field work, geology")
    window.description_edit.setPlainText("Measurements from the delta.")
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)

    def saved() -> bool:
        with synced.database.read() as session:
            return queries.get_artifact(session, target).description is not None

    qtbot.waitUntil(saved)
    with synced.database.read() as session:
        artifact = queries.get_artifact(session, target)
        assert artifact.title == "Layered sediments, revised"
        assert artifact.artifact_type == "dataset"
        assert artifact.classified_by == "user"
        assert artifact.tags == ["field work", "geology"]
        assert artifact.description == "Measurements from the delta."
    settle(qtbot, window)
    row = next(r for r in window.model.rows if r.id == target)
    assert row.title == "Layered sediments, revised"


@sqlite_only
def test_ctrl_z_puts_back_an_edit_of_title_type_tags_and_description(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    settle(qtbot, window)
    target = window.detail.artifact["id"]  # type: ignore[union-attr]
    with synced.database.read() as session:
        before = queries.edit_state(queries.get_artifact(session, target))
    assert before["classified_by"] != "user"

    window.title_edit.setText("Renamed by hand")
    window.type_edit.setCurrentIndex(window.type_edit.findData("dataset"))
    window.tags_edit.setText("one, two")
    window.description_edit.setPlainText("Written by hand.")
    qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(window.undo_steps))
    settle(qtbot, window)
    with synced.database.read() as session:
        assert queries.get_artifact(session, target).classified_by == "user"

    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.undo_steps)
    settle(qtbot, window)

    with synced.database.read() as session:
        artifact = queries.get_artifact(session, target)
        assert queries.edit_state(artifact) == before
        found = queries.list_artifacts(
            session, queries.ArtifactFilter(search="Renamed"), 10
        )
    assert found == []
    row = next(r for r in window.model.rows if r.id == target)
    assert row.title == before["title"]


def test_type_filter_search_and_confidence_are_answered_by_the_store(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    with synced.database.read() as session:
        every = queries.list_artifacts(session, queries.ArtifactFilter(), 100)
    common = max(
        {a.artifact_type for a in every},
        key=lambda t: sum(a.artifact_type == t for a in every),
    )

    window.type_filter.setCurrentIndex(window.type_filter.findData(common))
    settle(qtbot, window)
    assert {r.id for r in window.model.rows} == {
        a.id for a in every if a.artifact_type == common
    }

    window.type_filter.setCurrentIndex(0)
    qtbot.keyClicks(window.search, "sediments")
    qtbot.waitUntil(lambda: window.model.wanted.search == "sediments")
    settle(qtbot, window)
    found = {r.id for r in window.model.rows}
    assert found
    with synced.database.read() as session:
        titles = {queries.get_artifact(session, i).name for i in found}
    assert "sediments.md" in titles
    assert "fit.py" not in titles

    window.search.clear()
    window.min_confidence.setValue(0.99)
    settle(qtbot, window)
    assert all(r.confidence >= 0.99 for r in window.model.rows)
    assert len(window.model.rows) == sum(a.confidence >= 0.99 for a in every)

    window.min_confidence.setValue(0.0)
    tomorrow = utcnow() + timedelta(days=2)
    window.date_from.setDate(tomorrow.date())
    settle(qtbot, window)
    assert window.model.rows == []


@sqlite_only
def test_approve_all_above_a_confidence_shows_the_count_first(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    with synced.database.read() as session:
        every = queries.list_artifacts(session, queries.ArtifactFilter(), 100)
    # The box shows two decimals, so the threshold is one it can hold.
    threshold = round(sorted(a.confidence for a in every)[len(every) // 2] - 0.005, 2)
    expected = {a.id for a in every if a.confidence >= threshold}

    window.threshold.setValue(threshold)
    qtbot.waitUntil(
        lambda: window.threshold_count.text() == f"({len(expected)} would be approved)"
    )
    assert all(s == ArtifactStatus.PENDING for s in statuses(synced).values())

    window.approve_above_button.click()
    qtbot.waitUntil(
        lambda: (
            {i for i, s in statuses(synced).items() if s == ArtifactStatus.APPROVED}
            == expected
        )
    )
    # The store changed before the window heard of it: Undo is ready once it has.
    qtbot.waitUntil(window.undo_action.isEnabled)
    window.undo_action.trigger()
    qtbot.waitUntil(
        lambda: all(s == ArtifactStatus.PENDING for s in statuses(synced).values())
    )


@sqlite_only
def test_the_window_remembers_filter_columns_and_tab(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    window.tabs.setCurrentIndex(2)
    window.search.setText("river")
    window.type_filter.setCurrentIndex(window.type_filter.findData("creative_writing"))
    window.table.horizontalHeader().resizeSection(0, 211)
    settle(qtbot, window)
    window.close()

    again = open_window(qtbot, synced)
    assert again.tabs.currentIndex() == 2
    assert again.search.text() == "river"
    assert again.type_filter.currentData() == "creative_writing"
    assert again.table.horizontalHeader().sectionSize(0) == 211
    assert again.model.wanted.status == ArtifactStatus.REJECTED
    assert (synced.settings.data_dir / "ui.ini").is_file()


@sqlite_only
def test_every_widget_has_an_accessible_name(qtbot: QtBot, synced: Synced) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QTabBar,
        QTableView,
    )

    window = open_window(qtbot, synced)
    kinds = (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QTableView,
    )
    unnamed = [
        w
        for kind in kinds
        for w in window.findChildren(kind)
        if not w.accessibleName()
        and w.parent() is not None
        # Qt's own inner parts (a spin box's line edit, a tab bar's scroll
        # buttons, a line edit's clear button) take their owner's name.
        and not isinstance(
            w.parent(), QAbstractSpinBox | QComboBox | QTabBar | QLineEdit
        )
    ]
    assert unnamed == []


@sqlite_only
def test_a_source_file_that_is_gone_shows_its_badge(
    qtbot: QtBot, synced: Synced
) -> None:
    from tests.support.store import engine

    (synced.folder / "writing" / "ode.txt").unlink()
    engine(synced.database, synced.settings).sync(
        synced.integration_id, "full", "manual"
    )
    window = open_window(qtbot, synced)
    gone = next(n for n, r in enumerate(window.model.rows) if not r.source_available)
    window.table.selectRow(gone)
    qtbot.waitUntil(
        lambda: (
            window.detail is not None
            and window.detail.artifact["id"] == window.model.rows[gone].id
        )
    )
    assert window.gone_badge.isVisibleTo(window)
    assert not window.open_button.isEnabled()


@sqlite_only
def test_an_image_gets_a_thumbnail_and_a_text_file_an_excerpt(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    by_title = {r.title.lower(): n for n, r in enumerate(window.model.rows)}
    image = next(n for t, n in by_title.items() if "sketch" in t)
    window.table.selectRow(image)
    qtbot.waitUntil(
        lambda: (
            window.preview.pixmap() is not None and not window.preview.pixmap().isNull()
        )
    )
    assert window.preview.pixmap().width() <= 224

    poem = next(n for t, n in by_title.items() if "ode" in t)
    window.table.selectRow(poem)
    qtbot.waitUntil(lambda: "river bends" in window.preview.text())


@sqlite_only
def test_a_pdf_shows_its_first_page_and_a_damaged_one_its_excerpt(
    qtbot: QtBot, synced: Synced
) -> None:
    from tests.support import samples
    from tests.support.store import engine

    report = synced.folder / "report.pdf"
    report.write_bytes(
        samples.pdf(
            [["Quarterly sediment report"], ["Second page"]],
            size=(792, 612),
            drawing="0 0 1 rg 0 0 396 612 re f",
        )
    )
    damaged = synced.folder / "damaged.pdf"
    damaged.write_bytes(samples.pdf([["Field notes on clay"]]))
    engine(synced.database, synced.settings).sync(
        synced.integration_id, "full", "manual"
    )
    # Damaged after the sync: PDFium meets it only in the preview.
    damaged.write_bytes(damaged.read_bytes()[:400])
    window = open_window(qtbot, synced)
    by_name = {r.title.lower(): n for n, r in enumerate(window.model.rows)}

    window.table.selectRow(next(n for t, n in by_name.items() if "report" in t))
    qtbot.waitUntil(lambda: window.page_shown == str(report))
    image = window.preview.pixmap().toImage()
    ratio = image.devicePixelRatio()
    assert image.width() / ratio <= 224 and image.width() > image.height()
    left = image.pixelColor(10, image.height() // 2)
    right = image.pixelColor(image.width() - 10, image.height() - 5)
    assert (left.red(), left.green(), left.blue()) == (0, 0, 255)
    assert (right.red(), right.green(), right.blue()) == (255, 255, 255)

    window.table.selectRow(next(n for t, n in by_name.items() if "damaged" in t))
    qtbot.waitUntil(lambda: window.page_failed == str(damaged))
    assert window.page_shown is None
    assert "Field notes on clay" in window.preview.text()
    # The window goes on answering after a file PDFium could not read.
    window.table.selectRow(next(n for t, n in by_name.items() if "report" in t))
    qtbot.waitUntil(lambda: window.page_shown == str(report))


def add_pending(synced: Synced, count: int) -> None:
    base = utcnow()
    with synced.database.write() as session:
        for number in range(count):
            session.add(
                Artifact(
                    integration_id=synced.integration_id,
                    source_provider="local",
                    source_id=f"bulk/{number}.txt",
                    source_path=f"/bulk/{number}.txt",
                    name=f"{number}.txt",
                    title=f"Bulk {number}",
                    mime_type="text/plain",
                    artifact_type="other",
                    confidence=0.95,
                    captured_date=base - timedelta(minutes=number % 50),
                )
            )


@sqlite_only
def test_a_bulk_approval_counts_what_is_done_as_it_goes(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, PAGE_SIZE + 60)
    window = open_window(qtbot, synced)
    every = sorted(pending_ids(synced))
    total = len(every)
    # Select all takes every row of the tab, also those never read yet.
    assert window.model.rowCount() == total > len(window.model.rows)
    seen: list[tuple[int, int, str, int]] = []
    window.bulk_progress.connect(
        lambda done, of: seen.append(
            (done, of, window.progress.text(), window.progress.maximum())
        )
    )

    window.table.selectAll()
    window.approve_action.trigger()
    qtbot.waitUntil(
        lambda: all(statuses(synced)[i] == ArtifactStatus.APPROVED for i in every)
    )
    settle(qtbot, window)

    assert [(d, t) for d, t, _, _ in seen] == [
        (0, total),
        (BULK_CHUNK, total),
        (2 * BULK_CHUNK, total),
        (total, total),
    ]
    assert seen[1][2] == f"{BULK_CHUNK} of {total}"
    assert all(maximum == total for *_, maximum in seen)
    assert not window.progress.isVisible()
    assert window.model.rowCount() == 0


@sqlite_only
def test_approving_all_above_a_confidence_reports_its_progress(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, 2 * BULK_CHUNK + 10)
    window = open_window(qtbot, synced)
    seen: list[tuple[int, int]] = []
    window.bulk_progress.connect(lambda done, of: seen.append((done, of)))
    window.threshold.setValue(0.95)
    settle(qtbot, window)

    window.approve_above_button.click()
    qtbot.waitUntil(lambda: bool(window.undo_steps))
    settle(qtbot, window)

    approved = [i for i, s in statuses(synced).items() if s == "approved"]
    assert seen[-1] == (len(approved), len(approved))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(seen) >= 3


def test_clicking_captured_sorts_oldest_first_in_the_store_and_back(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, PAGE_SIZE + 30)
    window = open_window(qtbot, synced)
    header = window.table.horizontalHeader()

    def click(column: int) -> None:
        x = header.sectionViewportPosition(column) + 5
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
        settle(qtbot, window)

    def pending(oldest: bool) -> list[str]:
        wanted = queries.ArtifactFilter(status="pending", oldest_first=oldest)
        with synced.database.read() as session:
            return [a.id for a in queries.list_artifacts(session, wanted, 10_000)]

    newest = [r.id for r in window.model.rows]
    click(CAPTURED_COLUMN)
    assert window.oldest_action.isChecked()
    assert header.sortIndicatorOrder() == Qt.SortOrder.AscendingOrder
    assert read_every_row(qtbot, window) == pending(oldest=True)
    assert pending(oldest=True) == list(reversed(pending(oldest=False)))

    # Other columns do not sort: the indicator stays on Captured.
    click(0)
    assert header.sortIndicatorSection() == CAPTURED_COLUMN
    assert window.oldest_action.isChecked()

    window.table.setFocus()
    qtbot.keyClick(
        window.table,
        Qt.Key.Key_O,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    settle(qtbot, window)
    assert not window.oldest_action.isChecked()
    assert newest == pending(oldest=False)[:PAGE_SIZE]
    assert read_every_row(qtbot, window) == pending(oldest=False)
    assert header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder

    click(CAPTURED_COLUMN)
    window.remember()
    again = open_window(qtbot, synced)
    assert again.oldest_action.isChecked()
    assert again.model.rows[0].id == pending(oldest=True)[0]


def read_every_row(qtbot: QtBot, window: ReviewWindow) -> list[str]:
    """Scroll the table from the top to the end; the id the view shows in each row."""
    model = window.model
    count = model.rowCount()
    for number in [*range(0, count, 10), count - 1]:
        window.table.scrollTo(model.index(number, 0))
        qtbot.waitUntil(lambda n=number: model.row_at(n) is not None)  # type: ignore[misc]
    settle(qtbot, window)
    shown = [model.row_at(n) for n in range(model.rowCount())]
    assert None not in shown
    return [r.id for r in shown if r is not None]


def ordered_pending(synced: Synced, oldest: bool = False) -> list[str]:
    """The pending tab's ids in the order the store itself gives."""
    wanted = queries.ArtifactFilter(status="pending", oldest_first=oldest)
    with synced.database.read() as session:
        return [a.id for a in queries.list_artifacts(session, wanted, 100_000)]


def test_the_table_has_a_row_for_every_artifact_of_the_tab_before_scrolling(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, PAGE_SIZE * 2 + 37)
    window = open_window(qtbot, synced)
    expected = ordered_pending(synced)

    # The scroll bar spans the whole tab, though only the first page is read.
    assert window.model.rowCount() == len(expected) == window.counts["pending"]
    assert window.model.counted and not window.model.canFetchMore()
    assert [r.id for r in window.model.rows] == expected[:PAGE_SIZE]
    assert window.model.row_at(len(expected) - 1) is None
    bar = window.table.verticalScrollBar()
    assert bar.maximum() >= len(expected) - 40

    window.table.scrollToBottom()
    last = len(expected) - 1
    qtbot.waitUntil(lambda: window.model.row_at(last) is not None)
    assert window.model.row_at(last).id == expected[-1]  # type: ignore[union-attr]
    assert read_every_row(qtbot, window) == expected


def test_a_row_not_read_yet_shows_a_placeholder_until_its_page_lands(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, PAGE_SIZE * 3)
    window = open_window(qtbot, synced)
    model = window.model
    deep = model.index(PAGE_SIZE * 2 + 5, 0)
    assert model.row_at(deep.row()) is None

    assert model.data(deep) == PLACEHOLDER
    assert model.data(deep, Qt.ItemDataRole.UserRole) is None
    qtbot.waitUntil(lambda: model.row_at(deep.row()) is not None)
    assert model.data(deep) == model.row_at(deep.row()).title  # type: ignore[union-attr]
    assert model.row_at(deep.row()).id == ordered_pending(synced)[deep.row()]  # type: ignore[union-attr]


@sqlite_only
def test_scrolling_to_the_middle_of_thousands_shows_the_artifact_that_is_there(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, 3000)
    window = open_window(qtbot, synced)
    expected = ordered_pending(synced)
    settle(qtbot, window)
    # The anchors pass has run: a page in the middle is a short skip past one.
    assert window.model.anchors >= len(expected) // ANCHOR_STRIDE

    for middle in (len(expected) // 2, 1234, len(expected) - 3, 777):
        window.table.scrollTo(
            window.model.index(middle, 0), QAbstractItemView.ScrollHint.PositionAtTop
        )
        qtbot.waitUntil(lambda n=middle: window.model.row_at(n) is not None)  # type: ignore[misc]
        # (Near the end, the last rows fill the view from the bottom.)
        top = window.table.indexAt(QPoint(5, 5)).row()
        assert top == middle or len(expected) - middle < 40
        for number in range(middle, min(middle + 10, len(expected))):
            row = window.model.row_at(number)
            assert row is not None and row.id == expected[number]
    # Oldest first reads the same rows the other way round.
    window.oldest_action.setChecked(True)
    settle(qtbot, window)
    window.table.scrollTo(window.model.index(2000, 0))
    qtbot.waitUntil(lambda: window.model.row_at(2000) is not None)
    assert window.model.row_at(2000).id == list(reversed(expected))[2000]  # type: ignore[union-attr]


@sqlite_only
def test_the_page_cache_never_holds_more_pages_than_its_bound(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, 3000)
    window = open_window(qtbot, synced)
    window.model.cache_pages = 3
    expected = ordered_pending(synced)
    most = 0
    for number in range(0, len(expected), 97):
        window.table.scrollTo(window.model.index(number, 0))
        qtbot.waitUntil(lambda n=number: window.model.row_at(n) is not None)  # type: ignore[misc]
        most = max(most, window.model.held_pages)
        assert len(window.model.rows) <= 3 * PAGE_SIZE
    assert most == 3
    # What left the cache is read again when it is shown again.
    window.table.scrollToTop()
    qtbot.waitUntil(lambda: window.model.row_at(0) is not None)
    assert window.model.row_at(0).id == expected[0]  # type: ignore[union-attr]


@sqlite_only
def test_an_approval_in_the_middle_moves_the_rows_after_it_up_without_a_reload(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, 3000)
    window = open_window(qtbot, synced)
    settle(qtbot, window)
    expected = ordered_pending(synced)
    middle = 1500
    window.table.scrollTo(window.model.index(middle, 0))
    qtbot.waitUntil(lambda: window.model.row_at(middle + 5) is not None)
    reads: list[str] = []
    event.listen(
        synced.database.engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_: reads.append(statement),
    )
    window.table.selectRow(middle)
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: statuses(synced)[expected[middle]] == "approved")
    settle(qtbot, window)

    model = window.model
    assert model.rowCount() == len(expected) - 1
    for number in range(middle - 3, middle + 5):
        row = model.row_at(number)
        assert row is not None
        assert row.id == (expected[number] if number < middle else expected[number + 1])
    # The next artifact is current, and nothing was counted or read again.
    assert model.row_at(window.table.currentIndex().row()).id == expected[middle + 1]  # type: ignore[union-attr]
    # (The tab counts and the "approve all above" count are read again.)
    tab_counts = [
        s
        for s in reads
        if "count(" in s.lower() and "group by" not in s.lower() and ">=" not in s
    ]
    assert tab_counts == []
    assert not [s for s in reads if "row_number" in s.lower()]
    # Further down, rows read since are where the store has them now.
    window.table.scrollTo(model.index(2600, 0))
    qtbot.waitUntil(lambda: model.row_at(2600) is not None)
    assert model.row_at(2600).id == expected[2601]  # type: ignore[union-attr]


@sqlite_only
def test_selecting_all_of_a_large_tab_acts_on_rows_never_read(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, 1000)
    window = open_window(qtbot, synced)
    expected = ordered_pending(synced)
    assert len(window.model.rows) < len(expected)
    window.table.setFocus()
    window.table.selectAll()
    window.archive_action.trigger()
    qtbot.waitUntil(lambda: statuses(synced)[expected[-1]] == "archived")
    settle(qtbot, window)
    assert all(statuses(synced)[i] == "archived" for i in expected)
    assert window.model.rowCount() == 0

    window.undo_action.trigger()
    qtbot.waitUntil(lambda: statuses(synced)[expected[-1]] == "pending")
    settle(qtbot, window)
    assert window.model.rowCount() == len(expected)
    assert [r.id for r in window.model.rows] == expected[:PAGE_SIZE]


def test_the_gui_thread_keeps_running_while_the_store_is_slow(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)
    settle(qtbot, window)
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(1))

    def slow(*_args: Any) -> None:
        time.sleep(0.4)

    engine = synced.database.engine
    event.listen(engine, "before_cursor_execute", slow)
    try:
        timer.start()
        window.type_filter.setCurrentIndex(window.type_filter.findData("other"))
        assert window.model.loading
        during: list[int] = []

        def loaded() -> bool:
            if window.model.loading:
                during.append(len(ticks))
            return not window.model.loading

        qtbot.waitUntil(loaded, timeout=20000)
    finally:
        event.remove(engine, "before_cursor_execute", slow)
        timer.stop()
    # While the page was on its way, the event loop kept serving the timer.
    assert max(during) >= 5


def show(qtbot: QtBot, window: ReviewWindow, name: str) -> dict[str, Any]:
    """Make the artifact of the file called name current; its detail once shown."""
    with window.database.read() as session:
        target = session.scalars(select(Artifact.id).where(Artifact.name == name)).one()
    row = next(n for n, r in enumerate(window.model.rows) if r.id == target)
    window.table.selectRow(row)
    qtbot.waitUntil(
        lambda: window.detail is not None and window.detail.artifact["id"] == target
    )
    assert window.detail is not None
    return window.detail.artifact


@sqlite_only
def test_the_metadata_pane_shows_source_size_dates_pages_doi_and_why(
    qtbot: QtBot, synced: Synced
) -> None:
    from tests.support import samples
    from tests.support.store import engine

    paper = synced.folder / "papers" / "clay.pdf"
    paper.write_bytes(
        samples.pdf(
            [
                ["Consolidation of soft clay", "doi:10.5555/clay.2019.7"],
                ["Results", "References"],
            ],
            info={"Title": "Consolidation of soft clay"},
        )
    )
    engine(synced.database, synced.settings).sync(
        synced.integration_id, "full", "manual"
    )
    window = open_window(qtbot, synced)

    artifact = show(qtbot, window, "clay.pdf")
    reason = artifact["metadata"]["classification"]["reason"]
    assert reason
    text = window.metadata.text()
    assert f"Source: {artifact['source_path']}" in text
    assert 1024 <= paper.stat().st_size < 1024 * 1024
    assert f"Size: {paper.stat().st_size / 1024:,.1f} KB" in text
    assert f"Captured: {str(artifact['captured_date'])[:10]}" in text
    assert f"modified {str(artifact['modified_at'])[:10]}" in text
    assert "Pages: 2" in text
    assert "DOI: 10.5555/clay.2019.7" in text
    assert f"Why: {reason}" in text

    show(qtbot, window, "sketch.png")
    text = window.metadata.text()
    assert "Dimensions: 96 x 64" in text
    assert "Why: " in text


class Opened(QObject):
    """Stands in for the desktop's opener: keeps each URL the window asks it to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened(qapp: object) -> Iterator[Opened]:
    handler = Opened()
    for scheme in ("file", "https"):
        QDesktopServices.setUrlHandler(scheme, handler, "open")
    yield handler
    for scheme in ("file", "https"):
        QDesktopServices.unsetUrlHandler(scheme)


def add_cloud_artifact(
    synced: Synced, provider: str, source_id: str, source_path: str
) -> None:
    with synced.database.write() as session:
        integration = Integration(
            provider=provider, display_name=provider, status=IntegrationStatus.ACTIVE
        )
        session.add(integration)
        session.flush()
        session.add(
            Artifact(
                integration_id=integration.id,
                source_provider=provider,
                source_id=source_id,
                source_path=source_path,
                name=source_path.rsplit("/", 1)[-1],
                title=f"In {provider}",
                mime_type="application/pdf",
                artifact_type="other",
                confidence=0.5,
                captured_date=utcnow(),
            )
        )


@sqlite_only
def test_open_source_opens_the_local_file(
    qtbot: QtBot, synced: Synced, opened: Opened
) -> None:
    window = open_window(qtbot, synced)
    show(qtbot, window, "sediments.md")
    assert window.open_button.isEnabled()

    qtbot.mouseClick(window.open_button, Qt.MouseButton.LeftButton)

    path = synced.folder / "papers" / "sediments.md"
    assert opened.urls == [QUrl.fromLocalFile(str(path))]
    assert Path(opened.urls[0].toLocalFile()).read_text().startswith("On the Stab")


@sqlite_only
def test_open_source_opens_the_drive_or_dropbox_web_page(
    qtbot: QtBot, synced: Synced, opened: Opened
) -> None:
    add_cloud_artifact(
        synced, Provider.GOOGLE_DRIVE, "1AbCdEf_drive-id", "/Papers/x.pdf"
    )
    add_cloud_artifact(
        synced, "dropbox", "id:a4ayc_80_OEAAAAAAAAAXw", "/Work/Field notes.pdf"
    )
    window = open_window(qtbot, synced)

    show(qtbot, window, "x.pdf")
    qtbot.mouseClick(window.open_button, Qt.MouseButton.LeftButton)
    show(qtbot, window, "Field notes.pdf")
    qtbot.mouseClick(window.open_button, Qt.MouseButton.LeftButton)

    assert [
        url.toString(QUrl.ComponentFormattingOption.FullyEncoded) for url in opened.urls
    ] == [
        "https://drive.google.com/file/d/1AbCdEf_drive-id/view",
        "https://www.dropbox.com/home/Work/Field%20notes.pdf",
    ]


def pending_ids(synced: Synced, **wanted: Any) -> set[str]:
    """What the store itself holds for a filter, to hold the window's rows to."""
    chosen = queries.ArtifactFilter(status=ArtifactStatus.PENDING, **wanted)
    with synced.database.read() as session:
        return {a.id for a in queries.list_artifacts(session, chosen, 10_000)}


def second_folder(synced: Synced, tmp_path: Path) -> int:
    """Another local folder, really synced, beside the synced one."""
    from tests.support.store import add_local, engine, write

    other = tmp_path / "notes"
    write(other / "garden.txt", "Notes from the garden: tomatoes, beans.\n")
    write(other / "recipes.md", "# Bread\nFlour, water, salt.\n")
    integration_id = add_local(synced.database, other)
    engine(synced.database, synced.settings).sync(integration_id, "full", "manual")
    return integration_id


@sqlite_only
def test_the_source_filter_shows_one_integration_and_is_remembered(
    qtbot: QtBot, synced: Synced, tmp_path: Path
) -> None:
    notes = second_folder(synced, tmp_path)
    window = open_window(qtbot, synced)
    qtbot.waitUntil(lambda: window.source_filter.count() == 3)
    assert len(window.model.rows) == len(pending_ids(synced))

    window.source_filter.setCurrentIndex(window.source_filter.findData(notes))
    settle(qtbot, window)

    expected = pending_ids(synced, integration_id=notes)
    assert len(expected) == 2
    assert {r.id for r in window.model.rows} == expected
    # The offscreen screen is 800 px square: a restored window is fitted to
    # it, so the height is what shows that the geometry came back.
    window.resize(window.width(), 742)
    assert window.height() == 742
    window.close()

    again = open_window(qtbot, synced)
    qtbot.waitUntil(lambda: again.source_filter.currentData() == notes)
    settle(qtbot, again)
    assert again.model.wanted.integration_id == notes
    assert {r.id for r in again.model.rows} == expected
    assert again.height() == 742


def add_old_and_sure(synced: Synced) -> None:
    """Artifacts captured weeks ago, at confidences set apart from the rest."""
    old = utcnow() - timedelta(days=20)
    with synced.database.write() as session:
        for number, confidence in enumerate((0.31, 0.62, 0.93)):
            session.add(
                Artifact(
                    integration_id=synced.integration_id,
                    source_provider="local",
                    source_id=f"old/{number}.txt",
                    source_path=f"/old/{number}.txt",
                    name=f"{number}.txt",
                    title=f"Old {number}",
                    mime_type="text/plain",
                    artifact_type="other",
                    confidence=confidence,
                    captured_date=old - timedelta(days=number),
                )
            )


def every_pending(synced: Synced) -> list[Artifact]:
    with synced.database.read() as session:
        return list(
            session.scalars(
                select(Artifact).where(Artifact.status == ArtifactStatus.PENDING)
            )
        )


@sqlite_only
def test_the_highest_confidence_bound_leaves_out_what_is_above_it(
    qtbot: QtBot, synced: Synced
) -> None:
    add_old_and_sure(synced)
    window = open_window(qtbot, synced)

    window.max_confidence.setValue(0.62)
    settle(qtbot, window)

    expected = {a.id for a in every_pending(synced) if a.confidence <= 0.62}
    titles = {r.title for r in window.model.rows}
    assert {"Old 0", "Old 1"} <= titles and "Old 2" not in titles
    assert {r.id for r in window.model.rows} == expected
    window.min_confidence.setValue(0.5)
    settle(qtbot, window)
    assert {r.id for r in window.model.rows} == {
        a.id for a in every_pending(synced) if 0.5 <= a.confidence <= 0.62
    }


@sqlite_only
def test_captured_until_keeps_only_what_was_captured_by_that_day(
    qtbot: QtBot, synced: Synced
) -> None:
    add_old_and_sure(synced)
    window = open_window(qtbot, synced)
    assert len(window.model.rows) == len(every_pending(synced))
    day = (utcnow() - timedelta(days=21)).astimezone()

    window.date_to.setDate(day.date())
    settle(qtbot, window)

    # The day ends at the person's midnight, not at UTC's.
    end = day.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    expected = {
        a.id
        for a in every_pending(synced)
        if a.captured_date.replace(tzinfo=a.captured_date.tzinfo or UTC) < end
    }
    titles = {r.title for r in window.model.rows}
    assert {"Old 1", "Old 2"} <= titles and "Old 0" not in titles
    assert {r.id for r in window.model.rows} == expected


def test_a_search_finds_a_word_only_in_the_extracted_text(
    qtbot: QtBot, synced: Synced
) -> None:
    window = open_window(qtbot, synced)

    qtbot.keyClicks(window.search, "cyclic")
    qtbot.waitUntil(lambda: window.model.wanted.search == "cyclic")
    settle(qtbot, window)

    [found] = window.model.rows
    assert "cyclic" not in found.title.lower()
    with synced.database.read() as session:
        assert queries.get_artifact(session, found.id).name == "sediments.md"


@sqlite_only
def test_a_bulk_rejection_keeps_its_reason_and_counts_as_it_goes(
    qtbot: QtBot, synced: Synced
) -> None:
    add_pending(synced, BULK_CHUNK + 40)
    window = open_window(qtbot, synced)
    every = [r.id for r in window.model.rows]
    assert len(every) == window.model.rowCount()
    seen: list[tuple[int, int]] = []
    window.bulk_progress.connect(lambda done, of: seen.append((done, of)))

    window.table.selectAll()
    window.reason.setText("not mine")
    window.reject_action.trigger()
    qtbot.waitUntil(
        lambda: all(statuses(synced)[i] == ArtifactStatus.REJECTED for i in every)
    )
    settle(qtbot, window)

    assert seen == [(0, len(every)), (BULK_CHUNK, len(every)), (len(every),) * 2]
    with synced.database.read() as session:
        reasons = {queries.get_artifact(session, i).review_reason for i in every}
    assert reasons == {"not mine"}
    assert window.model.rows == []
    assert window.tabs.tabText(2) == f"Rejected ({len(every)})"


@sqlite_only
def test_a_busy_database_is_said_in_words_and_the_review_is_not_lost(
    qtbot: QtBot, synced: Synced
) -> None:
    import sqlite3

    window = open_window(qtbot, synced)
    settle(qtbot, window)
    target = window.model.rows[0].id
    assert synced.database.sqlite_path is not None
    # Another program holds the store's write lock past the busy time-out.
    other = sqlite3.connect(synced.database.sqlite_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        window.table.selectRow(0)
        window.approve_action.trigger()
        qtbot.waitUntil(
            lambda: "busy" in window.statusBar().currentMessage(), timeout=60000
        )
    finally:
        other.execute("ROLLBACK")
        other.close()

    said = window.statusBar().currentMessage()
    assert said == (
        "Could not finish: the database is busy: another program is writing "
        "to it; try again in a moment"
    )
    assert statuses(synced)[target] == ArtifactStatus.PENDING
    settle(qtbot, window)
    row = next(n for n, r in enumerate(window.model.rows) if r.id == target)
    window.table.selectRow(row)
    window.approve_action.trigger()
    qtbot.waitUntil(lambda: statuses(synced)[target] == ArtifactStatus.APPROVED)
