"""Calibration tables: raw rule confidences mapped to how often the rule is right."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from midst_desktop.classify import calibration
from midst_desktop.classify.calibration import (
    Calibration,
    Curve,
    Sample,
    expected_calibration_error,
    fit,
)


def _samples(rule: str, raw: float, files: int, right: int) -> list[Sample]:
    return [Sample(rule, raw, index < right) for index in range(files)]


def test_a_rule_right_nine_times_in_ten_is_calibrated_to_about_nine_tenths() -> None:
    samples = _samples("extension", 0.5, 200, 180) + _samples("words", 0.8, 200, 100)

    table = fit(samples, per_rule=True)

    # Each rule's record, averaged with PRIOR_WEIGHT files of the overall 0.7.
    weight = calibration.PRIOR_WEIGHT
    assert table("extension", 0.5) == pytest.approx(
        (200 * 0.9 + weight * 0.7) / (200 + weight), abs=0.002
    )
    assert table("extension", 0.5) > 0.85
    # An over-confident rule is pulled down towards what it achieves.
    assert table("words", 0.8) == pytest.approx(
        (200 * 0.5 + weight * 0.7) / (200 + weight), abs=0.002
    )


def test_calibrated_confidences_have_low_calibration_error_on_fresh_samples() -> None:
    rng = random.Random(7)
    truth = {"pdf": 0.55, "extension": 0.97, "words": 0.7}

    def draw(count: int) -> list[Sample]:
        out = []
        for _ in range(count):
            rule = rng.choice(list(truth))
            out.append(Sample(rule, 0.6, rng.random() < truth[rule]))
        return out

    table = fit(draw(3000), per_rule=True)
    fresh = draw(3000)
    raw_error = expected_calibration_error(
        [s.raw for s in fresh], [s.correct for s in fresh]
    )
    calibrated_error = expected_calibration_error(
        [table(s.rule, s.raw) for s in fresh], [s.correct for s in fresh]
    )

    assert raw_error > 0.1
    assert calibrated_error < 0.03


def test_curves_are_monotone_in_the_raw_confidence() -> None:
    rng = random.Random(3)
    samples = []
    for _ in range(2000):
        raw = rng.random()
        samples.append(Sample("pdf", raw, rng.random() < raw * 0.8 + 0.1))

    curve = fit(samples, per_rule=True).rules["pdf"]
    values = [curve(x / 100) for x in range(101)]

    assert values == sorted(values)
    assert values[0] < 0.3 < 0.7 < values[-1]


def test_a_rule_seen_on_few_files_borrows_from_all_rules() -> None:
    samples = _samples("common", 0.6, 300, 150) + _samples("rare", 0.6, 2, 2)

    table = fit(samples, per_rule=True)

    # Two right answers out of two do not make a rule certain.
    assert 0.5 < table("rare", 0.6) < 0.7
    assert table("unseen-rule", 0.6) == pytest.approx(152 / 302, abs=0.02)


def test_the_corpus_table_is_one_curve_over_all_rules() -> None:
    samples = _samples("extension", 0.5, 200, 180) + _samples("words", 0.9, 200, 190)

    table = fit(samples)

    assert not table.rules
    assert table("extension", 0.5) == table("words", 0.5) == table("new", 0.5)
    assert table("any", 0.5) == pytest.approx(0.9)
    assert table("any", 0.9) == pytest.approx(0.95)


def test_calibrated_confidence_never_claims_certainty() -> None:
    table = fit(_samples("extension", 0.9, 500, 500))

    assert table("extension", 0.9) == calibration.CEILING


def test_a_persons_reviews_move_the_shipped_table_towards_what_they_see() -> None:
    prior = fit(_samples("pdf", 0.5, 400, 360))
    reviews = _samples("pdf", 0.5, 100, 40)

    personal = fit(reviews, prior=prior, source="reviews", per_rule=True)

    weight = calibration.PRIOR_WEIGHT
    assert personal("pdf", 0.5) == pytest.approx(
        (100 * 0.4 + weight * prior("pdf", 0.5)) / (100 + weight), abs=0.002
    )
    assert personal("pdf", 0.5) < 0.6
    assert prior("pdf", 0.5) > 0.85


def test_unmeasured_rules_keep_their_raw_figure_until_the_person_reviews() -> None:
    # A guess that the corpus happens to get right 29 times in 30 (its plain
    # texts were picked as writing) says nothing about a person's plain texts.
    samples = _samples("extension-guess", 0.5, 30, 29) + _samples("pdf", 0.4, 20, 15)
    samples += _samples("code-syntax", 0.9, 100, 99) + _samples("words", 0.5, 40, 8)
    unmeasured = {"extension-guess", "pdf"}

    shipped = fit(samples, unmeasured=unmeasured)

    assert shipped("extension-guess", 0.5) == 0.5
    assert shipped("pdf", 0.4) == 0.4
    # Their files do not shape the curve the other rules share.
    assert shipped("words", 0.5) == pytest.approx(0.2, abs=0.01)
    again = Calibration.from_json(json.loads(json.dumps(shipped.to_json())), "corpus")
    assert again("extension-guess", 0.5) == 0.5
    # The person's reviews give the guess a curve of its own.
    reviews = _samples("extension-guess", 0.5, 100, 20)
    personal = fit(reviews, prior=shipped, source="reviews", per_rule=True)
    assert personal("extension-guess", 0.5) < 0.3


def test_expected_calibration_error_of_known_bins() -> None:
    confidences = [0.95] * 10 + [0.55] * 10
    correct = [True] * 10 + [True] * 5 + [False] * 5

    # Bin 0.9-1.0: |1.0 - 0.95| = 0.05; bin 0.5-0.6: |0.5 - 0.55| = 0.05.
    assert expected_calibration_error(confidences, correct) == pytest.approx(0.05)


def test_the_shipped_table_is_in_the_package_and_not_the_identity() -> None:
    table = calibration.shipped()

    assert table.source == "corpus"
    assert table.overall.files >= 300, "fitted on the corpus"
    values = [table("any-rule", raw / 20) for raw in range(21)]
    assert values == sorted(values)
    assert any(abs(value - raw / 20) > 0.02 for raw, value in enumerate(values))
    assert all(0 < value < 1 for value in values)


def test_a_tables_json_round_trips() -> None:
    table = fit(_samples("a", 0.3, 50, 10) + _samples("b", 0.9, 50, 45))

    again = Calibration.from_json(json.loads(json.dumps(table.to_json())), "corpus")

    for rule in ("a", "b", "other"):
        for raw in (0.1, 0.3, 0.9):
            assert again(rule, raw) == table(rule, raw)


def test_a_damaged_personal_table_is_discarded_for_the_shipped_one(
    tmp_path: Path,
) -> None:
    path = calibration.user_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "overall": {"points": [[0.5, 7]]}, "rules": {}}')

    table = calibration.load(tmp_path)

    assert table.source == "corpus"
    assert not path.exists()


def test_a_personal_table_is_fitted_only_once_there_are_enough_reviews(
    tmp_path: Path,
) -> None:
    few = _samples("pdf", 0.5, calibration.MIN_USER_REVIEWS - 1, 10)
    assert calibration.refit_from_reviews(tmp_path, few) is None
    assert calibration.load(tmp_path).source == "corpus"

    enough = _samples("pdf", 0.5, calibration.MIN_USER_REVIEWS + 50, 10)
    assert calibration.refit_from_reviews(tmp_path, enough) is not None

    table = calibration.load(tmp_path)
    assert table.source == "reviews"
    assert table("pdf", 0.5) < calibration.shipped()("pdf", 0.5)


def test_a_curve_rejects_points_out_of_order() -> None:
    with pytest.raises(ValueError, match="order"):
        Curve.from_json({"points": [[0.5, 0.5], [0.2, 0.6]]})
