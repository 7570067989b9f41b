"""Calibrated confidence: how often the rules are right at each raw confidence.

A calibration table maps (rule, raw confidence) to the share of files such
verdicts got right, as isotonic (monotone) curves. The table shipped in the
package (`calibration.json`, written by `benchmarks/classify_eval.py
--write-calibration`) is one curve over all rules: with whole packages held
out, curves per rule did worse (expected calibration error 0.077 with 32
pseudo-files of shrinkage, 0.053 with 1,000) than the one curve (0.036),
because a rule's record on one package says little about the next. Once
the person has reviewed `MIN_USER_REVIEWS` artifacts, a table fitted on
their reviews is kept in the data dir and used instead: there each rule
gets its own curve, shrunk by `PRIOR_WEIGHT` pseudo-files towards the
shipped curve, since their next files resemble the ones they reviewed.
Applying a table is a binary search: no numpy, no scikit-learn, so
classifying stays cheap and start-up fast.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from midst_desktop.classify.rules import Classification

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
SHIPPED_NAME = "calibration.json"
USER_FILE = "calibration.json"
# How many reviews' worth of the shipped curve a rule's own curve on the
# person's reviews is averaged with.
PRIOR_WEIGHT = 8.0
MIN_USER_REVIEWS = 50
# A calibrated rule never claims certainty; 1.0 is for a type the person set.
CEILING = 0.99
FLOOR = 0.01


@dataclass(frozen=True, slots=True)
class Sample:
    """One verdict and whether it was right."""

    rule: str
    raw: float
    correct: bool


@dataclass(frozen=True, slots=True)
class Curve:
    """A monotone piecewise-linear map from raw to calibrated confidence."""

    xs: tuple[float, ...]
    ys: tuple[float, ...]
    files: int = 0

    def __call__(self, raw: float) -> float:
        if not self.xs:
            return raw
        if raw <= self.xs[0]:
            return self.ys[0]
        if raw >= self.xs[-1]:
            return self.ys[-1]
        index = bisect_left(self.xs, raw)
        x0, x1 = self.xs[index - 1], self.xs[index]
        y0, y1 = self.ys[index - 1], self.ys[index]
        return y0 + (y1 - y0) * (raw - x0) / (x1 - x0)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "points": [[x, y] for x, y in zip(self.xs, self.ys, strict=True)],
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Curve:
        points = [(float(x), float(y)) for x, y in value["points"]]
        xs = tuple(x for x, _ in points)
        ys = tuple(y for _, y in points)
        if any(b < a for a, b in pairwise(xs)):
            raise ValueError("calibration points are not in order")
        if any(not 0.0 <= y <= 1.0 for y in ys):
            raise ValueError("calibrated confidences must lie in 0..1")
        return cls(xs, ys, int(value.get("files", 0)))


IDENTITY = Curve((), ())


@dataclass(frozen=True, slots=True)
class Calibration:
    """Curves per rule and one for rules the table has not seen."""

    overall: Curve = IDENTITY
    rules: dict[str, Curve] = field(default_factory=dict)
    source: str = "none"

    def __call__(self, rule: str, raw: float) -> float:
        curve = self.rules.get(rule, self.overall)
        value = curve(raw)
        return round(min(CEILING, max(FLOOR, value)), 3)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "source": self.source,
            "overall": self.overall.to_json(),
            "rules": {
                name: curve.to_json() for name, curve in sorted(self.rules.items())
            },
        }

    @classmethod
    def from_json(cls, value: dict[str, Any], source: str) -> Calibration:
        if value.get("format") != FORMAT_VERSION:
            raise ValueError(f"calibration format {value.get('format')!r} is unknown")
        return cls(
            overall=Curve.from_json(value["overall"]),
            rules={name: Curve.from_json(c) for name, c in value["rules"].items()},
            source=source,
        )


# Fitting


def _isotonic(xs: Sequence[float], ys: Sequence[float]) -> Curve:
    """Pool-adjacent-violators on points sorted by x; equal xs are pooled first."""
    points: list[tuple[float, float, float]] = []  # x, sum of y, weight
    for x, y in sorted(zip(xs, ys, strict=True)):
        if points and points[-1][0] == x:
            _, total, weight = points[-1]
            points[-1] = (x, total + y, weight + 1.0)
        else:
            points.append((x, y, 1.0))
    blocks: list[tuple[float, float, float, float]] = []  # first x, last x, sum, weight
    for x, total, weight in points:
        blocks.append((x, x, total, weight))
        while len(blocks) > 1 and (
            blocks[-2][2] / blocks[-2][3] > blocks[-1][2] / blocks[-1][3]
        ):
            _, last_x, last_total, last_weight = blocks.pop()
            first_x, _, total_before, weight_before = blocks[-1]
            blocks[-1] = (
                first_x,
                last_x,
                total_before + last_total,
                weight_before + last_weight,
            )
    out_x: list[float] = []
    out_y: list[float] = []
    for first, last, total, weight in blocks:
        for x in (first, last) if last > first else (first,):
            out_x.append(x)
            out_y.append(total / weight)
    return Curve(tuple(out_x), tuple(out_y), len(xs))


def _shrunk(own: Curve, prior: Curve, files: int, weight: float) -> Curve:
    xs = sorted(set(own.xs) | {x for x in prior.xs if own.xs[0] <= x <= own.xs[-1]})
    ys = [(files * own(x) + weight * prior(x)) / (files + weight) for x in xs]
    return Curve(tuple(xs), tuple(ys), files)


def fit(
    samples: Iterable[Sample],
    prior: Calibration | None = None,
    source: str = "corpus",
    prior_weight: float = PRIOR_WEIGHT,
    per_rule: bool = False,
    unmeasured: Collection[str] = (),
) -> Calibration:
    """A table from verdicts whose truth is known.

    Without per_rule, one curve for all rules. With it, a curve per rule,
    shrunk towards the prior's curve for that rule (or the overall one).
    Rules named in unmeasured are left out of the fit and keep their raw
    confidence (an identity curve): what the samples say about them would
    not hold for the files the table is applied to.
    """
    samples = [s for s in samples if s.rule not in unmeasured]
    identities = dict.fromkeys(unmeasured, IDENTITY)
    if not samples:
        base = prior or Calibration(source=source)
        rules = {**base.rules, **identities}
        return Calibration(base.overall, rules, base.source)
    overall = _isotonic([s.raw for s in samples], [float(s.correct) for s in samples])
    if prior is not None:
        overall = _shrunk(overall, prior.overall, len(samples), prior_weight)
    rules = dict(prior.rules) if prior is not None else {}
    rules.update(identities)
    if not per_rule:
        return Calibration(overall, rules, source)
    by_rule: dict[str, list[Sample]] = {}
    for sample in samples:
        by_rule.setdefault(sample.rule, []).append(sample)
    for rule, group in by_rule.items():
        own = _isotonic([s.raw for s in group], [float(s.correct) for s in group])
        anchor = rules.get(rule, prior.overall if prior is not None else overall)
        rules[rule] = _shrunk(own, anchor, len(group), prior_weight)
    return Calibration(overall, rules, source)


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width bins, weighted by their size."""
    if not confidences:
        return 0.0
    totals = [[0.0, 0.0, 0] for _ in range(bins)]
    for confidence, right in zip(confidences, correct, strict=True):
        index = min(bins - 1, int(confidence * bins))
        totals[index][0] += confidence
        totals[index][1] += float(right)
        totals[index][2] += 1
    error = 0.0
    for confidence_sum, right_sum, count in totals:
        if count:
            error += abs(right_sum - confidence_sum) / len(confidences)
    return error


# Loading and storing


def shipped() -> Calibration:
    """The table fitted on the corpus; identity if the package lacks it."""
    try:
        text = resources.files(__package__).joinpath(SHIPPED_NAME).read_text("utf-8")
        return Calibration.from_json(json.loads(text), "corpus")
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("The shipped calibration table cannot be read: %s", error)
        return Calibration()


@functools.cache
def _shipped_once() -> Calibration:
    return shipped()


def calibrated(verdict: Classification) -> Classification:
    """A rules verdict with its confidence calibrated by the shipped table.

    For callers without a data dir at hand (the sync engine); `load` gives
    the person's own table where there is one.
    """
    confidence = _shipped_once()(verdict.rule, verdict.confidence)
    return dataclasses.replace(verdict, confidence=confidence)


def user_path(data_dir: Path) -> Path:
    return data_dir / "classifier" / USER_FILE


def load(data_dir: Path | None) -> Calibration:
    """The person's own table if there is a sound one, else the shipped one."""
    if data_dir is not None:
        path = user_path(data_dir)
        try:
            return Calibration.from_json(json.loads(path.read_text("utf-8")), "reviews")
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("Discarding the calibration table in the data dir: %s", error)
            path.unlink(missing_ok=True)
    return shipped()


def save(calibration: Calibration, path: Path) -> None:
    """Write atomically, so a crash leaves the old table or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(calibration.to_json(), indent=1) + "\n", "utf-8")
    os.replace(partial, path)


def refit_from_reviews(data_dir: Path, samples: Sequence[Sample]) -> Calibration | None:
    """Fit and keep the person's table once there are enough reviews; else None."""
    if len(samples) < MIN_USER_REVIEWS:
        return None
    calibration = fit(samples, prior=shipped(), source="reviews", per_rule=True)
    save(calibration, user_path(data_dir))
    log.info("Calibration refitted on %d reviewed artifacts", len(samples))
    return calibration
