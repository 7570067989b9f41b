"""The review window over a million artifacts: interactive, deep pages, filters, memory.

The window runs in a child process (offscreen Qt), so its memory is its own;
every figure is the real window and model reading the benchmark store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import machine, machine_line, median, stamp, versions
from benchmarks.measure import memory_mib
from benchmarks.store import SEARCH_MISS, SEARCH_SHARES, ensure_store

NAME = "review"
TITLE = "review window at a million artifacts"
TARGETS = {
    "interactive_seconds": 1.0,
    "deep_to_top20_ratio": 2.0,
    "filter_change_seconds": 0.1,
    "peak_rss_mib": 300.0,
}
WAIT_SECONDS = 300.0
FILTER_TYPES = ("academic_paper", "visual_art", "code_sample", "dataset")
# Searches by how many texts they match (benchmarks/store.py puts the words in).
SEARCHES = {
    f"search {word} ({share:.2%} of texts)": word
    for word, share in SEARCH_SHARES.items()
}
SEARCHES["search for a word in no text"] = SEARCH_MISS
SEARCHES["search for a word in titles"] = "report"
# Three letters that start many made-up words (shorter words match only
# themselves).
SEARCHES["search for a three-letter prefix"] = "kal"
OLDEST_FIRST = "sorted oldest captured first"
OTHER_FILTERS = (
    "one source of several",
    "confidence 0.9 and above",
    "confidence up to 0.5",
    "captured in 2019 (from, with until set)",
)
# The row the scroll bar is dragged to (the issue's).
DEEP_ROW = 500_000


def _wait(app: Any, condition: Callable[[], bool]) -> float:
    """Run the event loop until condition holds; the seconds it took."""
    started = time.perf_counter()
    while not condition():
        app.processEvents()
        if time.perf_counter() - started > WAIT_SECONDS:
            raise RuntimeError("the review window did not answer")
        time.sleep(0.0005)
    return time.perf_counter() - started


def _other_filters(
    window: Any,
) -> list[tuple[str, Callable[[], None], Callable[[], None]]]:
    """The source, confidence and date filters: a label, the change, its undo."""
    from PySide6.QtCore import QDate

    def source(index: int) -> Callable[[], None]:
        return lambda: window.source_filter.setCurrentIndex(index)

    def lowest(value: float) -> Callable[[], None]:
        return lambda: window.min_confidence.setValue(value)

    def highest(value: float) -> Callable[[], None]:
        return lambda: window.max_confidence.setValue(value)

    from midst_desktop.ui.review import ANY_DATE

    def until_2019() -> None:
        # Before the change timed: "until" is set, the change is "from".
        window.date_from.setDate(ANY_DATE)
        window.date_to.setDate(QDate(2019, 12, 31))

    changes = [
        (OTHER_FILTERS[0], source(1), source(0)),
        (OTHER_FILTERS[1], lowest(0.9), lowest(0.0)),
        (OTHER_FILTERS[2], highest(0.5), highest(1.0)),
        (
            OTHER_FILTERS[3],
            lambda: window.date_from.setDate(QDate(2019, 1, 1)),
            until_2019,
        ),
    ]
    return changes


def measure(data_dir: str, repeat: int) -> dict[str, Any]:
    """Open the window on the store in data_dir and time what a person waits for."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from midst_desktop.config import load_settings
    from midst_desktop.store import queries
    from midst_desktop.store.db import open_database
    from midst_desktop.ui.review import (
        ANY_DATE,
        CACHE_PAGES,
        FETCH_ROWS,
        PAGE_SIZE,
        ArtifactRow,
        ReviewWindow,
        load_page,
    )

    app = QApplication.instance() or QApplication([])
    settings = load_settings(data_dir=data_dir, environ={})
    (settings.data_dir / "ui.ini").unlink(missing_ok=True)
    database = open_database(settings.database_url)
    baseline = memory_mib("VmRSS")

    started = time.perf_counter()
    window = ReviewWindow(database, settings, learn=False)
    window.show()
    _wait(app, lambda: bool(window.model.rows))
    interactive = time.perf_counter() - started
    _wait(app, lambda: bool(window.counts))
    counts_seconds = time.perf_counter() - started

    table, model = window.table, window.model
    bar = table.verticalScrollBar()
    _wait(app, lambda: not model.busy)

    def shown(number: int) -> bool:
        return model.row_at(number) is not None

    def bottom_row() -> int:
        return table.rowAt(table.viewport().height() - 1)

    # Scrolling down a screen at a time, past the first page: each screen
    # until its last row shows.
    scroll: list[float] = []
    bar.setValue(PAGE_SIZE)
    _wait(app, lambda: shown(bottom_row()))
    for _ in range(10):
        if bar.value() >= bar.maximum():
            break  # a small store (the tests) ends before ten screens
        started = time.perf_counter()
        bar.setValue(bar.value() + bar.pageStep())
        app.processEvents()  # the view lays out and paints, asking for rows
        _wait(app, lambda: shown(bottom_row()))
        app.processEvents()  # and paints them
        scroll.append(time.perf_counter() - started)
    held_pages = model.held_pages

    # Dragging the scroll bar from the top to row 500,000 (half-way in a
    # small store) until that row shows, against the same window showing the
    # top rows read afresh: each drag reads its rows and paints them twice
    # (placeholders, then the rows). A cache of one page makes each drag
    # read its rows again.
    total = model.rowCount()
    deep_row = DEEP_ROW if total > DEEP_ROW + FETCH_ROWS else total // 2
    deep_scroll: list[float] = []
    top_scroll: list[float] = []
    model.cache_pages = 1

    def drag(row: int) -> float:
        _wait(app, lambda: not model.busy)
        started = time.perf_counter()
        bar.setValue(row)
        app.processEvents()  # the view paints placeholders and asks for rows
        _wait(app, lambda: shown(row) and not model.loading)
        app.processEvents()  # and paints the rows
        return time.perf_counter() - started

    for _ in range(repeat + 1):
        deep_scroll.append(drag(deep_row))
        top_scroll.append(drag(0))
    deep_scroll, top_scroll = deep_scroll[1:], top_scroll[1:]
    model.cache_pages = CACHE_PAGES

    filters: dict[str, list[float]] = {}
    for artifact_type in FILTER_TYPES:
        for _ in range(repeat):
            window.type_filter.setCurrentIndex(0)
            # The count and anchors of the last filter are read, too.
            _wait(app, lambda: not window.model.busy)
            started = time.perf_counter()
            window.type_filter.setCurrentIndex(
                window.type_filter.findData(artifact_type)
            )
            _wait(app, lambda: not window.model.loading)
            filters.setdefault(artifact_type, []).append(time.perf_counter() - started)
    window.type_filter.setCurrentIndex(0)
    _wait(app, lambda: not window.model.loading)
    for label, change, undo in _other_filters(window):
        for _ in range(repeat):
            undo()
            _wait(app, lambda: not window.model.busy)
            started = time.perf_counter()
            change()
            _wait(app, lambda: not window.model.loading)
            filters.setdefault(label, []).append(time.perf_counter() - started)
        undo()
        _wait(app, lambda: not window.model.busy)
    window.date_to.setDate(ANY_DATE)
    _wait(app, lambda: not window.model.busy)
    for label, word in SEARCHES.items():
        for _ in range(repeat):
            window.search.setText("")
            window.apply_filter()
            _wait(app, lambda: not window.model.busy)
            started = time.perf_counter()
            window.search.setText(word)
            window.apply_filter()
            _wait(app, lambda: not window.model.loading)
            filters.setdefault(label, []).append(time.perf_counter() - started)
    window.search.setText("")
    window.apply_filter()
    _wait(app, lambda: not window.model.loading)
    for _ in range(repeat):
        _wait(app, lambda: not window.model.busy)
        started = time.perf_counter()
        window.oldest_action.setChecked(True)
        _wait(app, lambda: not window.model.loading)
        filters.setdefault(OLDEST_FIRST, []).append(time.perf_counter() - started)
        window.oldest_action.setChecked(False)
        _wait(app, lambda: not window.model.busy)

    pending = queries.ArtifactFilter(status="pending")
    with database.engine.connect() as conn:
        counted = conn.exec_driver_sql(
            "SELECT count(*) FROM artifacts WHERE status = 'pending'"
        ).scalar_one()
        # The row half-way down, found without the clock running.
        deep = conn.exec_driver_sql(
            "SELECT id, captured_date FROM artifacts WHERE status = 'pending' "
            "ORDER BY captured_date DESC, id DESC LIMIT 1 OFFSET ?",
            (counted // 2,),
        ).one()
    with database.read() as session:
        anchor = queries.get_artifact(session, deep[0])
        after = ArtifactRow(
            anchor.id, "", "", 0.0, "", "", True, anchor.captured_date, None
        )

    def timed(page: Callable[[], object]) -> list[float]:
        seconds = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            page()
            seconds.append(time.perf_counter() - started)
        return seconds[1:]

    top20 = timed(lambda: load_page(database, pending, None, 20))
    deep20 = timed(lambda: load_page(database, pending, after, 20))
    deep_page = timed(lambda: load_page(database, pending, after, PAGE_SIZE))

    window.shutdown()
    peak = memory_mib("VmHWM")
    database.dispose()
    assert counted == total
    return {
        "pending": total,
        "page_size": PAGE_SIZE,
        "fetch_rows": FETCH_ROWS,
        "held_pages": held_pages,
        "deep_row": deep_row,
        "scroll_to_deep_seconds": median(deep_scroll),
        "scroll_to_top_seconds": median(top_scroll),
        "interactive_seconds": interactive,
        "counts_seconds": counts_seconds,
        "scroll_page_seconds": scroll,
        "filter_change_seconds": {k: median(v) for k, v in filters.items()},
        "top20_seconds": median(top20),
        "deep20_seconds": median(deep20),
        "deep_page_seconds": median(deep_page),
        "deep20_to_top20_ratio": median(deep20) / median(top20),
        # The target: the window showing row 500,000, against it showing the
        # top 20 rows, both read from the store.
        "deep_to_top20_ratio": median(deep_scroll) / median(top_scroll),
        "deep_scroll_to_top20_read_ratio": median(deep_scroll) / median(top20),
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak,
    }


def run(options: Any) -> dict[str, Any]:
    data_dir = ensure_store(options.work, options.artifacts)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.review_bench",
            str(data_dir),
            str(options.repeat),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    figures["artifacts"] = options.artifacts
    return {
        "repeat": options.repeat,
        "targets": targets(figures),
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["PySide6-Essentials", "SQLAlchemy"]),
        "figures": figures,
    }


def targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    slowest_filter = max(figures["filter_change_seconds"].values())
    measured = {
        "interactive_seconds": (figures["interactive_seconds"], "s"),
        "deep_to_top20_ratio": (figures["deep_to_top20_ratio"], "x"),
        "filter_change_seconds": (slowest_filter, "s"),
        "peak_rss_mib": (figures["peak_rss_mib"], "MiB"),
    }
    return [
        {
            "name": name,
            "value": round(value, 4),
            "unit": unit,
            "limit": TARGETS[name],
            "met": value <= TARGETS[name],
        }
        for name, (value, unit) in measured.items()
    ]


def markdown(result: dict[str, Any]) -> str:
    f = result["figures"]
    filters = f["filter_change_seconds"]
    slowest_filter = max(filters.values())
    rows = [
        (
            "interactive (first page shown)",
            f"{f['interactive_seconds'] * 1000:.0f} ms",
            "< 1 s",
        ),
        ("tab counts shown", f"{f['counts_seconds'] * 1000:.0f} ms", ""),
        (
            f"scroll bar dragged from the top to row {f['deep_row']:,} until it "
            "shows, against dragged back to the top until its rows show",
            f"{f['deep_to_top20_ratio']:.2f}x "
            f"({f['scroll_to_deep_seconds'] * 1000:.2f} / "
            f"{f['scroll_to_top_seconds'] * 1000:.2f} ms)",
            "<= 2x",
        ),
        (
            f"the drag to row {f['deep_row']:,} against 20 rows read at the top "
            "(the query alone, no painting)",
            f"{f['deep_scroll_to_top20_read_ratio']:.1f}x "
            f"({f['scroll_to_deep_seconds'] * 1000:.2f} / "
            f"{f['top20_seconds'] * 1000:.2f} ms)",
            "",
        ),
        (
            "20 rows read after row {:,} / at the top (the query alone)".format(
                f["pending"] // 2
            ),
            f"{f['deep20_to_top20_ratio']:.2f}x "
            f"({f['deep20_seconds'] * 1000:.2f} / {f['top20_seconds'] * 1000:.2f} ms)",
            "",
        ),
        (
            f"a page of {f['page_size']} half-way down",
            f"{f['deep_page_seconds'] * 1000:.1f} ms",
            "",
        ),
        (
            "a screen further down while scrolling (median of 10)",
            f"{median(f['scroll_page_seconds']) * 1000:.1f} ms",
            "",
        ),
        (
            "filter change, the slowest below",
            f"{slowest_filter * 1000:.0f} ms",
            "< 100 ms",
        ),
        ("peak memory (VmHWM)", f"{f['peak_rss_mib']:.0f} MiB", "< 300 MB"),
    ]
    lines = [
        f"{f['artifacts']:,} artifacts ({f['pending']:,} pending), SQLite, "
        "offscreen Qt, the real window and model.",
        "",
        machine_line(result),
        "",
        "| figure | measured | target |",
        "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "Each filter change in the Pending tab, from the change to the first page "
        f"shown (median of {result.get('repeat', 3)}):",
        "",
        "| filter | first page shown |",
        "|---|---|",
        *[f"| {name} | {value * 1000:.0f} ms |" for name, value in filters.items()],
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(
        json.dumps(measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 3))
    )
