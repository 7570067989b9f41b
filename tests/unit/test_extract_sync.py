"""Extraction during a sync: metadata and text stored, hostile files skipped."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from midst_desktop.config import Settings
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import ArtifactText, RunStatus
from tests.support import samples
from tests.support.store import add_local, artifacts_by_source, engine, source_files

PAPER_INFO = {
    "Title": "Grain Size and Stability",
    "Author": "A. Researcher; B. Colleague",
    "CreationDate": "D:20210314152233Z",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "Work"
    files = {
        "papers/scan0001.pdf": samples.pdf([samples.PAPER], PAPER_INFO),
        "talks/download": samples.pptx([["Results"], ["Method"], ["Thanks"]]),
        "photos/IMG_2041.JPG": samples.photo_jpeg(),
        "broken/cut.pdf": samples.pdf([samples.PAPER])[:300],
        "broken/bomb.docx": samples.zip_bomb(40),
        "broken/laughs.docx": samples.billion_laughs_docx(),
        "broken/locked.docx": samples.encrypted_ooxml(),
        "notes/heron.txt": samples.POEM.encode(),
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def texts(database: Database) -> dict[str, str]:
    with database.read() as session:
        return {
            row.artifact_id: row.body for row in session.scalars(select(ArtifactText))
        }


def test_a_sync_stores_what_extraction_found(
    database: Database, settings: Settings, folder: Path
) -> None:
    integration_id = add_local(database, folder)

    run = engine(database, settings).sync(integration_id)

    assert run.status == RunStatus.SUCCEEDED
    artifacts = artifacts_by_source(database)
    paper = artifacts["papers/scan0001.pdf"]
    assert paper.artifact_type == "academic_paper"
    assert paper.title == "Grain Size and Stability"
    assert paper.authors == ["A. Researcher", "B. Colleague"]
    assert paper.meta["doi"] == "10.1234/sed.2021.042"
    assert paper.meta["pages"] == 1
    assert paper.meta["classification"]["rule"] == "paper-identifier-sections"
    assert "DOI" in paper.meta["classification"]["reason"]
    assert paper.captured_date == datetime(2021, 3, 14, 15, 22, 33, tzinfo=UTC)
    assert "cyclic load" in texts(database)[paper.id]

    talk = artifacts["talks/download"]
    assert talk.artifact_type == "presentation"
    assert talk.meta["slides"] == 3
    assert talk.mime_type.endswith("presentationml.presentation")

    photo = artifacts["photos/IMG_2041.JPG"]
    assert photo.meta["camera"] == "Canon EOS 350D DIGITAL"
    assert photo.meta["gps"] is True
    assert photo.captured_date == datetime(2019, 7, 21, 18, 4, 10, tzinfo=UTC)

    poem = artifacts["notes/heron.txt"]
    assert poem.artifact_type == "creative_writing"


def test_the_extracted_text_is_searchable(
    database: Database, settings: Settings, folder: Path
) -> None:
    engine(database, settings).sync(add_local(database, folder))
    with database.read() as session:
        found = queries.list_artifacts(
            session, queries.ArtifactFilter(search="heron stillness")
        )
    assert [a.source_id for a in found] == ["notes/heron.txt"]


def test_hostile_files_are_recorded_skips_and_the_run_succeeds(
    database: Database, settings: Settings, folder: Path
) -> None:
    run = engine(database, settings).sync(add_local(database, folder))

    assert run.status == RunStatus.SUCCEEDED
    files = source_files(database)
    broken = ("cut.pdf", "bomb.docx", "laughs.docx", "locked.docx")
    for name in broken:
        assert files[f"broken/{name}"].skip_reason == "extract_failed"
        assert files[f"broken/{name}"].artifact_id is None
    assert run.skipped == 4
    assert run.created == 4
    # Nothing is left behind: no spool file, no worker process.
    assert list((settings.cache_dir / "extract").iterdir()) == []
    assert multiprocessing.active_children() == []


def test_a_changed_file_gets_its_new_text_and_metadata(
    database: Database, settings: Settings, folder: Path
) -> None:
    integration_id = add_local(database, folder)
    sync = engine(database, settings)
    sync.sync(integration_id)
    paper = folder / "papers" / "scan0001.pdf"
    lines = ["A Revised Title Page", "Abstract", "Shorter now.", "References"]
    paper.write_bytes(samples.pdf([lines, ["two"]], {"Title": "Revised"}))

    sync.sync(integration_id)

    revised = artifacts_by_source(database)["papers/scan0001.pdf"]
    assert revised.title == "Revised"
    assert revised.meta["pages"] == 2
    assert "doi" not in revised.meta
    assert "Shorter now." in texts(database)[revised.id]


def test_extraction_can_be_switched_off(
    database: Database, settings: Settings, folder: Path
) -> None:
    plain = replace(settings, extract_content=False)

    run = engine(database, plain).sync(add_local(database, folder))

    artifacts = artifacts_by_source(database)
    # Nothing is read beyond the first bytes: the broken files are artifacts
    # classified by name, and nothing was extracted.
    assert run.skipped == 0
    assert "broken/cut.pdf" in artifacts
    paper = artifacts["papers/scan0001.pdf"]
    assert paper.title == "scan0001"
    assert set(paper.meta) == {"classification"}
    assert texts(database)[paper.id] == ""
    assert not (settings.cache_dir / "extract").exists()
