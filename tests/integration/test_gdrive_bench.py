"""The Google Drive benchmark on a small drive: it runs, and the counts are ideal."""

from __future__ import annotations

from pathlib import Path

from benchmarks import gdrive_bench
from benchmarks.common import Options


def test_the_gdrive_benchmark_meets_the_ideal_request_counts(tmp_path: Path) -> None:
    result = gdrive_bench.run(Options(files=300, folders=60, work=tmp_path))

    # Start token, root, one page of folders, one page of files.
    assert result["full"]["listing_requests"] == 4
    assert result["full"]["downloads"] == result["full"]["ideal_downloads"] == 3
    # /Work holds every folder: the whole drive, filtered.
    assert result["full_included_folders"]["listing_requests"] == 4
    assert result["after_changes"]["listing_requests"] == 1
    assert result["after_changes"]["run"]["removed"] == 20
    # The process keeps its access token: only the first run refreshes it,
    # and a quiet incremental sync is one request in all.
    assert result["full"]["token_requests"] == 1
    assert result["after_changes"]["token_requests"] == 0
    assert result["no_change"]["requests"] == 1
    assert result["no_change"]["by_route"] == {"/drive/v3/changes": 1}
    assert all(target["met"] for target in result["targets"])
    assert '| full import, "/" included | 4 (4) |' in gdrive_bench.markdown(result)
