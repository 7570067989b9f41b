"""The idle benchmark runs end to end for a few seconds, so its code cannot rot.

No figure is judged here: only that the agent came up, served its scrapes and
the result is well-formed.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import idle_bench
from benchmarks.common import Options


def test_the_idle_benchmark_measures_a_real_agent(tmp_path: Path) -> None:
    options = Options(files=200, folders=10, work=tmp_path, extra={"idle_seconds": 2})

    result = idle_bench.run(options)

    assert result["watched_files"] == 350
    assert result["scrapes"] >= 1
    assert result["cpu_seconds"] >= 0
    assert result["rss_mib"] > 10
    assert {t["name"] for t in result["targets"]} == {
        "idle CPU",
        "idle resident memory",
    }
    assert "idle CPU" in idle_bench.markdown(result)
