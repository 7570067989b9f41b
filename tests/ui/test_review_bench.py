"""The review benchmark runs end to end on a small store, so its code cannot rot.

Times are never asserted: only that every figure is there and well-formed.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import review_bench
from benchmarks.common import machine
from benchmarks.store import ensure_store


def test_the_review_benchmark_measures_every_figure(
    qapp: object, tmp_path: Path
) -> None:
    data_dir = ensure_store(tmp_path, 1200)

    figures = review_bench.measure(str(data_dir), repeat=1)

    assert figures["pending"] > 400
    assert 1 <= len(figures["scroll_page_seconds"]) <= 10
    assert set(figures["filter_change_seconds"]) == {
        *review_bench.FILTER_TYPES,
        *review_bench.OTHER_FILTERS,
        *review_bench.SEARCHES,
        review_bench.OLDEST_FIRST,
    }
    assert all(v > 0 for v in figures["filter_change_seconds"].values())
    assert figures["deep_to_top20_ratio"] > 0
    # The window itself was scrolled half-way down the small tab.
    assert figures["deep_row"] == figures["pending"] // 2
    assert figures["scroll_to_deep_seconds"] > 0
    assert figures["held_pages"] >= 1
    assert figures["peak_rss_mib"] >= figures["baseline_rss_mib"] > 0
    figures["artifacts"] = 1200
    result = {
        "date": "today",
        "machine": machine(),
        "versions": {"python": "3"},
        "figures": figures,
        "targets": review_bench.targets(figures),
    }
    assert {t["name"] for t in result["targets"]} == set(review_bench.TARGETS)
    text = review_bench.markdown(result)
    assert "| interactive (first page shown) |" in text
    assert f"to row {figures['deep_row']:,} until it shows" in text
    assert "1,200 artifacts" in text
