"""Running the classifier again over stored artifacts, sparing what the person set."""

from __future__ import annotations

import logging

from sqlalchemy import select

from midst_desktop.classify.rules import classify
from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    ClassifiedBy,
    Run,
    RunKind,
    RunStatus,
    RunTrigger,
    utcnow,
)
from midst_desktop.store.queries import parse_type

log = logging.getLogger(__name__)

PAGE = 1000


def reclassify(
    database: Database,
    below: float | None = None,
    artifact_type: str | None = None,
    trigger: str = RunTrigger.MANUAL,
) -> Run:
    """Reclassify artifacts matching the filter; a type set by the person stays."""
    wanted_type = parse_type(artifact_type) if artifact_type else None
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
                select(Artifact)
                .where(Artifact.classified_by != ClassifiedBy.USER, Artifact.id > after)
                .order_by(Artifact.id)
                .limit(PAGE)
            )
            if below is not None:
                statement = statement.where(Artifact.confidence < below)
            if wanted_type is not None:
                statement = statement.where(Artifact.artifact_type == wanted_type)
            artifacts = list(session.scalars(statement))
            for artifact in artifacts:
                listed += 1
                verdict = classify(
                    artifact.name, artifact.source_path, artifact.mime_type
                )
                if (
                    verdict.artifact_type != artifact.artifact_type
                    or verdict.confidence != artifact.confidence
                ):
                    artifact.artifact_type = str(verdict.artifact_type)
                    artifact.confidence = verdict.confidence
                    artifact.classified_by = ClassifiedBy.RULES
                    artifact.updated_at = utcnow()
                    updated += 1
            progress = session.get(Run, run_id)
            assert progress is not None
            progress.listed, progress.updated = listed, updated
            progress.unchanged = listed - updated
        if len(artifacts) < PAGE:
            break
        after = artifacts[-1].id
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
