"""Run the benchmarks: `python -m benchmarks.run [--only NAME] [--large]`.

Every module `benchmarks/*_bench.py` is one benchmark. It has NAME, TITLE,
`run(options) -> dict` and `markdown(result) -> str`; this runner writes the
result to benchmarks/results/NAME.json and the markdown to its own section of
docs/benchmarks.md, between markers, leaving the other sections as they are.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from benchmarks.common import DOC, RESULTS, WORK, Options, write_json, write_section

BENCHMARKS_DIR = Path(__file__).resolve().parent


def discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for path in sorted(BENCHMARKS_DIR.glob("*_bench.py")):
        module = importlib.import_module(f"benchmarks.{path.stem}")
        found[module.NAME] = module
    return found


def parse(argv: Sequence[str] | None, names: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument(
        "--only", action="append", choices=names, help="run just this benchmark"
    )
    parser.add_argument(
        "--large", action="store_true", help="also the runs at a million files"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--folders", type=int, default=5_000)
    parser.add_argument("--artifacts", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=WORK, help="generated trees")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.files < 10 or args.folders < 1 or args.artifacts < 100:
        parser.error("--repeat, --files, --folders and --artifacts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    benchmarks = discover()
    args = parse(argv, sorted(benchmarks))
    options = Options(
        large=args.large,
        repeat=args.repeat,
        files=args.files,
        folders=args.folders,
        artifacts=args.artifacts,
        work=args.work.resolve(),
    )
    for name in args.only or sorted(benchmarks):
        module = benchmarks[name]
        print(f"benchmark {name}: {module.TITLE}", flush=True)
        started = time.monotonic()
        previous = args.results / f"{name}.json"
        # A benchmark may keep figures only the --large run measures.
        options.extra["previous"] = (
            json.loads(previous.read_text()) if previous.exists() else None
        )
        result = module.run(options)
        write_json(name, result, args.results)
        write_section(name, module.markdown(result), args.doc)
        print(f"benchmark {name} done in {time.monotonic() - started:.0f} s")
        for target in result.get("targets", []):
            verdict = "met" if target["met"] else "MISSED"
            print(
                f"  {target['name']}: {target['value']:g} {target['unit']} "
                f"(limit {target['limit']:g}) {verdict}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
