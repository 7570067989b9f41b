"""The sync benchmark runs end to end on a small tree, so its code cannot rot.

Times are never asserted: only that every figure is there and well-formed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from benchmarks import run
from benchmarks.common import markers, write_section
from benchmarks.tree import TreeSpec, ensure_tree, make_changes, pick_changes, plan


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_the_tree_is_planned_the_same_every_time_and_changes_are_undone(
    tmp_path: Path,
) -> None:
    spec = TreeSpec(files=300, folders=12)
    assert list(plan(spec)) == list(plan(spec))
    root = ensure_tree(tmp_path, spec)
    before = tree_digest(root)
    assert len(before) == 300

    changes = pick_changes(spec, 100, 0)
    assert [c.kind for c in changes].count("edit") == 40
    make_changes(tmp_path, spec, changes)
    assert tree_digest(root) != before
    ensure_tree(tmp_path, spec)  # finds the journal of changes and undoes them

    assert tree_digest(root) == before


def test_a_section_is_replaced_in_place_and_the_others_are_kept(
    tmp_path: Path,
) -> None:
    doc = tmp_path / "benchmarks.md"
    write_section("sync", "## Sync\n\nold", doc)
    write_section("classify", "## Classification\n\nkept", doc)
    write_section("sync", "## Sync\n\nnew", doc)

    text = doc.read_text()
    assert "kept" in text and "new" in text and "old" not in text
    start, end = markers("sync")
    assert text.count(start) == text.count(end) == 1
    assert text.index(start) < text.index(markers("classify")[0])


def test_the_sync_benchmark_writes_every_figure_and_its_section(
    tmp_path: Path,
) -> None:
    results, doc = tmp_path / "results", tmp_path / "benchmarks.md"
    code = run.main(
        [
            "--only",
            "sync",
            "--files",
            "200",
            "--folders",
            "10",
            "--artifacts",
            "500",
            "--repeat",
            "1",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(results),
            "--doc",
            str(doc),
        ]
    )

    assert code == 0
    result = json.loads((results / "sync.json").read_text())
    measured = result["measurements"]
    for name in (
        "find",
        "stat_walk",
        "floor",
        "store_floor",
        "full_sync",
        "no_change_sync",
        "changed_sync",
        "watched_changes",
    ):
        assert measured[name]["median"] > 0, name
        assert len(measured[name]["seconds"]) == 1
    assert measured["full_sync"]["counts"]["listed"] == 200
    assert measured["no_change_sync"]["counts"]["unchanged"] == 200
    changed = measured["changed_sync"]["counts"]
    assert (changed["created"], changed["updated"], changed["removed"]) == (30, 40, 30)
    assert [row["files"] for row in result["memory"]] == [20, 200]
    assert all(row["full_sync_peak_rss_mib"] > 0 for row in result["memory"])
    query = result["list_query"]
    assert query["artifacts"] == 500
    assert query["page_sizes"] == {"first_page": 20, "deep_page": 20}
    assert len(result["targets"]) == 8
    assert all(isinstance(t["met"], bool) for t in result["targets"])
    assert result["machine"]["cpus"] >= 1

    text = doc.read_text()
    start, end = markers("sync")
    section = text[text.index(start) : text.index(end)]
    assert "200 files in 10 folders" in section
    assert "| full sync |" in section
    assert "| full sync, against the rows it stores |" in section
    assert "on the batch writer's thread: writing batches" in section
    # The tree was put back: every file as planned, none of the added ones.
    assert len(tree_digest(tmp_path / "work" / "trees" / TreeSpec(200, 10).name)) == 200
