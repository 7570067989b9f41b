"""The desktop app's idle benchmark runs end to end for a few seconds.

No figure is judged here: only that the app came up, finished its start-up
sync, stayed up and the result is well-formed.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import tray_idle_bench
from benchmarks.common import Options


def test_the_tray_idle_benchmark_measures_a_real_desktop_app(tmp_path: Path) -> None:
    options = Options(files=200, folders=10, work=tmp_path, extra={"idle_seconds": 2})

    result = tray_idle_bench.run(options)

    assert result["watched_files"] == 350
    assert result["window_seconds"] >= 2
    assert result["rss_mib"] > 10
    assert {t["name"] for t in result["targets"]} == {
        "idle CPU",
        "idle resident memory",
    }
    assert "review window" in tray_idle_bench.markdown(result)
