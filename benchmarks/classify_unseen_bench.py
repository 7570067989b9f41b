"""`make bench` section: the shipped rules on packages they were never tuned on."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from benchmarks import classify_eval
from benchmarks.corpus import FileSet
from benchmarks.unseen import UNSEEN

NAME = "classify_unseen"
TITLE = "classification of packages the rules were never tuned on"

MEASURES = [
    ("accuracy (rules, unseen packages)", "accuracy", "min"),
    ("macro-F1 (rules, unseen packages)", "macro_f1", "min"),
    ("expected calibration error", "ece", "max"),
    ("coverage at confidence >= 0.7", "coverage_at_0.7", "min"),
    ("accuracy at confidence >= 0.7", "accuracy_at_0.7", "min"),
    ("files per CPU second, one core", "files_per_second", "min"),
]


def evaluate(files: FileSet) -> dict[str, Any]:
    """Classify every file of the set as the app does, with the shipped table.

    Nothing is fitted on these files: the calibration is the one the package
    ships (fitted on the corpus), and no learned model takes part.
    """
    from midst_desktop.classify.calibration import shipped

    files.assemble()
    entries = files.files()
    outcomes, timing = classify_eval.classify_corpus(entries, files.folder)
    table = shipped()
    for outcome in outcomes:
        decision = classify_eval.held_out_decision(outcome, table)
        outcome.predicted = decision.artifact_type
        outcome.rule = decision.rule
        outcome.confidence = decision.confidence

    truth = [o.truth for o in outcomes]
    ours = classify_eval.scores(
        truth, [o.predicted for o in outcomes], [o.confidence for o in outcomes]
    )
    ours["files_per_second"] = round(len(outcomes) / max(timing.cpu, 1e-9), 1)
    ours["files_per_wall_second"] = round(len(outcomes) / max(timing.wall, 1e-9), 1)
    original = classify_eval.scores(
        truth,
        [o.original for o in outcomes],
        [o.original_confidence for o in outcomes],
    )
    original["files_per_second"] = round(
        len(entries) / max(classify_eval.time_original(entries), 1e-9), 1
    )

    rule_counts: dict[str, Counter[bool]] = defaultdict(Counter)
    for o in outcomes:
        rule_counts[o.rule][o.predicted == o.truth] += 1
    return {
        "packages": dict(sorted(Counter(o.package for o in outcomes).items())),
        "types": dict(sorted(Counter(truth).items())),
        "midst_desktop": ours,
        "original_heuristic": original,
        "rules": {
            rule: {"files": c[True] + c[False], "right": c[True]}
            for rule, c in sorted(rule_counts.items())
        },
        "targets": [
            _target(name, key, ours[key], kind) for name, key, kind in MEASURES
        ],
        "mistakes": [
            {
                "package": o.package,
                "path": o.path,
                "truth": o.truth,
                "predicted": o.predicted,
                "rule": o.rule,
                "raw_confidence": round(o.raw, 3),
                "confidence": round(o.confidence, 3),
            }
            for o in outcomes
            if o.predicted != o.truth
        ],
    }


def _target(name: str, key: str, value: float, kind: str) -> dict[str, Any]:
    limit = classify_eval.TARGETS[key]
    met = value >= limit if kind == "min" else value <= limit
    return {"name": name, "value": value, "unit": "", "limit": limit, "met": met}


def run(options: Any = None) -> dict[str, Any]:
    from benchmarks.common import machine, stamp, versions

    pinned = classify_eval._one_core()
    result = evaluate(UNSEEN)
    return {
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["scikit-learn", "pypdfium2", "pillow", "mutagen"]),
        "core": pinned,
        **result,
    }


def markdown(result: dict[str, Any]) -> str:
    from benchmarks.common import machine_line

    ours = result["midst_desktop"]
    original = result["original_heuristic"]
    lines = [
        "## Classification of packages the rules were never tuned on",
        "",
        f"{sum(result['types'].values())} files from {len(result['packages'])} "
        "pinned Debian packages that are not in the corpus "
        "(`benchmarks/unseen-manifest.json`, picks in `benchmarks/unseen.py`), "
        "labelled by package and path and committed before any classifier ran on "
        "them. midst-desktop runs as `classify --json` does, with the calibration "
        "it ships; nothing is fitted on these files and no learned model takes "
        "part. This is the figure to quote for files the rules have not seen.",
        "",
        "| measure | midst-desktop (rules, shipped calibration) | original heuristic |",
        "|---|---|---|",
    ]
    for label, key, shape in classify_eval.MEASURE_ROWS:
        lines.append(
            f"| {label} | {shape.format(ours[key])} | {shape.format(original[key])} |"
        )
    lines.append(
        f"| files per CPU second, one core | {ours['files_per_second']:g} "
        f"({ours['files_per_wall_second']:g} per second on the shared clock) | "
        f"{original['files_per_second']:g} (names only, nothing read) |"
    )
    lines += classify_eval.recall_lines(result, ours, original)
    lines += ["", "Targets of issue 3, on these unseen packages:", ""]
    lines += classify_eval.target_lines(result["targets"])
    mistakes = result["mistakes"]
    lines += ["", f"Misses ({len(mistakes)}), with the rule that decided each:", ""]
    if mistakes:
        lines += [
            "| package | file | true type | said | rule | confidence |",
            "|---|---|---|---|---|---|",
        ]
        for miss in mistakes:
            lines.append(
                f"| {miss['package']} | `{miss['path'].rsplit('/', 1)[-1]}` "
                f"| {miss['truth']} | {miss['predicted']} | `{miss['rule']}` "
                f"| {miss['confidence']:.2f} |"
            )
    lines += ["", machine_line(result), ""]
    return "\n".join(lines)
