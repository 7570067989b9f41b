"""Classification on real files: midst-desktop against the original heuristic.

Every corpus file (`benchmarks/corpus.py`) is classified once through
`midst_desktop.classify.files.FileClassifier`, the code `classify --json`
runs (content sniffing, extraction in its worker process, rules), with the
process and its worker pinned to one core, and by the original In-Midst
heuristic (`benchmarks/original_heuristic.py`). Each file is shown to both
under its path inside its package, as a person's folder would be.

Whole source packages are held out: the packages are split into grouped
folds, and the calibration table that turns a rule's raw confidence into a
calibrated one is fitted on the other folds' files only. Accuracy and
macro-F1 are of the rules alone (no learned model). A further column shows
what the learned model adds when it has been trained on the files of the
other folds, as if the person had reviewed those; both columns are decided by
`classify.files.decide`, ceiling and all, as the app decides.

`python -m benchmarks.classify_eval --write-calibration` also fits the table
on the whole corpus and writes the one the package ships.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from benchmarks import corpus
from benchmarks.original_heuristic import classify_local

if TYPE_CHECKING:
    from midst_desktop.classify.calibration import Calibration
    from midst_desktop.classify.extract.base import Extraction
    from midst_desktop.classify.files import Decision
    from midst_desktop.classify.model import LearnedModel

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_TABLE = ROOT / "src" / "midst_desktop" / "classify" / "calibration.json"
FOLDS = 5
THRESHOLD = 0.7
TARGETS = {
    "accuracy": 0.90,
    "macro_f1": 0.85,
    "ece": 0.05,
    "coverage_at_0.7": 0.70,
    "accuracy_at_0.7": 0.95,
    "files_per_second": 40.0,
}


@dataclass
class Outcome:
    """One corpus file and what each classifier said about it."""

    package: str
    path: str
    truth: str
    predicted: str
    rule: str
    raw: float
    seconds: float
    document: str
    original: str
    original_confidence: float
    cpu_seconds: float = 0.0
    confidence: float = 0.0  # calibrated on the other folds
    model_predicted: str = ""
    model_confidence: float = 0.0
    # What the file showed the rules, so that a fold's table and model can
    # decide it again as the app would.
    head: bytes = b""
    extraction: Extraction | None = None


@contextlib.contextmanager
def _inside(folder: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _one_core() -> str:
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        return "not pinned"
    return "pinned to one core"


def _process_cpu(pid: int | None) -> float:
    """CPU seconds a process has used so far (Linux), 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    wall: float = 0.0  # seconds on the clock, on the pinned core
    cpu: float = 0.0  # CPU seconds of this process and the extraction worker


def classify_corpus(
    entries: list[dict[str, str]], folder: Path = corpus.CORPUS
) -> tuple[list[Outcome], Timing]:
    """Classify every file as `classify --json` does; returns outcomes and time.

    The files are read from folder/PACKAGE/PATH, as a `corpus.FileSet` lays them.
    """
    from midst_desktop.classify.calibration import Calibration
    from midst_desktop.classify.files import FileClassifier, read_head
    from midst_desktop.classify.model import document_of

    outcomes: list[Outcome] = []
    timing = Timing()
    with FileClassifier() as classifier:
        classifier.calibration = Calibration()  # identity: the rules' raw figures
        # The worker's start is paid once per run, as in the CLI and the sync.
        with _inside(folder / entries[0]["package"]):
            classifier.classify(Path(entries[0]["path"]))
        for entry in entries:
            relative = Path(entry["path"])
            with _inside(folder / entry["package"]):
                worker = classifier.worker_pid
                worker_cpu = _process_cpu(worker)
                cpu = time.process_time()
                started = time.perf_counter()
                decision, extraction = classifier.classify_extracted(relative)
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
                if classifier.worker_pid == worker:
                    cpu += _process_cpu(worker) - worker_cpu
                head = read_head(relative)
            timing.wall += seconds
            timing.cpu += cpu
            original = classify_local(entry["path"])
            outcomes.append(
                Outcome(
                    package=entry["package"],
                    path=entry["path"],
                    truth=entry["artifact_type"],
                    predicted=decision.artifact_type,
                    rule=decision.rule,
                    raw=decision.raw_confidence,
                    seconds=seconds,
                    cpu_seconds=cpu,
                    document=document_of(
                        relative.name,
                        relative.as_posix(),
                        decision.mime_type,
                        extraction.text,
                        extraction.metadata_json(),
                    ),
                    original=original.artifact_type,
                    original_confidence=original.confidence,
                    head=head,
                    extraction=extraction,
                )
            )
    return outcomes, timing


def grouped_folds(outcomes: list[Outcome]) -> list[list[int]]:
    """Indexes of the held-out files per fold; every package lies in one fold."""
    sizes = Counter(o.package for o in outcomes)
    folds: list[list[str]] = [[] for _ in range(FOLDS)]
    loads = [0] * FOLDS
    # Largest packages first, each into the emptiest fold: folds of like size.
    for package, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0])):
        lightest = loads.index(min(loads))
        folds[lightest].append(package)
        loads[lightest] += size
    return [
        [i for i, o in enumerate(outcomes) if o.package in set(packages)]
        for packages in folds
    ]


def cross_validate(outcomes: list[Outcome]) -> None:
    """Fill in held-out calibrated confidences and the model's held-out guesses."""
    from midst_desktop.classify.calibration import Sample, fit
    from midst_desktop.classify.model import Example
    from midst_desktop.classify.model import fit as fit_model
    from midst_desktop.classify.rules import GUESS_RULES

    for held_out in grouped_folds(outcomes):
        held = set(held_out)
        train = [o for i, o in enumerate(outcomes) if i not in held]
        table = fit(
            (Sample(o.rule, o.raw, o.predicted == o.truth) for o in train),
            unmeasured=GUESS_RULES,
        )
        model = fit_model([Example(o.document, o.truth, 1.0) for o in train])
        for index in held_out:
            outcome = outcomes[index]
            outcome.confidence = held_out_decision(outcome, table).confidence
            with_model = held_out_decision(outcome, table, model)
            outcome.model_predicted = with_model.artifact_type
            outcome.model_confidence = with_model.confidence


def held_out_decision(
    outcome: Outcome, table: Calibration, model: LearnedModel | None = None
) -> Decision:
    """The file decided by `classify.files.decide`, with a fold's table and model."""
    from midst_desktop.classify.files import decide

    path = PurePosixPath(outcome.path)
    return decide(
        path.name,
        path.as_posix(),
        None,
        outcome.head,
        outcome.extraction,
        table,
        model,
    )


def scores(
    truth: Sequence[str], predicted: Sequence[str], confidence: Sequence[float]
) -> dict[str, Any]:
    from midst_desktop.classify.calibration import expected_calibration_error

    types = sorted(set(truth))
    right = [t == p for t, p in zip(truth, predicted, strict=True)]
    recall = {}
    f1s = []
    for kind in types:
        true_positive = sum(
            1 for t, p in zip(truth, predicted, strict=True) if t == p == kind
        )
        actual = sum(1 for t in truth if t == kind)
        claimed = sum(1 for p in predicted if p == kind)
        recall[kind] = true_positive / actual
        precision = true_positive / claimed if claimed else 0.0
        f1s.append(
            2 * precision * recall[kind] / (precision + recall[kind])
            if precision + recall[kind]
            else 0.0
        )
    covered = [r for r, c in zip(right, confidence, strict=True) if c >= THRESHOLD]
    return {
        "files": len(truth),
        "accuracy": round(sum(right) / len(right), 4),
        "macro_f1": round(sum(f1s) / len(f1s), 4),
        "recall": {kind: round(value, 3) for kind, value in recall.items()},
        "ece": round(expected_calibration_error(confidence, right), 4),
        "coverage_at_0.7": round(len(covered) / len(right), 4),
        "accuracy_at_0.7": round(sum(covered) / len(covered), 4) if covered else 0.0,
    }


def time_original(entries: list[dict[str, str]]) -> float:
    started = time.perf_counter()
    for entry in entries:
        classify_local(entry["path"])
    return time.perf_counter() - started


def run(options: Any = None) -> dict[str, Any]:
    from benchmarks.common import machine, stamp, versions

    corpus.assemble()
    entries = corpus.corpus_files()
    pinned = _one_core()
    outcomes, timing = classify_corpus(entries)
    cross_validate(outcomes)
    truth = [o.truth for o in outcomes]
    ours = scores(
        truth, [o.predicted for o in outcomes], [o.confidence for o in outcomes]
    )
    # CPU seconds of both processes: what one core does when nothing else
    # runs; the shared machine's clock time is reported beside it.
    ours["files_per_second"] = round(len(outcomes) / timing.cpu, 1)
    ours["files_per_wall_second"] = round(len(outcomes) / timing.wall, 1)
    pdfs = [o for o in outcomes if o.path.endswith(".pdf")]
    ours["pdf_files_per_second"] = round(
        len(pdfs) / sum(o.cpu_seconds for o in pdfs), 1
    )
    original = scores(
        truth,
        [o.original for o in outcomes],
        [o.original_confidence for o in outcomes],
    )
    original["files_per_second"] = round(len(entries) / time_original(entries), 1)
    with_model = scores(
        truth,
        [o.model_predicted for o in outcomes],
        [o.model_confidence for o in outcomes],
    )
    mistakes = [
        {
            "package": o.package,
            "path": o.path,
            "truth": o.truth,
            "predicted": o.predicted,
            "rule": o.rule,
            "confidence": o.confidence,
        }
        for o in outcomes
        if o.predicted != o.truth
    ]
    rule_counts: dict[str, Counter[bool]] = defaultdict(Counter)
    for o in outcomes:
        rule_counts[o.rule][o.predicted == o.truth] += 1
    targets = [
        _target("accuracy (rules, held-out packages)", ours["accuracy"], "", "min"),
        _target("macro-F1 (rules, held-out packages)", ours["macro_f1"], "", "min"),
        _target("expected calibration error", ours["ece"], "", "max"),
        _target("coverage at confidence >= 0.7", ours["coverage_at_0.7"], "", "min"),
        _target("accuracy at confidence >= 0.7", ours["accuracy_at_0.7"], "", "min"),
        _target("files per CPU second, one core", ours["files_per_second"], "", "min"),
    ]
    return {
        "date": stamp(),
        "machine": machine(),
        "versions": versions(["scikit-learn", "pypdfium2", "pillow", "mutagen"]),
        "core": pinned,
        "folds": FOLDS,
        "packages": len({o.package for o in outcomes}),
        "types": dict(sorted(Counter(truth).items())),
        "midst_desktop": ours,
        "midst_desktop_with_model": with_model,
        "original_heuristic": original,
        "rules": {
            rule: {"files": c[True] + c[False], "right": c[True]}
            for rule, c in sorted(rule_counts.items())
        },
        "targets": targets,
        "mistakes": mistakes,
    }


TARGET_KEYS = {
    "accuracy (rules, held-out packages)": "accuracy",
    "macro-F1 (rules, held-out packages)": "macro_f1",
    "expected calibration error": "ece",
    "coverage at confidence >= 0.7": "coverage_at_0.7",
    "accuracy at confidence >= 0.7": "accuracy_at_0.7",
    "files per CPU second, one core": "files_per_second",
}


def _target(name: str, value: float, unit: str, kind: str) -> dict[str, Any]:
    limit = TARGETS[TARGET_KEYS[name]]
    met = value >= limit if kind == "min" else value <= limit
    return {"name": name, "value": value, "unit": unit, "limit": limit, "met": met}


def write_calibration() -> Path:
    """Fit the table on the whole corpus and write the one the package ships."""
    from midst_desktop.classify.calibration import Sample, fit, save
    from midst_desktop.classify.rules import GUESS_RULES

    corpus.assemble()
    outcomes, _ = classify_corpus(corpus.corpus_files())
    table = fit(
        (Sample(o.rule, o.raw, o.predicted == o.truth) for o in outcomes),
        unmeasured=GUESS_RULES,
    )
    save(table, SHIPPED_TABLE)
    return SHIPPED_TABLE


# The measures of a classification report: label, key in the results, format.
MEASURE_ROWS = (
    ("accuracy", "accuracy", "{:.3f}"),
    ("macro-F1", "macro_f1", "{:.3f}"),
    ("expected calibration error", "ece", "{:.3f}"),
    ("coverage at confidence >= 0.7", "coverage_at_0.7", "{:.1%}"),
    ("accuracy at confidence >= 0.7", "accuracy_at_0.7", "{:.1%}"),
)


def markdown(result: dict[str, Any]) -> str:
    from benchmarks.common import machine_line

    ours = result["midst_desktop"]
    model = result["midst_desktop_with_model"]
    original = result["original_heuristic"]
    lines = [
        "## Classification on real files",
        "",
        f"{sum(result['types'].values())} files from {result['packages']} pinned "
        "Debian packages (`benchmarks/corpus-manifest.json`), every artifact type, "
        f"evaluated with whole packages held out ({result['folds']} grouped folds). "
        "midst-desktop runs as `classify --json` does: sniffing, extraction in its "
        "worker, rules, and confidences calibrated on the other folds only. "
        "The model column adds the learned model trained on the other folds' "
        "files, as if the person had reviewed those, and decides each file with "
        "`classify.files.decide` as the app does (a verdict at 0.95 or more is "
        "not put to the model).",
        "",
        "| measure | midst-desktop (rules) | + learned model | original heuristic |",
        "|---|---|---|---|",
    ]
    for label, key, shape in MEASURE_ROWS:
        lines.append(
            f"| {label} | {shape.format(ours[key])} | {shape.format(model[key])} "
            f"| {shape.format(original[key])} |"
        )
    lines.append(
        f"| files per CPU second, one core | {ours['files_per_second']:g} "
        f"(PDFs alone {ours['pdf_files_per_second']:g}; "
        f"{ours['files_per_wall_second']:g} per second on the shared clock) | | "
        f"{original['files_per_second']:g} (names only, nothing read) |"
    )
    lines += recall_lines(result, ours, original)
    lines += ["", "Targets (held-out packages):", ""]
    lines += target_lines(result["targets"])
    lines += ["", machine_line(result), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.common import write_json, write_section

    parser = argparse.ArgumentParser(prog="python -m benchmarks.classify_eval")
    parser.add_argument("--write-calibration", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.write_calibration:
            print(f"wrote {write_calibration()}", file=sys.stderr)
        result = run()
    except corpus.CorpusError as error:
        print(f"classify: {error}", file=sys.stderr)
        return 1
    write_json("classify", result)
    write_section("classify", markdown(result))
    print(json.dumps({k: result[k] for k in ("midst_desktop", "original_heuristic")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def recall_lines(
    result: dict[str, Any], ours: dict[str, Any], original: dict[str, Any]
) -> list[str]:
    """The recall-per-type table of a classification report."""
    lines = [
        "",
        "Recall per type:",
        "",
        "| type | files | midst-desktop | original heuristic |",
        "|---|---|---|---|",
    ]
    for kind, count in result["types"].items():
        lines.append(
            f"| {kind} | {count} | {ours['recall'][kind]:.0%} "
            f"| {original['recall'][kind]:.0%} |"
        )
    return lines


def target_lines(targets: list[dict[str, Any]]) -> list[str]:
    """One line per target: its value, its limit and whether it was met."""
    lines = []
    for target in targets:
        verdict = "met" if target["met"] else "**missed**"
        sign = "<=" if "error" in target["name"] else ">="
        lines.append(
            f"- {target['name']}: {target['value']:g} "
            f"(target {sign} {target['limit']:g}) {verdict}"
        )
    return lines
