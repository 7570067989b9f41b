"""The person's own classifier, learned from their reviews.

Training examples are the reviewed artifacts: an approval says the type is
right, a type set with `artifacts edit --type` (`classified_by = user`) is a
correction and counts twice. Features are words of the name and of each
folder, the format and a few layout facts as tokens, and the words of the
first part of the extracted text: TF-IDF over word unigrams and bigrams,
then a class-balanced logistic regression. The model is active once there
are `MIN_EXAMPLES` examples of at least `MIN_TYPES` types: with fewer, it
would only repeat the majority type (the failure paperless-ngx users report).

The database is the source of truth; the model file in the data dir is a
cache of a fit. The file starts with a header naming the model format and
the scikit-learn version, and the pickle is signed with a key kept next to
it (mode 0600), so a file that is corrupt, tampered with, from another
format or another scikit-learn is discarded and refitted, never loaded and
never fatal. scikit-learn is imported only when a model is fitted or read,
so start-up does not pay for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import pickle
import re
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import or_, select

from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    ArtifactStatus,
    ArtifactText,
    ClassifiedBy,
)

log = logging.getLogger(__name__)

MODEL_FORMAT = 1
MIN_EXAMPLES = 20
MIN_TYPES = 2
# Refit after this many new or changed reviews, not after every one.
REFIT_AFTER = 5
CORRECTION_WEIGHT = 2.0
TEXT_CHARS = 5000
MAGIC = b"MIDST-MODEL\n"
MODEL_FILE = "model.pickle"
KEY_FILE = "model.key"
CEILING = 0.99

WORD_RE = re.compile(r"[^\W\d_]{2,}")
TOKEN_RE = re.compile(r"[^\W_]+")


class ModelFileError(Exception):
    """A model file that cannot be used; the message says why."""


def _words(text: str) -> list[str]:
    return [word.lower() for word in WORD_RE.findall(text)]


def _bucket(value: Any, edges: tuple[int, ...]) -> str:
    number = int(value)
    for edge in edges:
        if number <= edge:
            return f"le{edge}"
    return f"gt{edges[-1]}"


def document_of(
    name: str, path: str, mime_type: str, text: str, metadata: dict[str, Any]
) -> str:
    """One file as the model reads it: prefixed tokens, then its words."""
    tokens: list[str] = []
    stem = PurePosixPath(name).stem
    suffix = PurePosixPath(name).suffix.lower().lstrip(".")
    tokens += [f"name_{word.lower()}" for word in TOKEN_RE.findall(stem)]
    tokens.append(f"ext_{suffix or 'none'}")
    folders = PurePosixPath(path).parts[:-1] if path else ()
    for folder in folders[-4:]:
        tokens += [f"dir_{word.lower()}" for word in TOKEN_RE.findall(folder)]
    tokens.append(f"mime_{mime_type.split(';', 1)[0].replace('/', '_')}")
    fmt = metadata.get("format")
    if fmt:
        tokens.append(f"fmt_{fmt}")
    for key in ("pages", "slides", "sheets", "rows"):
        if isinstance(metadata.get(key), int):
            tokens.append(f"{key}_{_bucket(metadata[key], (1, 3, 10, 30, 100))}")
    for flag in ("landscape", "camera", "doi", "arxiv_id", "isbn", "has_video"):
        if metadata.get(flag):
            tokens.append(f"has_{flag}")
    for section in metadata.get("sections") or ():
        tokens.append(f"section_{section}")
    return " ".join(tokens + _words(text[:TEXT_CHARS]))


@dataclass(frozen=True, slots=True)
class Example:
    document: str
    artifact_type: str
    weight: float


class LearnedModel:
    """A fitted pipeline and what it was fitted on."""

    def __init__(self, pipeline: Any, examples: int, fingerprint: str) -> None:
        self.pipeline = pipeline
        self.examples = examples
        self.fingerprint = fingerprint

    @property
    def types(self) -> list[str]:
        return [str(label) for label in self.pipeline.classes_]

    def predict(self, document: str) -> tuple[str, float]:
        """The most likely type and its probability."""
        probabilities = self.pipeline.predict_proba([document])[0]
        best = int(probabilities.argmax())
        return str(self.pipeline.classes_[best]), min(
            CEILING, float(probabilities[best])
        )


# Training data


def _labelled() -> Any:
    """Reviewed artifacts: approved ones, and those whose type the person set."""
    return or_(
        Artifact.status == ArtifactStatus.APPROVED,
        Artifact.classified_by == ClassifiedBy.USER,
    )


def label_state(database: Database) -> tuple[int, str]:
    """How many reviewed examples there are and a digest of them (cheap: no text)."""
    with database.read() as session:
        rows = session.execute(
            select(Artifact.id, Artifact.artifact_type, Artifact.classified_by)
            .where(_labelled())
            .order_by(Artifact.id)
        ).all()
    digest = hashlib.sha256()
    for row in rows:
        digest.update("|".join(map(str, row)).encode() + b"\n")
    return len(rows), digest.hexdigest()


def training_examples(database: Database) -> list[Example]:
    """Every reviewed artifact, as the model reads it."""
    examples = []
    with database.read() as session:
        rows = session.execute(
            select(Artifact, ArtifactText.body)
            .outerjoin(ArtifactText, ArtifactText.artifact_id == Artifact.id)
            .where(_labelled())
            .order_by(Artifact.id)
        ).all()
        for artifact, body in rows:
            weight = (
                CORRECTION_WEIGHT
                if artifact.classified_by == ClassifiedBy.USER
                else 1.0
            )
            document = document_of(
                artifact.name,
                artifact.source_path,
                artifact.mime_type,
                body or "",
                artifact.meta or {},
            )
            examples.append(Example(document, artifact.artifact_type, weight))
    return examples


def enough(examples: Iterable[Example]) -> bool:
    examples = list(examples)
    return (
        len(examples) >= MIN_EXAMPLES
        and len({e.artifact_type for e in examples}) >= MIN_TYPES
    )


def fit(examples: list[Example], fingerprint: str = "") -> LearnedModel:
    """Fit on the examples; blocks for about a second per few hundred examples."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
    from sklearn.pipeline import make_pipeline  # type: ignore[import-untyped]

    pipeline = make_pipeline(
        TfidfVectorizer(
            token_pattern=r"\S+",  # noqa: S106 - a regex, not a password
            ngram_range=(1, 2),
            sublinear_tf=True,
            max_features=50_000,
            lowercase=False,
        ),
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000),
    )
    pipeline.fit(
        [e.document for e in examples],
        [e.artifact_type for e in examples],
        logisticregression__sample_weight=[e.weight for e in examples],
    )
    return LearnedModel(pipeline, len(examples), fingerprint)


# The model file


def model_dir(data_dir: Path) -> Path:
    return data_dir / "classifier"


def _key(data_dir: Path) -> bytes:
    path = model_dir(data_dir) / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(key)
    return key


def _sklearn_version() -> str:
    import sklearn  # type: ignore[import-untyped]

    return str(sklearn.__version__)


def save(model: LearnedModel, data_dir: Path) -> Path:
    """Write the model atomically: the old file or the new one, never half."""
    payload = pickle.dumps(model.pipeline, protocol=pickle.HIGHEST_PROTOCOL)
    header = json.dumps(
        {
            "format": MODEL_FORMAT,
            "sklearn": _sklearn_version(),
            "examples": model.examples,
            "fingerprint": model.fingerprint,
        }
    ).encode()
    signature = hmac.new(_key(data_dir), header + b"\n" + payload, "sha256")
    path = model_dir(data_dir) / MODEL_FILE
    partial = path.with_suffix(".part")
    partial.write_bytes(
        MAGIC + header + b"\n" + signature.hexdigest().encode() + b"\n" + payload
    )
    os.replace(partial, path)
    return path


def read_header(data_dir: Path) -> dict[str, Any] | None:
    """The model file's header, without unpickling anything; None if unusable."""
    path = model_dir(data_dir) / MODEL_FILE
    try:
        with path.open("rb") as stream:
            if stream.read(len(MAGIC)) != MAGIC:
                return None
            header = json.loads(stream.readline())
    except (OSError, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _read(data_dir: Path) -> LearnedModel:
    path = model_dir(data_dir) / MODEL_FILE
    blob = path.read_bytes()
    if not blob.startswith(MAGIC):
        raise ModelFileError("it is not a model file")
    header_line, _, rest = blob[len(MAGIC) :].partition(b"\n")
    signature, _, payload = rest.partition(b"\n")
    try:
        header = json.loads(header_line)
    except ValueError:
        raise ModelFileError("its header is damaged") from None
    expected = hmac.new(_key(data_dir), header_line + b"\n" + payload, "sha256")
    if not hmac.compare_digest(expected.hexdigest().encode(), signature):
        raise ModelFileError("its signature does not match")
    if header.get("format") != MODEL_FORMAT:
        raise ModelFileError(f"it has model format {header.get('format')}")
    if header.get("sklearn") != _sklearn_version():
        raise ModelFileError(f"it was fitted with scikit-learn {header.get('sklearn')}")
    try:
        pipeline = pickle.loads(payload)  # noqa: S301 - signed with our own key
    except Exception as error:
        raise ModelFileError(f"it cannot be read ({type(error).__name__})") from None
    return LearnedModel(
        pipeline, int(header.get("examples", 0)), str(header.get("fingerprint", ""))
    )


def load(data_dir: Path) -> LearnedModel | None:
    """The stored model; a damaged or stale file is deleted and None returned."""
    path = model_dir(data_dir) / MODEL_FILE
    if not path.exists():
        return None
    try:
        return _read(data_dir)
    except (ModelFileError, OSError) as error:
        log.warning("Discarding the learned model file: %s", error)
        path.unlink(missing_ok=True)
        return None
    except ImportError as error:
        # The file may be sound; this installation cannot read it. Kept.
        log.warning("The learned model is not used: %s cannot be loaded", error.name)
        return None


# Refitting


@dataclass(frozen=True, slots=True)
class RefitResult:
    active: bool
    refitted: bool
    examples: int


def refit(database: Database, data_dir: Path, force: bool = False) -> RefitResult:
    """Refit when the reviews changed enough since the last fit; safe to call often.

    Blocks while fitting (about a second). The agent and the scheduler call
    it in the background (`refit_in_background`); the CLI calls it after
    reviews. Also refits the person's calibration table.
    """
    count, fingerprint = label_state(database)
    header = read_header(data_dir)
    stored = header is not None and (model_dir(data_dir) / MODEL_FILE).exists()
    if stored and not force:
        assert header is not None
        if header.get("fingerprint") == fingerprint:
            return RefitResult(True, False, count)
        if abs(count - int(header.get("examples", 0))) < REFIT_AFTER:
            # A few reviews more change little; `active_model` checks the file.
            return RefitResult(True, False, count)
    examples = training_examples(database)
    if not enough(examples):
        (model_dir(data_dir) / MODEL_FILE).unlink(missing_ok=True)
        return RefitResult(False, False, len(examples))
    model = fit(examples, fingerprint)
    save(model, data_dir)
    log.info(
        "Learned model refitted on %d reviewed artifacts (%d types)",
        len(examples),
        len(model.types),
    )
    _refit_calibration(database, data_dir)
    return RefitResult(True, True, len(examples))


def _refit_calibration(database: Database, data_dir: Path) -> None:
    """Refit the person's calibration table from how the rules did on reviews.

    The rules run again on what the store keeps of each reviewed artifact,
    so the table needs nothing recorded at classification time.
    """
    from midst_desktop.classify.calibration import Sample, refit_from_reviews
    from midst_desktop.classify.reclassify import stored_extraction
    from midst_desktop.classify.rules import classify

    samples = []
    with database.read() as session:
        rows = session.execute(
            select(Artifact, ArtifactText.body)
            .outerjoin(ArtifactText, ArtifactText.artifact_id == Artifact.id)
            .where(_labelled())
        ).all()
        for artifact, body in rows:
            verdict = classify(
                artifact.name,
                artifact.source_path,
                artifact.mime_type,
                b"",
                stored_extraction(artifact, body),
            )
            samples.append(
                Sample(
                    verdict.rule,
                    verdict.confidence,
                    str(verdict.artifact_type) == artifact.artifact_type,
                )
            )
    refit_from_reviews(data_dir, samples)


def refit_in_background(database: Database, data_dir: Path) -> threading.Thread:
    """Refit on a daemon thread; errors are logged, never raised."""

    def run() -> None:
        try:
            refit(database, data_dir)
        except Exception:
            log.exception("Refitting the learned model failed")

    thread = threading.Thread(target=run, name="midst-refit", daemon=True)
    thread.start()
    return thread


def active_model(database: Database, data_dir: Path) -> LearnedModel | None:
    """The model to classify with, rebuilt first if its file was missing or bad."""
    model = load(data_dir)
    if model is not None:
        return model
    count, _ = label_state(database)
    if count < MIN_EXAMPLES:
        return None
    refit(database, data_dir, force=True)
    return load(data_dir)
