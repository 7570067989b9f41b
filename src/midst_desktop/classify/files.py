"""Classifying files on disk without storing them (`midst-desktop classify`).

`decide` is the one place where a rules verdict, its calibration and the
learned model meet; `classify --json`, `reclassify` and the benchmark all
go through it, so the benchmark measures what people get.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from midst_desktop.classify import calibration as calibration_tables
from midst_desktop.classify.calibration import Calibration
from midst_desktop.classify.rules import SNIFF_BYTES, classify
from midst_desktop.store.models import ClassifiedBy

if TYPE_CHECKING:
    from midst_desktop.classify.extract.base import Extraction
    from midst_desktop.classify.model import LearnedModel

log = logging.getLogger(__name__)

OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)

Extractor = Callable[[Path, str], "Extraction"]

# A verdict this sure is not put to the learned model: the model overrules
# only where it is surer than the rules, and asking costs about a millisecond
# a file, which a sync of many files would feel.
MODEL_CEILING = 0.95


@dataclass(frozen=True, slots=True)
class Decision:
    """The type a file gets, how sure that is, and what decided it."""

    artifact_type: str
    confidence: float
    classified_by: str  # rules | model
    rule: str
    rule_type: str  # what the rules said, which the model may have overruled
    raw_confidence: float  # the rule's own figure, before calibration
    mime_type: str
    reason: str

    def provenance(self) -> dict[str, Any]:
        """What an artifact's metadata keeps so that reviews can recalibrate."""
        return {
            "rule": self.rule,
            "artifact_type": self.rule_type,
            "raw_confidence": self.raw_confidence,
        }


def decide(
    name: str,
    path: str,
    mime_type: str | None,
    head: bytes,
    extraction: Extraction | None,
    calibration: Calibration,
    model: LearnedModel | None = None,
) -> Decision:
    """Rules first, calibrated; the person's model where it is surer than they are."""
    verdict = classify(name, path, mime_type, head, extraction)
    confidence = calibration(verdict.rule, verdict.confidence)
    decision = Decision(
        artifact_type=str(verdict.artifact_type),
        confidence=confidence,
        classified_by=str(ClassifiedBy.RULES),
        rule=verdict.rule,
        rule_type=str(verdict.artifact_type),
        raw_confidence=verdict.confidence,
        mime_type=verdict.mime_type,
        reason=verdict.reason,
    )
    if model is None or confidence >= MODEL_CEILING:
        return decision
    from midst_desktop.classify.model import document_of

    text = extraction.text if extraction is not None else ""
    metadata = extraction.metadata_json() if extraction is not None else {}
    predicted, probability = model.predict(
        document_of(name, path, verdict.mime_type, text, metadata)
    )
    if predicted == decision.artifact_type:
        return decision
    if probability <= confidence:
        return decision
    return Decision(
        artifact_type=predicted,
        confidence=probability,
        classified_by=str(ClassifiedBy.MODEL),
        rule=verdict.rule,
        rule_type=decision.artifact_type,
        raw_confidence=verdict.confidence,
        mime_type=verdict.mime_type,
        reason=f"learned from your reviews (rules said {decision.artifact_type})",
    )


def read_head(path: Path) -> bytes:
    """The first bytes of a regular file. Raises OSError or ValueError."""
    descriptor = os.open(path, OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise ValueError("not a regular file")
        os.set_blocking(descriptor, True)
        return os.read(descriptor, SNIFF_BYTES)
    finally:
        os.close(descriptor)


class FileClassifier:
    """Classifies files one after another with one extraction worker.

    The worker (a separate process with time and memory limits) starts on the
    first file that needs extraction; close() stops it.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        model: LearnedModel | None = None,
        extractor: Extractor | None = None,
    ) -> None:
        self.calibration = calibration_tables.load(data_dir)
        self.model = model
        self._pool: Any = None
        self._extractor = extractor

    def __enter__(self) -> FileClassifier:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @property
    def worker_pid(self) -> int | None:
        """The extraction worker's process id, while one runs."""
        return self._pool.pid if self._pool is not None else None

    def _extract(self, path: Path, name: str) -> Extraction:
        if self._extractor is not None:
            return self._extractor(path, name)
        if self._pool is None:
            from midst_desktop.classify.extract.isolation import ExtractorPool

            self._pool = ExtractorPool()
        result: Extraction = self._pool.extract(path, name)
        return result

    def classify(self, path: Path) -> Decision:
        """Raises OSError or ValueError when the file cannot be read at all."""
        return self.classify_extracted(path)[0]

    def classify_extracted(self, path: Path) -> tuple[Decision, Extraction]:
        """The decision and the extraction it was made from."""
        head = read_head(path)
        extraction = self._extract(path.absolute(), path.name)
        if extraction.failed:
            log.warning("Skipping file content: %s", extraction.error)
        decision = decide(
            path.name,
            path.as_posix(),
            None,
            head,
            extraction,
            self.calibration,
            self.model,
        )
        return decision, extraction

    def classify_path(self, path: Path) -> dict[str, Any]:
        """{"path", "artifact_type", "confidence", ...}, or {"path", "error"}."""
        try:
            decision = self.classify(path)
        except OSError as error:
            return {"path": str(path), "error": error.strerror or str(error)}
        except ValueError as error:
            return {"path": str(path), "error": str(error)}
        return {
            "path": str(path),
            "artifact_type": decision.artifact_type,
            "confidence": decision.confidence,
            "mime_type": decision.mime_type,
            "classified_by": decision.classified_by,
            "reason": decision.reason,
        }


def classify_path(
    path: Path, data_dir: Path | None = None, model: LearnedModel | None = None
) -> dict[str, Any]:
    """One file and what decided it; `classify --json` prints three of its keys."""
    with FileClassifier(data_dir, model) as classifier:
        return classifier.classify_path(path)
