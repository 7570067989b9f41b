"""Learning from reviews: approvals and corrections change later classifications."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from midst_desktop.classify import calibration, model
from midst_desktop.classify.files import classify_path
from midst_desktop.classify.reclassify import reclassify
from midst_desktop.classify.rules import classify
from midst_desktop.cli import main
from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact, ClassifiedBy
from tests.support.store import add_local, artifacts_by_source, engine, write

FIELD_NOTES = (
    "Transect {n}. Quadrat samples taken at dawn; soil moisture {n}4 %, "
    "specimen count {n}, lichen cover measured against the reference grid."
)
LETTER = (
    "Dear Anna,\n\nthe sea was grey again today and I thought of you.\n"
    "Write soon, and tell me about the orchard.\n\nYours, M. ({n})"
)


def _tree(root: Path) -> None:
    for n in range(14):
        write(root / "Fieldwork" / f"site-{n:02}.txt", FIELD_NOTES.format(n=n))
        write(root / "Letters" / f"to-anna-{n:02}.txt", LETTER.format(n=n))


def _review(database: Database) -> None:
    """Field notes corrected to papers, letters approved as they are."""
    by_source = artifacts_by_source(database)
    with database.write() as session:
        for source_id, artifact in by_source.items():
            if source_id.startswith("Fieldwork/site-0"):
                queries.edit_artifact(
                    session, artifact.id, artifact_type="academic_paper"
                )
            elif source_id.startswith("Fieldwork/site-1"):
                pass  # left for reclassify
            else:
                queries.move_status(session, [artifact.id], "approved")


def test_corrections_teach_the_model_the_persons_types(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    integration_id = add_local(database, root)
    engine(database, settings).sync(integration_id)
    data_dir = settings.data_dir
    newcomer = write(root / "Fieldwork" / "site-99.txt", FIELD_NOTES.format(n=99))
    before = classify_path(newcomer, data_dir)
    assert before["artifact_type"] != "academic_paper"
    assert model.refit(database, data_dir).active is False  # no reviews yet

    _review(database)
    result = model.refit(database, data_dir)

    assert result.active and result.refitted
    assert result.examples >= model.MIN_EXAMPLES
    learned = model.active_model(database, data_dir)
    assert learned is not None
    after = classify_path(newcomer, data_dir, learned)
    assert after["artifact_type"] == "academic_paper"
    assert after["classified_by"] == "model"
    letter = write(root / "Letters" / "to-anna-99.txt", LETTER.format(n=99))
    assert classify_path(letter, data_dir, learned)["artifact_type"] == (
        "creative_writing"
    )


def test_a_sync_after_reviews_classifies_new_and_changed_files_as_learned(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    integration_id = add_local(database, root)
    sync = engine(database, settings)
    sync.sync(integration_id)
    write(root / "Fieldwork" / "site-98.txt", FIELD_NOTES.format(n=98))
    sync.sync(integration_id, "incremental")
    before = artifacts_by_source(database)["Fieldwork/site-98.txt"]
    assert before.artifact_type != "academic_paper"
    assert before.classified_by == ClassifiedBy.RULES

    _review(database)
    assert model.refit(database, settings.data_dir).refitted
    write(root / "Fieldwork" / "site-99.txt", FIELD_NOTES.format(n=99))
    write(root / "Fieldwork" / "site-98.txt", FIELD_NOTES.format(n=198))
    write(root / "Letters" / "to-anna-99.txt", LETTER.format(n=99))
    sync.sync(integration_id, "incremental")

    after = artifacts_by_source(database)
    for source_id in ("Fieldwork/site-99.txt", "Fieldwork/site-98.txt"):
        learned = after[source_id]
        assert learned.artifact_type == "academic_paper", source_id
        assert learned.classified_by == ClassifiedBy.MODEL
        assert learned.meta["classification"]["reason"].startswith(
            "learned from your reviews"
        )
    assert after["Letters/to-anna-99.txt"].artifact_type == "creative_writing"
    # The person's own corrections are never touched by a sync.
    corrected = after["Fieldwork/site-03.txt"]
    assert corrected.classified_by == ClassifiedBy.USER


def test_reclassify_applies_the_model_and_never_touches_a_type_the_person_set(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    integration_id = add_local(database, root)
    engine(database, settings).sync(integration_id)
    _review(database)
    by_source = artifacts_by_source(database)
    odd = by_source["Fieldwork/site-03.txt"]
    with database.write() as session:
        # The person insists this one is "other", against everything similar.
        queries.edit_artifact(session, odd.id, artifact_type="other")
    model.refit(database, settings.data_dir)

    run = reclassify(database, data_dir=settings.data_dir)

    after = artifacts_by_source(database)
    assert run.status == "succeeded"
    unreviewed = [a for s, a in after.items() if s.startswith("Fieldwork/site-1")]
    assert unreviewed
    assert {a.artifact_type for a in unreviewed} == {"academic_paper"}
    assert {a.classified_by for a in unreviewed} == {ClassifiedBy.MODEL}
    assert all(a.meta["classification"]["rule"] for a in unreviewed)
    assert after["Fieldwork/site-03.txt"].artifact_type == "other"
    assert after["Fieldwork/site-03.txt"].classified_by == ClassifiedBy.USER
    assert after["Fieldwork/site-03.txt"].confidence == 1.0
    corrected = [a for s, a in after.items() if s.startswith("Fieldwork/site-0")]
    assert all(a.classified_by == ClassifiedBy.USER for a in corrected)


def test_a_corrupt_model_file_is_rebuilt_from_the_reviews(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    engine(database, settings).sync(add_local(database, root))
    _review(database)
    data_dir = settings.data_dir
    path = model.model_dir(data_dir) / model.MODEL_FILE
    model.refit(database, data_dir)
    path.write_bytes(b"MIDST-MODEL\n{broken")

    learned = model.active_model(database, data_dir)

    assert learned is not None
    assert model.load(data_dir) is not None  # a sound file is back on disk
    newcomer = write(root / "Fieldwork" / "site-77.txt", FIELD_NOTES.format(n=77))
    assert classify_path(newcomer, data_dir, learned)["artifact_type"] == (
        "academic_paper"
    )


def test_refit_skips_work_when_the_reviews_did_not_change(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    engine(database, settings).sync(add_local(database, root))
    _review(database)
    first = model.refit(database, settings.data_dir)

    second = model.refit(database, settings.data_dir)

    assert first.refitted and not second.refitted and second.active
    with database.read() as session:
        users = session.scalars(
            select(Artifact).where(Artifact.classified_by == ClassifiedBy.USER)
        ).all()
    assert len(users) == 10


def _cli(settings: Settings, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main(
        [
            "--data-dir",
            str(settings.data_dir),
            "--database-url",
            settings.database_url,
            *args,
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out) if "--json" in args else out


def test_reviews_through_the_cli_change_what_classify_says(
    database: Database,
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    _cli(settings, capsys, "integrations", "add", "local", str(root))
    _cli(settings, capsys, "sync")
    newcomer = write(root / "Fieldwork" / "site-99.txt", FIELD_NOTES.format(n=99))
    (before,) = _cli(settings, capsys, "classify", str(newcomer), "--json")
    listed = _cli(settings, capsys, "artifacts", "list", "--limit", "100", "--json")
    ids = {row["source_id"]: row["id"] for row in listed}

    for source_id, artifact_id in ids.items():
        if source_id.startswith("Fieldwork/site-0"):
            _cli(
                settings,
                capsys,
                "artifacts",
                "edit",
                artifact_id,
                "--type",
                "academic_paper",
            )
    letters = [i for s, i in ids.items() if s.startswith("Letters/")]
    _cli(settings, capsys, "artifacts", "approve", *letters)
    (after,) = _cli(settings, capsys, "classify", str(newcomer), "--json")

    assert before["artifact_type"] != "academic_paper"
    assert after["artifact_type"] == "academic_paper"
    assert set(after) == {"path", "artifact_type", "confidence"}
    # The learned model said so (classify --json does not say who decided).
    learned = model.load(settings.data_dir)
    assert classify_path(newcomer, settings.data_dir, learned)["classified_by"] == (
        "model"
    )
    assert model.read_header(settings.data_dir) is not None


def test_enough_reviews_recalibrate_the_rules_to_what_the_person_sees(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    for n in range(calibration.MIN_USER_REVIEWS + 10):
        write(root / "Fieldwork" / f"site-{n:02}.txt", FIELD_NOTES.format(n=n))
    write(root / "Letters" / "to-anna.txt", LETTER.format(n=1))
    engine(database, settings).sync(add_local(database, root))
    by_source = artifacts_by_source(database)
    rules_said = {a.artifact_type for s, a in by_source.items() if "site-" in s}
    assert rules_said != {"academic_paper"}
    with database.write() as session:
        for source_id, artifact in by_source.items():
            if "site-" in source_id:
                queries.edit_artifact(
                    session, artifact.id, artifact_type="academic_paper"
                )
            else:
                queries.move_status(session, [artifact.id], "approved")
    verdict = classify("site-99.txt", "Fieldwork/site-99.txt", "text/plain", b"", None)

    model.refit(database, settings.data_dir)

    personal = calibration.load(settings.data_dir)
    assert personal.source == "reviews"
    # The rules were wrong on every one of these: their confidence drops.
    shipped = calibration.shipped()(verdict.rule, verdict.confidence)
    assert personal(verdict.rule, verdict.confidence) < shipped / 2


def test_a_background_refit_leaves_a_model_for_the_next_classification(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "Documents"
    _tree(root)
    engine(database, settings).sync(add_local(database, root))
    _review(database)

    thread = model.refit_in_background(database, settings.data_dir)
    thread.join(timeout=60)

    assert not thread.is_alive()
    learned = model.load(settings.data_dir)
    assert learned is not None
    assert learned.examples == 24
