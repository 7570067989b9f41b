"""The classification benchmark's own parts: the baseline, the folds, the scores."""

from __future__ import annotations

import itertools

import pytest
from benchmarks import classify_eval
from benchmarks.original_heuristic import LOCAL_MIMES, classify_by_heuristics

PPTX = LOCAL_MIMES["pptx"]
XLSX = LOCAL_MIMES["xlsx"]


@pytest.mark.parametrize(
    ("name", "path", "mime", "expected"),
    [
        # The table of results the research notes got by running the original.
        ("dissertation.pdf", "/Academic/", "application/pdf", ("academic_paper", 0.7)),
        ("talk.pptx", "talk.pptx", PPTX, ("creative_writing", 0.65)),
        ("talk.pptx", "talk.pptx", "", ("presentation", 0.8)),
        ("sheet.xlsx", "sheet.xlsx", XLSX, ("creative_writing", 0.65)),
        ("essay.docx", "essay.docx", "", ("creative_writing", 0.65)),
        ("notes.txt", "Research/notes.txt", "text/plain", ("academic_paper", 0.68)),
        ("readme.md", "readme.md", "text/markdown", ("other", 0.5)),
        (
            "My Paper",
            "My Paper",
            "application/vnd.google-apps.document",
            ("academic_paper", 0.72),
        ),
        ("archive.zip", "archive.zip", "", ("dataset", 0.7)),
        ("random.xyz", "Smart Home/random.xyz", "", ("visual_art", 0.7)),
        ("talk.key", "talk.key", "", ("presentation", 0.8)),
    ],
)
def test_the_baseline_reproduces_the_original_heuristic(
    name: str, path: str, mime: str, expected: tuple[str, float]
) -> None:
    result = classify_by_heuristics(name, path, mime)

    assert (result.artifact_type, result.confidence) == expected


def _outcome(package: str, truth: str = "other") -> classify_eval.Outcome:
    return classify_eval.Outcome(
        package=package,
        path="x",
        truth=truth,
        predicted=truth,
        rule="r",
        raw=0.5,
        seconds=0.0,
        document="",
        original="other",
        original_confidence=0.5,
    )


def test_folds_hold_out_whole_packages_and_cover_every_file() -> None:
    outcomes = [_outcome(f"p{n % 13}") for n in range(200)]

    folds = classify_eval.grouped_folds(outcomes)

    assert sorted(i for fold in folds for i in fold) == list(range(200))
    packages = [{outcomes[i].package for i in fold} for fold in folds]
    for one, other in itertools.combinations(packages, 2):
        assert not one & other
    assert all(fold for fold in folds)


def test_scores_of_a_small_known_case() -> None:
    truth = ["a", "a", "b", "b"]
    predicted = ["a", "b", "b", "b"]
    confidence = [0.9, 0.8, 0.6, 0.95]

    result = classify_eval.scores(truth, predicted, confidence)

    assert result["accuracy"] == 0.75
    assert result["recall"] == {"a": 0.5, "b": 1.0}
    # F1(a) = 2/3 (precision 1, recall 1/2); F1(b) = 0.8 (precision 2/3, recall 1).
    assert result["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2, abs=1e-4)
    assert result["coverage_at_0.7"] == 0.75
    assert result["accuracy_at_0.7"] == pytest.approx(2 / 3, abs=1e-4)
