"""Small helpers the store and engine tests share."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from midst_desktop.config import Settings
from midst_desktop.store.db import Database
from midst_desktop.store.models import Artifact, Integration, Run, SourceFile
from midst_desktop.sync.engine import SyncEngine
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.registry import provider_for


def add_local(database: Database, root: Path, **config: object) -> int:
    folder_config = FolderConfig(**config).to_json()  # type: ignore[arg-type]
    with database.write() as session:
        integration = Integration(
            provider="local",
            display_name=root.name,
            root_path=str(root),
            folder_config=folder_config,
        )
        session.add(integration)
        session.flush()
        return integration.id


def engine(database: Database, settings: Settings) -> SyncEngine:
    return SyncEngine(database, settings, provider_for)


def artifacts_by_source(database: Database) -> dict[str, Artifact]:
    with database.read() as session:
        return {a.source_id: a for a in session.scalars(select(Artifact))}


def source_files(database: Database) -> dict[str, SourceFile]:
    with database.read() as session:
        return {f.source_id: f for f in session.scalars(select(SourceFile))}


def counts(run: Run) -> dict[str, int]:
    return {
        name: getattr(run, name)
        for name in ("listed", "created", "updated", "unchanged", "skipped", "removed")
    }


def write(path: Path, text: str = "content") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
