"""Keyset paging of the review list: every artifact once, in order, ties included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact, ArtifactText, Integration


def fill(database: Database, count: int) -> None:
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with database.write() as session:
        integration = Integration(
            provider="local", display_name="Work", root_path="/w", folder_config={}
        )
        session.add(integration)
        session.flush()
        for number in range(count):
            session.add(
                Artifact(
                    integration_id=integration.id,
                    source_provider="local",
                    source_id=f"file {number}.md",
                    source_path=f"/w/file {number}.md",
                    name=f"file {number}.md",
                    title=f"file {number}",
                    mime_type="text/markdown",
                    artifact_type="creative_writing",
                    confidence=0.5,
                    status="approved" if number % 5 == 0 else "pending",
                    # Groups of three share a captured date: the id breaks ties.
                    captured_date=start - timedelta(hours=number // 3),
                )
            )


def test_paging_after_the_last_artifact_walks_the_whole_list_once(
    database: Database,
) -> None:
    fill(database, 47)
    wanted = queries.ArtifactFilter(status="pending")
    with database.read() as session:
        everything = queries.list_artifacts(session, wanted, limit=1000)
        seen: list[Artifact] = []
        page = queries.list_artifacts(session, wanted, limit=5)
        for _ in range(20):  # 37 pending artifacts take 8 pages; more is a bug
            if not page:
                break
            seen.extend(page)
            page = queries.list_artifacts(session, wanted, limit=5, after=page[-1])

    assert len(everything) == 37
    assert [a.id for a in seen] == [a.id for a in everything]
    keys = [(a.captured_date, a.id) for a in seen]
    assert keys == sorted(keys, reverse=True)
    assert {a.status for a in seen} == {"pending"}


@pytest.mark.parametrize(
    "bounds",
    [(1000, 2000), (4, 1000), (4, 8)],
    ids=["from-matches", "artifact-set", "date-walk"],
)
def test_search_pages_hold_every_match_once_in_order_whichever_plan(
    database: Database, monkeypatch: pytest.MonkeyPatch, bounds: tuple[int, int]
) -> None:
    # On SQLite, how many texts a search matches picks its plan (about 15 do
    # here); every plan must page the same. PostgreSQL has one plan.
    monkeypatch.setattr(queries, "FEW_MATCHES", bounds[0])
    monkeypatch.setattr(queries, "MANY_MATCHES", bounds[1])
    fill(database, 60)
    with database.write() as session:
        for number, artifact in enumerate(session.scalars(select(Artifact))):
            words = ["sediment core"] if number % 4 == 0 else ["river delta"]
            if number % 10 == 0:
                words.append("sedimentology notes")
            session.add(
                ArtifactText(
                    artifact_id=artifact.id,
                    title=artifact.title,
                    body=" ".join(words),
                )
            )
    wanted = queries.ArtifactFilter(status="pending", search="sediment")
    with database.read() as session:
        pending = queries.list_artifacts(
            session, queries.ArtifactFilter(status="pending"), limit=1000
        )
        texts = {t.artifact_id: t.body for t in session.scalars(select(ArtifactText))}
        seen: list[Artifact] = []
        page = queries.list_artifacts(session, wanted, limit=4)
        for _ in range(20):
            if not page:
                break
            seen.extend(page)
            page = queries.list_artifacts(session, wanted, limit=4, after=page[-1])
        misses = queries.list_artifacts(
            session, queries.ArtifactFilter(status="pending", search="glacier"), 10
        )

    expected = [a.id for a in pending if "sediment" in texts[a.id]]
    assert len(expected) > 8
    assert [a.id for a in seen] == expected
    assert misses == []


def test_a_word_of_one_or_two_letters_matches_itself_and_longer_ones_start_words(
    database: Database,
) -> None:
    fill(database, 3)
    bodies = ["we go home", "golden hour", "goldfish bowl"]
    with database.write() as session:
        artifacts = list(session.scalars(select(Artifact).order_by(Artifact.name)))
        for artifact, body in zip(artifacts, bodies, strict=True):
            session.add(
                ArtifactText(artifact_id=artifact.id, title="untitled", body=body)
            )

    def found(words: str) -> set[str]:
        with database.read() as session:
            rows = queries.list_artifacts(
                session, queries.ArtifactFilter(search=words), 10
            )
            texts = {
                t.artifact_id: t.body for t in session.scalars(select(ArtifactText))
            }
            return {texts[a.id] for a in rows}

    assert found("go") == {"we go home"}
    assert found("gol") == {"golden hour", "goldfish bowl"}
    assert found("goldf") == {"goldfish bowl"}
    assert found("go home") == {"we go home"}


def test_oldest_first_pages_walk_the_list_backwards_ties_included(
    database: Database,
) -> None:
    fill(database, 47)
    newest = queries.ArtifactFilter(status="pending")
    oldest = queries.ArtifactFilter(status="pending", oldest_first=True)
    with database.read() as session:
        everything = queries.list_artifacts(session, newest, limit=1000)
        seen: list[Artifact] = []
        page = queries.list_artifacts(session, oldest, limit=5)
        for _ in range(20):
            if not page:
                break
            seen.extend(page)
            page = queries.list_artifacts(session, oldest, limit=5, after=page[-1])

    assert [a.id for a in seen] == [a.id for a in reversed(everything)]


@pytest.mark.parametrize(
    "few", [1000, 3], ids=["confidence-index", "date-walk-checking-confidence"]
)
def test_confidence_bounds_page_the_same_whichever_plan(
    database: Database, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    # On SQLite how many artifacts the bounds keep picks the index a page
    # starts from (22 are kept here); both must give the same pages.
    monkeypatch.setattr(queries, "FEW_MATCHES", few)
    fill(database, 60)
    with database.write() as session:
        for number, artifact in enumerate(session.scalars(select(Artifact))):
            artifact.confidence = (number % 7) / 10
    wanted = queries.ArtifactFilter(status="pending", at_least=0.2, below=0.45)
    with database.read() as session:
        expected = session.scalars(
            select(Artifact)
            .where(
                Artifact.status == "pending",
                Artifact.confidence >= 0.2,
                Artifact.confidence < 0.45,
            )
            .order_by(Artifact.captured_date.desc(), Artifact.id.desc())
        ).all()
        seen: list[Artifact] = []
        page = queries.list_artifacts(session, wanted, limit=4)
        while page and len(seen) < 100:
            seen.extend(page)
            page = queries.list_artifacts(session, wanted, limit=4, after=page[-1])
        started_from_the_index = queries._few_by_confidence(session, wanted)

    assert started_from_the_index == (few == 1000)
    assert len(expected) == 22
    assert [a.id for a in seen] == [a.id for a in expected]
    assert all(0.2 <= a.confidence < 0.45 for a in seen)
