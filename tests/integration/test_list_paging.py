"""Keyset paging of the review list: every artifact once, in order, ties included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact, Integration


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
