"""Running the classifier again over stored artifacts, sparing what the person set.

Each artifact is classified from what the store keeps of it (name, path,
MIME type, extracted text and metadata), so a reclassification needs no
provider and reads no file: the rules, their calibration and, once it is
active, the learned model. A type the person set (`classified_by = user`)
is never touched.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import select

from midst_desktop.classify import calibration as calibration_tables
from midst_desktop.classify.files import decide
from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    ArtifactText,
    ClassifiedBy,
    Run,
    RunKind,
    RunStatus,
    RunTrigger,
    utcnow,
)
from midst_desktop.store.queries import parse_type

if TYPE_CHECKING:
    from midst_desktop.classify.extract.base import Extraction

log = logging.getLogger(__name__)

PAGE = 500


def stored_extraction(artifact: Artifact, body: str | None) -> Extraction:
    """The extraction a sync made of this artifact, rebuilt from the store."""
    from midst_desktop.classify.extract.base import Extraction, Metadata

    meta: dict[str, Any] = dict(artifact.meta or {})
    known = Metadata.__annotations__
    metadata = cast(Metadata, {k: v for k, v in meta.items() if k in known})
    return Extraction(
        format=str(meta.get("format") or "unknown"),
        text=body or "",
        title=artifact.title,
        authors=list(artifact.authors or []),
        keywords=list(artifact.keywords or []),
        metadata=metadata,
    )


def reclassify(
    database: Database,
    below: float | None = None,
    artifact_type: str | None = None,
    trigger: str = RunTrigger.MANUAL,
    data_dir: Path | None = None,
) -> Run:
    """Reclassify artifacts matching the filter; a type set by the person stays.

    With a data dir, the person's calibration table and learned model are
    used (the model is refitted first if its file is missing or stale).
    """
    wanted_type = parse_type(artifact_type) if artifact_type else None
    calibration = calibration_tables.load(data_dir)
    model = None
    if data_dir is not None:
        from midst_desktop.classify.model import active_model

        model = active_model(database, data_dir)
    with database.write() as session:
        run = Run(kind=RunKind.RECLASSIFY, trigger=trigger, status=RunStatus.RUNNING)
        session.add(run)
        session.flush()
        run_id = run.id
    listed = updated = 0
    after = ""
    while True:
        with database.write() as session:
            statement = (
                select(Artifact, ArtifactText.body)
                .outerjoin(ArtifactText, ArtifactText.artifact_id == Artifact.id)
                .where(Artifact.classified_by != ClassifiedBy.USER, Artifact.id > after)
                .order_by(Artifact.id)
                .limit(PAGE)
            )
            if below is not None:
                statement = statement.where(Artifact.confidence < below)
            if wanted_type is not None:
                statement = statement.where(Artifact.artifact_type == wanted_type)
            rows = session.execute(statement).all()
            for artifact, body in rows:
                listed += 1
                decision = decide(
                    artifact.name,
                    artifact.source_path,
                    artifact.mime_type,
                    b"",
                    stored_extraction(artifact, body),
                    calibration,
                    model,
                )
                if (
                    decision.artifact_type == artifact.artifact_type
                    and decision.confidence == artifact.confidence
                    and decision.classified_by == artifact.classified_by
                ):
                    continue
                artifact.artifact_type = decision.artifact_type
                artifact.confidence = decision.confidence
                artifact.classified_by = decision.classified_by
                artifact.meta = {
                    **(artifact.meta or {}),
                    "classification": decision.provenance(),
                }
                artifact.updated_at = utcnow()
                updated += 1
            progress = session.get(Run, run_id)
            assert progress is not None
            progress.listed, progress.updated = listed, updated
            progress.unchanged = listed - updated
        if len(rows) < PAGE:
            break
        after = rows[-1][0].id
    with database.write() as session:
        done = session.get(Run, run_id)
        assert done is not None
        done.status = RunStatus.SUCCEEDED
        done.finished_at = utcnow()
    log.info("Reclassified %d of %d artifacts", updated, listed)
    with database.read() as session:
        finished = session.get(Run, run_id)
        assert finished is not None
        return finished
