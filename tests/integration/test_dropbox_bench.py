"""The Dropbox benchmark on a small Dropbox: it runs, and the counts are ideal."""

from __future__ import annotations

from pathlib import Path

from benchmarks import dropbox_bench
from benchmarks.common import Options


def test_the_dropbox_benchmark_meets_the_ideal_request_counts(tmp_path: Path) -> None:
    result = dropbox_bench.run(Options(files=300, folders=12, work=tmp_path))

    assert result["full"]["listing_requests"] == 3  # token, cursor, one page
    assert result["full"]["downloads"] == result["full"]["ideal_downloads"] == 3
    assert result["after_changes"]["listing_requests"] == 1
    assert result["no_change"]["requests"] == 1
    assert all(target["met"] for target in result["targets"])
    assert "| full import | 3 (3) |" in dropbox_bench.markdown(result)


def test_the_changed_files_are_spread_over_the_formats() -> None:
    extensions = ["pdf" if n % 100 == 0 else f"x{n % 8}" for n in range(100_000)]
    paths = [f"/Work/file {n}.{ext}" for n, ext in enumerate(extensions)]

    picked = dropbox_bench.picks(paths)

    assert len(set(picked)) == dropbox_bench.CHANGES
    formats = [p.rsplit(".", 1)[1] for p in picked]
    assert set(formats) >= {f"x{n}" for n in range(8)}
    assert formats.count("pdf") <= 2
