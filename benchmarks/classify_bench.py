"""`make bench` section for classification; the work is in `classify_eval`."""

from __future__ import annotations

from typing import Any

from benchmarks import classify_eval

NAME = "classify"
TITLE = "classification on real files, against the original heuristic"


def run(options: Any) -> dict[str, Any]:
    return classify_eval.run(options)


def markdown(result: dict[str, Any]) -> str:
    return classify_eval.markdown(result)
