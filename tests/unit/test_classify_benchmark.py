"""The classification benchmark's own parts: the baseline, the folds, the scores."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from benchmarks import classify_eval
from benchmarks.original_heuristic import LOCAL_MIMES, classify_by_heuristics

from midst_desktop.classify.calibration import Calibration, Curve
from midst_desktop.classify.extract import extract_file
from midst_desktop.classify.files import MODEL_CEILING
from midst_desktop.classify.model import Example, document_of, fit
from midst_desktop.classify.rules import SNIFF_BYTES, classify
from tests.support import samples

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


def test_the_model_column_is_decided_as_the_app_decides(tmp_path: Path) -> None:
    talk = tmp_path / "talk.pptx"
    talk.write_bytes(samples.pptx([["Results"], ["Method"], ["Thanks"]]))
    extraction = extract_file(talk)
    head = talk.read_bytes()[:SNIFF_BYTES]
    verdict = classify(talk.name, talk.name, None, head, extraction)
    document = document_of(
        talk.name,
        talk.name,
        verdict.mime_type,
        extraction.text,
        extraction.metadata_json(),
    )
    # A person who files such decks as datasets, and writes poems otherwise.
    model = fit(
        [Example(document, "dataset", 1.0)] * 15
        + [Example("winter river heron stanza", "creative_writing", 1.0)] * 15
    )
    guess, probability = model.predict(document)
    assert guess == "dataset" and probability > 0.97
    outcome = replace(
        _outcome("p", truth="presentation"),
        path=talk.name,
        predicted=str(verdict.artifact_type),
        rule=verdict.rule,
        raw=verdict.confidence,
        head=head,
        extraction=extraction,
    )

    def table(calibrated: float) -> Calibration:
        flat = Curve((0.0, 1.0), (calibrated, calibrated))
        return Calibration(rules={verdict.rule: flat})

    sure = classify_eval.held_out_decision(outcome, table(0.96), model)
    unsure = classify_eval.held_out_decision(outcome, table(0.5), model)

    # A verdict at the ceiling is not put to the model, however sure it is.
    assert MODEL_CEILING <= 0.96
    assert (sure.artifact_type, sure.confidence) == ("presentation", 0.96)
    assert (unsure.artifact_type, unsure.classified_by) == ("dataset", "model")
    assert unsure.confidence == probability
