"""SQLAlchemy models of the store (DESIGN.md section 2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class ArtifactType(StrEnum):
    ACADEMIC_PAPER = "academic_paper"
    CREATIVE_WRITING = "creative_writing"
    VISUAL_ART = "visual_art"
    PRESENTATION = "presentation"
    VIDEO = "video"
    AUDIO = "audio"
    DATASET = "dataset"
    CODE_SAMPLE = "code_sample"
    OTHER = "other"


class ArtifactStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


class IntegrationStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    ERROR = "error"
    PAUSED = "paused"


class Provider(StrEnum):
    LOCAL = "local"
    GOOGLE_DRIVE = "google_drive"
    DROPBOX = "dropbox"


class SkipReason(StrEnum):
    TOO_LARGE = "too_large"
    EXCLUDED = "excluded"
    UNSUPPORTED = "unsupported"
    UNREADABLE = "unreadable"
    EXTRACT_FAILED = "extract_failed"


class RunKind(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"
    FOLDER = "folder"
    RECLASSIFY = "reclassify"
    BULK_ARCHIVE = "bulk_archive"


class RunTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    STARTUP = "startup"


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ClassifiedBy(StrEnum):
    RULES = "rules"
    MODEL = "model"
    USER = "user"


RUN_COUNTS = (
    "listed",
    "created",
    "updated",
    "unchanged",
    "skipped",
    "failed",
    "removed",
)

# The one format both dialects store datetimes in: naive UTC.
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime in Python, naive UTC in the database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Byte order on PostgreSQL too, so the sync's ordered merge sees the order SQLite sees.
SOURCE_ID = Text().with_variant(Text(collation="C"), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Integration(Base):
    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(Text)
    account_label: Mapped[str | None] = mapped_column(Text)
    root_path: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=IntegrationStatus.ACTIVE)
    folder_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cursor: Mapped[str | None] = mapped_column(Text)
    last_synced_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_full_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SourceFile(Base):
    """One file (or one skipped folder) seen at a source."""

    __tablename__ = "source_files"
    __table_args__ = (
        UniqueConstraint("integration_id", "source_id"),
        Index("ix_source_files_fingerprint", "integration_id", "fingerprint"),
        Index("ix_source_files_content_hash", "integration_id", "content_hash"),
        Index("ix_source_files_artifact_id", "artifact_id"),
        # Few rows: the files gone since they were stored, where moves start.
        Index(
            "ix_source_files_vanished",
            "integration_id",
            "id",
            sqlite_where=text("vanished_at IS NOT NULL"),
            postgresql_where=text("vanished_at IS NOT NULL"),
        ),
        # Few rows: the files recorded as skipped, which a rescan counts.
        Index(
            "ix_source_files_skipped",
            "integration_id",
            "skip_reason",
            sqlite_where=text("skip_reason IS NOT NULL"),
            postgresql_where=text("skip_reason IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE")
    )
    source_id: Mapped[str] = mapped_column(SOURCE_ID)
    path: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    version: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    mime_type: Mapped[str | None] = mapped_column(Text)
    artifact_id: Mapped[str | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL")
    )
    skip_reason: Mapped[str | None] = mapped_column(String(16))
    vanished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The last run that listed the file: a cloud listing, which is not in id
    # order, finds the files it did not see by this stamp.
    seen_run: Mapped[int | None] = mapped_column(Integer)


class FolderSummary(Base):
    """A digest of one local folder's entries as the last rescan stored them.

    A rescan walks the folder again and compares digests: a folder whose
    digest is unchanged holds no change, so its stored files are not read.
    """

    __tablename__ = "folder_summaries"

    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    # The folder's path inside the integration ('' for its root), as source
    # ids are written.
    folder: Mapped[str] = mapped_column(SOURCE_ID, primary_key=True)
    digest: Mapped[str] = mapped_column(String(32))


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        UniqueConstraint("integration_id", "source_id"),
        Index("ix_artifacts_status_captured", "status", "captured_date", "id"),
        Index(
            "ix_artifacts_integration_status_captured",
            "integration_id",
            "status",
            "captured_date",
            "id",
        ),
        Index("ix_artifacts_type", "artifact_type"),
        Index(
            "ix_artifacts_status_type_captured",
            "status",
            "artifact_type",
            "captured_date",
            "id",
        ),
        Index("ix_artifacts_status_confidence", "status", "confidence"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Removing an integration keeps its artifacts (and the decisions on them).
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL")
    )
    source_provider: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(Text)
    source_path: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    mime_type: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    artifact_type: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float)
    classified_by: Mapped[str] = mapped_column(String(8), default=ClassifiedBy.RULES)
    status: Mapped[str] = mapped_column(String(16), default=ArtifactStatus.PENDING)
    source_available: Mapped[bool] = mapped_column(Boolean, default=True)
    captured_date: Mapped[datetime] = mapped_column(UtcDateTime)
    modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_reason: Mapped[str | None] = mapped_column(Text)
    previous_status: Mapped[str | None] = mapped_column(String(16))
    title_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    authors: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)


class ArtifactText(Base):
    """Title and extracted text of an artifact; the full-text index reads this."""

    __tablename__ = "artifact_texts"

    # An integer key: SQLite's FTS5 table refers to rows by it, and VACUUM keeps it.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    artifact_id: Mapped[str] = mapped_column(
        ForeignKey("artifacts.id", ondelete="CASCADE"), unique=True
    )
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_integration_started", "integration_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    folder: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    listed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)


class SyncLock(Base):
    """Who syncs an integration now (SQLite; PostgreSQL uses advisory locks)."""

    __tablename__ = "sync_locks"

    integration_id: Mapped[int] = mapped_column(
        ForeignKey("integrations.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class AppState(Base):
    """Small named values: the schedule's pause, the store's own version marks."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
