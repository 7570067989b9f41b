"""Reading and changing integrations and artifacts, for the UI and the CLI alike."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    column,
    delete,
    func,
    inspect,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.selectable import Join

from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    AppState,
    Artifact,
    ArtifactStatus,
    ArtifactText,
    ArtifactType,
    ClassifiedBy,
    Integration,
    Run,
    SourceFile,
    utcnow,
)

MIN_ID_PREFIX = 4
# A search word of fewer letters matches only itself, not the words it starts.
MIN_PREFIX_LETTERS = 3
# How a SQLite search is run depends on how many texts it matches (see
# _sqlite_search); the bounds are where the plans cost about the same at a
# million artifacts (benchmarks/review_bench.py).
FEW_MATCHES = 4000
MANY_MATCHES = 15000
# Either plan reads rows scattered over the file; a connection that searched
# keeps this much of it cached (SQLite's default is 2 MiB).
SEARCH_CACHE_KIB = 16384

# DESIGN.md section 2: the only status moves there are.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    ArtifactStatus.PENDING: frozenset(
        {ArtifactStatus.APPROVED, ArtifactStatus.REJECTED, ArtifactStatus.ARCHIVED}
    ),
    ArtifactStatus.APPROVED: frozenset(
        {ArtifactStatus.ARCHIVED, ArtifactStatus.PENDING}
    ),
    ArtifactStatus.REJECTED: frozenset(
        {ArtifactStatus.ARCHIVED, ArtifactStatus.PENDING}
    ),
    ArtifactStatus.ARCHIVED: frozenset({ArtifactStatus.PENDING}),
}


class NotFoundError(LookupError):
    """No such integration or artifact; the message names it."""


class InvalidRequestError(ValueError):
    """A request that the store refuses (a bad status move, a bad value)."""


# -- integrations ---------------------------------------------------------


def get_integration(session: Session, integration_id: int) -> Integration:
    integration = session.get(Integration, integration_id)
    if integration is None:
        raise NotFoundError(f"there is no integration {integration_id}")
    return integration


def list_integrations(session: Session) -> list[Integration]:
    return list(session.scalars(select(Integration).order_by(Integration.id)))


def remove_integration(
    session: Session, integration_id: int, delete_artifacts: bool
) -> int:
    """Remove an integration; its artifacts stay unless asked. Returns how many went."""
    integration = get_integration(session, integration_id)
    removed = 0
    if delete_artifacts:
        result = session.execute(
            delete(Artifact).where(Artifact.integration_id == integration_id)
        )
        removed = int(result.rowcount or 0)  # type: ignore[attr-defined]
    session.delete(integration)
    return removed


# -- artifacts ------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactFilter:
    status: str | None = None
    artifact_type: str | None = None
    below: float | None = None
    search: str | None = None
    integration_id: int | None = None
    at_least: float | None = None
    captured_from: datetime | None = None
    captured_before: datetime | None = None
    # The order of the list, not a condition: oldest captured first.
    oldest_first: bool = False


def search_words(query: str) -> list[str]:
    return re.findall(r"\w+", query, flags=re.UNICODE)[:16]


def _apply_filter(
    statement: Select[Any],
    wanted: ArtifactFilter,
    dialect: str,
    search: bool = True,
    by_confidence: bool = True,
) -> Select[Any]:
    """Add the filter's conditions; search=False leaves the text search out.

    by_confidence=False keeps SQLite from reading the confidence index for
    the confidence bounds (they are checked row by row instead).
    """
    if wanted.status:
        statement = statement.where(Artifact.status == wanted.status)
    if wanted.artifact_type:
        statement = statement.where(Artifact.artifact_type == wanted.artifact_type)
    # "+ 0" hides the column from the planner's choice of index.
    confidence = Artifact.confidence if by_confidence else Artifact.confidence + 0
    if wanted.below is not None:
        statement = statement.where(confidence < wanted.below)
    if wanted.integration_id is not None:
        statement = statement.where(Artifact.integration_id == wanted.integration_id)
    if wanted.at_least is not None:
        statement = statement.where(confidence >= wanted.at_least)
    if wanted.captured_from is not None:
        statement = statement.where(Artifact.captured_date >= wanted.captured_from)
    if wanted.captured_before is not None:
        statement = statement.where(Artifact.captured_date < wanted.captured_before)
    if search and wanted.search:
        words = _search_words_of(wanted)
        statement = statement.where(Artifact.id.in_(_text_matches(words, dialect)))
    return statement


def _search_words_of(wanted: ArtifactFilter) -> list[str]:
    words = search_words(wanted.search or "")
    if not words:
        raise InvalidRequestError("the search has no words in it")
    return words


def _fts_query(words: list[str], prefix: bool = True) -> str:
    # Each word is quoted, so nothing a person types is FTS5 syntax.
    return " ".join(
        '"' + word.replace('"', "") + '"' + ("*" if prefix and _is_prefix(word) else "")
        for word in words
    )


def _is_prefix(word: str) -> bool:
    """Whether a search word matches the words it starts, or only itself.

    One or two letters start too many words: FTS5 would merge the matches of
    hundreds of them (half a second at a million artifacts), and they say
    little about what the person looks for.
    """
    return len(word) >= MIN_PREFIX_LETTERS


def _fts_first(session: Session, query: str, limit: int) -> list[int]:
    """The first text ids (ascending) that an FTS5 query matches."""
    found = session.scalars(
        text("SELECT rowid FROM artifact_fts WHERE artifact_fts MATCH :q LIMIT :n"),
        {"q": query, "n": limit},
    )
    return [int(rowid) for rowid in found]


def _fts_count(session: Session, query: str, limit: int) -> int:
    """How many texts an FTS5 query matches, counting no further than limit."""
    counted = session.scalar(
        text(
            "SELECT count(*) FROM (SELECT rowid FROM artifact_fts "
            "WHERE artifact_fts MATCH :q LIMIT :n)"
        ),
        {"q": query, "n": limit},
    )
    return int(counted or 0)


def _fts_rowids(words: list[str]) -> Any:
    return (
        text("SELECT rowid FROM artifact_fts WHERE artifact_fts MATCH :q")
        .bindparams(q=_fts_query(words))
        .columns(column("rowid", Integer))
    )


def _text_matches(words: list[str], dialect: str) -> Any:
    if dialect == "sqlite":
        rowids = _fts_rowids(words)
        return select(ArtifactText.artifact_id).where(ArtifactText.id.in_(rowids))
    query = " & ".join(
        re.sub(r"[^\w]", "", word) + (":*" if _is_prefix(word) else "")
        for word in words
    )
    return select(ArtifactText.artifact_id).where(
        text("search_vector @@ to_tsquery('simple', :q)").bindparams(q=query)
    )


def _sqlite_search(
    session: Session, statement: Select[Any], wanted: ArtifactFilter
) -> Select[Any]:
    """Narrow a page's statement to the search's matches, by the cheapest plan.

    Left to itself, SQLite walks the status tab's date index and checks each
    row against the set of matched artifact ids, built first: for a rare word
    the walk crosses the whole tab (100 ms and more at a million artifacts),
    for a common one the set costs seconds. So the matches are counted first
    (FTS5 lists text ids without touching another table), and:

    - few matches: start from them, look up their artifacts, sort by date;
    - a middling number: walk the date index against the set of their
      artifact ids (each match costs one lookup, each row walked none);
    - many: walk the date index and check each row's text id against the
      matched text ids (each row walked costs one lookup, but with so many
      matches a page is full after a few thousand rows).
    """
    words = _search_words_of(wanted)
    session.execute(text(f"PRAGMA cache_size=-{SEARCH_CACHE_KIB}"))
    # A prefix matches at least what its whole word does, and FTS5 streams a
    # whole word's matches but gathers all of a prefix's before the first:
    # when the whole words match many texts, the prefixes need not be read.
    whole, prefixed = _fts_query(words, prefix=False), _fts_query(words)
    few = _fts_first(session, whole, FEW_MATCHES + 1)
    if len(few) <= FEW_MATCHES:
        few = _fts_first(session, prefixed, FEW_MATCHES + 1)
    if not few:
        return statement.where(literal(False))
    if len(few) <= FEW_MATCHES:
        # A CROSS JOIN is how SQLite is told the order: texts, then artifacts.
        return statement.select_from(
            _CrossJoin(ArtifactText, Artifact, ArtifactText.artifact_id == Artifact.id)
        ).where(ArtifactText.id.in_(few))
    if (
        _fts_count(session, whole, MANY_MATCHES + 1) <= MANY_MATCHES
        and _fts_count(session, prefixed, MANY_MATCHES + 1) <= MANY_MATCHES
    ):
        return statement.where(Artifact.id.in_(_text_matches(words, "sqlite")))
    # "+ 0" keeps the planner from searching the text index once per match
    # and row (a minute for a common word).
    return statement.join(ArtifactText, ArtifactText.artifact_id == Artifact.id).where(
        (ArtifactText.id + 0).in_(_fts_rowids(words))
    )


class _CrossJoin(Join):
    """An inner join that SQLite must run in the order written."""

    inherit_cache = True

    def __init__(self, left: Any, right: Any, onclause: Any) -> None:
        super().__init__(inspect(left).selectable, inspect(right).selectable, onclause)


@compiles(_CrossJoin, "sqlite")
def _compile_cross_join(element: _CrossJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    return (
        f"{compiler.process(element.left, **kw)} CROSS JOIN "
        f"{compiler.process(element.right, **kw)} "
        f"ON {compiler.process(element.onclause, **kw)}"
    )


# Where a page starts: after the row with this (captured_date, id), in the
# filter's order; None is the top.
SortKey = tuple[datetime, str]
# The columns of a row in the review table, in the order rows give them.
ROW_COLUMNS = (
    Artifact.id,
    Artifact.title,
    Artifact.artifact_type,
    Artifact.confidence,
    Artifact.status,
    Artifact.source_provider,
    Artifact.source_available,
    Artifact.captured_date,
    Artifact.integration_id,
)


def _page(
    session: Session,
    statement: Select[Any],
    wanted: ArtifactFilter,
    after: SortKey | None,
    skip: int = 0,
) -> Select[Any]:
    """statement narrowed to the filter, in its order, from after on, skip rows in."""
    dialect = session.get_bind().dialect.name
    statement = _apply_filter(
        statement,
        wanted,
        dialect,
        search=dialect != "sqlite",
        by_confidence=dialect != "sqlite" or _few_by_confidence(session, wanted),
    )
    if wanted.search and dialect == "sqlite":
        statement = _sqlite_search(session, statement, wanted)
    if after is not None:
        # A row value, not "a < x OR (a = x AND b < y)": SQLite seeks the index
        # on the row value, but scans it from the start on the OR (46 ms deep
        # into a million artifacts, against 0.02 ms).
        key = tuple_(Artifact.captured_date, Artifact.id)
        anchor = tuple_(
            literal(after[0], Artifact.captured_date.type),
            literal(after[1], Artifact.id.type),
        )
        statement = statement.where(
            key > anchor if wanted.oldest_first else key < anchor
        )
    if wanted.oldest_first:
        statement = statement.order_by(Artifact.captured_date, Artifact.id)
    else:
        statement = statement.order_by(
            Artifact.captured_date.desc(), Artifact.id.desc()
        )
    # Skipped rows cost one step of the index each: a short skip from a
    # nearby anchor is as cheap as the page itself.
    return statement.offset(skip) if skip else statement


def _few_by_confidence(session: Session, wanted: ArtifactFilter) -> bool:
    """Whether the confidence bounds leave few artifacts of the filter's tab.

    Given a confidence bound, SQLite reads the confidence index and sorts
    every match by date: 1.3 s for the half of a million artifacts that a
    bound like "below 0.5" may keep, against 2 ms walking the date index and
    checking each row. With few matches the index is the right start; with
    many, the date walk fills a page after a few rows. A bounded count, on
    the covering confidence index, tells which.
    """
    if wanted.below is None and wanted.at_least is None:
        return True
    bounds = ArtifactFilter(
        status=wanted.status, below=wanted.below, at_least=wanted.at_least
    )
    matches = _apply_filter(select(Artifact.confidence), bounds, "sqlite").limit(
        FEW_MATCHES + 1
    )
    counted = session.scalar(select(func.count()).select_from(matches.subquery()))
    return int(counted or 0) <= FEW_MATCHES


def list_artifacts(
    session: Session,
    wanted: ArtifactFilter,
    limit: int = 50,
    after: Artifact | None = None,
) -> list[Artifact]:
    """A page of artifacts, newest captured first (or oldest, as wanted says);
    `after` continues a page (keyset). Both orders read the same index."""
    key = None if after is None else (after.captured_date, after.id)
    return list(
        session.scalars(_page(session, select(Artifact), wanted, key).limit(limit))
    )


def list_rows(
    session: Session,
    wanted: ArtifactFilter,
    limit: int,
    after: SortKey | None = None,
    skip: int = 0,
) -> list[Any]:
    """The review table's columns (ROW_COLUMNS) of a page: skip rows past after."""
    columns: Any = select(*ROW_COLUMNS)
    statement = _page(session, columns, wanted, after, skip)
    return list(session.execute(statement.limit(limit)).all())


def list_ids(
    session: Session,
    wanted: ArtifactFilter,
    limit: int,
    after: SortKey | None = None,
    skip: int = 0,
) -> list[str]:
    """The ids of a page: skip rows past after, then limit of them."""
    statement = _page(session, select(Artifact.id), wanted, after, skip)
    return list(session.scalars(statement.limit(limit)))


def keyset_anchors(
    session: Session, wanted: ArtifactFilter, stride: int
) -> list[tuple[int, SortKey]]:
    """Every stride-th row's sort key with its row number: (n, key) says that n
    rows come up to and with key, so row n is the first after it.

    One pass over the filter's index in the order shown; a text search has
    no cheap pass of its kind and is refused.
    """
    if wanted.search:
        raise InvalidRequestError("a search has no keyset anchors")
    dialect = session.get_bind().dialect.name
    order: tuple[Any, Any] = (
        (Artifact.captured_date, Artifact.id)
        if wanted.oldest_first
        else (Artifact.captured_date.desc(), Artifact.id.desc())
    )
    number = func.row_number().over(order_by=order).label("number")
    numbered = _apply_filter(
        select(Artifact.captured_date, Artifact.id, number), wanted, dialect
    ).subquery()
    statement = (
        select(numbered.c.number, numbered.c.captured_date, numbered.c.id)
        .where(numbered.c.number % stride == 0)
        .order_by(numbered.c.number)
    )
    return [
        (int(n), (captured, artifact_id))
        for n, captured, artifact_id in session.execute(statement)
    ]


def count_matching(session: Session, wanted: ArtifactFilter) -> int:
    """How many artifacts a filter matches (the review window's preview counts)."""
    statement = _apply_filter(
        select(func.count()).select_from(Artifact),
        wanted,
        session.get_bind().dialect.name,
    )
    return int(session.scalar(statement) or 0)


def count_by_status(session: Session) -> dict[str, int]:
    counts = {status.value: 0 for status in ArtifactStatus}
    rows = session.execute(
        select(Artifact.status, func.count()).group_by(Artifact.status)
    ).all()
    for status, number in rows:
        counts[status] = int(number)
    return counts


def get_artifact(session: Session, artifact_id: str) -> Artifact:
    """An artifact by its id, or by an unambiguous prefix of at least 4 characters."""
    artifact = session.get(Artifact, artifact_id)
    if artifact is not None:
        return artifact
    cleaned = artifact_id.strip().lower()
    if len(cleaned) < MIN_ID_PREFIX or not re.fullmatch(r"[0-9a-f-]+", cleaned):
        raise NotFoundError(f"there is no artifact {artifact_id}")
    matches = list(
        session.scalars(
            select(Artifact)
            .where(func.substr(Artifact.id, 1, len(cleaned)) == cleaned)
            .limit(2)
        )
    )
    if not matches:
        raise NotFoundError(f"there is no artifact {artifact_id}")
    if len(matches) > 1:
        raise InvalidRequestError(f"{artifact_id} matches more than one artifact")
    return matches[0]


def get_artifacts(session: Session, artifact_ids: Sequence[str]) -> list[Artifact]:
    return [get_artifact(session, artifact_id) for artifact_id in artifact_ids]


def move_status(
    session: Session,
    artifact_ids: Sequence[str],
    target: str,
    reason: str | None = None,
) -> list[Artifact]:
    """Move every artifact to target, or none of them when one move is not allowed."""
    artifacts = get_artifacts(session, artifact_ids)
    for artifact in artifacts:
        if target not in ALLOWED_MOVES[artifact.status]:
            raise InvalidRequestError(
                f"artifact {artifact.id} is {artifact.status}; "
                f"it cannot become {target}" + _hint(artifact.status, target)
            )
    now = utcnow()
    for artifact in artifacts:
        artifact.previous_status = artifact.status
        artifact.status = target
        artifact.reviewed_at = now
        artifact.updated_at = now
        if target == ArtifactStatus.REJECTED:
            artifact.review_reason = reason
        elif target == ArtifactStatus.PENDING:
            artifact.review_reason = None
    return artifacts


def _hint(current: str, target: str) -> str:
    if current == target:
        return " (it already is)"
    if current == ArtifactStatus.ARCHIVED:
        return " (restore it first)"
    return ""


def edit_artifact(
    session: Session,
    artifact_id: str,
    title: str | None = None,
    artifact_type: str | None = None,
    tags: Iterable[str] | None = None,
    description: str | None = None,
) -> Artifact:
    artifact = get_artifact(session, artifact_id)
    if title is not None:
        if not title.strip():
            raise InvalidRequestError("a title cannot be empty")
        artifact.title = title.strip()
        artifact.title_edited = True
        text_row = session.scalar(
            select(ArtifactText).where(ArtifactText.artifact_id == artifact.id)
        )
        if text_row is not None:
            text_row.title = artifact.title
    if artifact_type is not None:
        artifact.artifact_type = parse_type(artifact_type)
        artifact.classified_by = ClassifiedBy.USER
        artifact.confidence = 1.0
    if tags is not None:
        artifact.tags = sorted({tag.strip() for tag in tags if tag.strip()})
    if description is not None:
        artifact.description = description
    artifact.updated_at = utcnow()
    return artifact


# What an edit can change, so that it can be put back exactly.
EDITED_FIELDS = (
    "title",
    "title_edited",
    "artifact_type",
    "confidence",
    "classified_by",
    "tags",
    "description",
)


def edit_state(artifact: Artifact) -> dict[str, Any]:
    """The values an edit may change, to give to restore_edit."""
    state = {name: getattr(artifact, name) for name in EDITED_FIELDS}
    state["tags"] = list(state["tags"] or [])
    return state


def restore_edit(session: Session, artifact_id: str, state: dict[str, Any]) -> Artifact:
    """Put back what edit_state saw: undoing an edit, type and confidence too."""
    artifact = get_artifact(session, artifact_id)
    for name in EDITED_FIELDS:
        setattr(artifact, name, state[name])
    text_row = session.scalar(
        select(ArtifactText).where(ArtifactText.artifact_id == artifact.id)
    )
    if text_row is not None:
        text_row.title = artifact.title
    artifact.updated_at = utcnow()
    return artifact


def parse_type(value: str) -> str:
    try:
        return ArtifactType(value).value
    except ValueError:
        choices = ", ".join(t.value for t in ArtifactType)
        raise InvalidRequestError(
            f"unknown type {value!r}; use one of {choices}"
        ) from None


def parse_status(value: str) -> str:
    try:
        return ArtifactStatus(value).value
    except ValueError:
        choices = ", ".join(s.value for s in ArtifactStatus)
        raise InvalidRequestError(
            f"unknown status {value!r}; use one of {choices}"
        ) from None


def bulk_archive(session: Session, status: str, older_than_days: int) -> int:
    """Archive every artifact in status that was last changed before the cutoff."""
    if ArtifactStatus.ARCHIVED not in ALLOWED_MOVES[status]:
        raise InvalidRequestError(f"{status} artifacts cannot be archived")
    cutoff = utcnow() - timedelta(days=older_than_days)
    changed_at = func.coalesce(Artifact.reviewed_at, Artifact.created_at)
    now = utcnow()
    result = session.execute(
        update(Artifact)
        .where(Artifact.status == status, changed_at < cutoff)
        .values(
            previous_status=Artifact.status,
            status=ArtifactStatus.ARCHIVED,
            reviewed_at=now,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def latest_runs(session: Session, limit: int = 20) -> list[Run]:
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit)))


def skipped_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(SourceFile.skip_reason, func.count())
        .where(SourceFile.skip_reason.is_not(None), SourceFile.vanished_at.is_(None))
        .group_by(SourceFile.skip_reason)
    ).all()
    return {str(reason): int(number) for reason, number in rows}


# -- small named values -----------------------------------------------------


def get_state(database: Database, key: str) -> Any:
    with database.read() as session:
        row = session.get(AppState, key)
        return None if row is None else row.value


def set_state(database: Database, key: str, value: Any) -> None:
    with database.write() as session:
        row = session.get(AppState, key)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(AppState(key=key, value=value))
        else:
            row.value = value


def artifact_json(artifact: Artifact) -> dict[str, Any]:
    """The JSON shape of DESIGN.md section 5, and then some."""
    return {
        "id": artifact.id,
        "integration_id": artifact.integration_id,
        "source_provider": artifact.source_provider,
        "source_id": artifact.source_id,
        "source_path": artifact.source_path,
        "name": artifact.name,
        "title": artifact.title,
        "mime_type": artifact.mime_type,
        "size_bytes": artifact.size_bytes,
        "content_hash": artifact.content_hash,
        "artifact_type": artifact.artifact_type,
        "confidence": artifact.confidence,
        "classified_by": artifact.classified_by,
        "status": artifact.status,
        "source_available": bool(artifact.source_available),
        "captured_date": _iso(artifact.captured_date),
        "modified_at": _iso(artifact.modified_at),
        "created_at": _iso(artifact.created_at),
        "updated_at": _iso(artifact.updated_at),
        "reviewed_at": _iso(artifact.reviewed_at),
        "review_reason": artifact.review_reason,
        "description": artifact.description,
        "tags": list(artifact.tags or []),
        "authors": list(artifact.authors or []),
        "keywords": list(artifact.keywords or []),
        "metadata": dict(artifact.meta or {}),
    }


def integration_json(integration: Integration) -> dict[str, Any]:
    return {
        "id": integration.id,
        "provider": integration.provider,
        "display_name": integration.display_name,
        "account_label": integration.account_label,
        "root_path": integration.root_path,
        "status": integration.status,
        "folder_config": integration.folder_config,
        "last_synced_at": _iso(integration.last_synced_at),
        "last_full_sync_at": _iso(integration.last_full_sync_at),
        "last_error": integration.last_error,
        "created_at": _iso(integration.created_at),
    }


def run_json(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "integration_id": run.integration_id,
        "kind": run.kind,
        "trigger": run.trigger,
        "status": run.status,
        "folder": run.folder,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "counts": {
            "listed": run.listed,
            "created": run.created,
            "updated": run.updated,
            "unchanged": run.unchanged,
            "skipped": run.skipped,
            "failed": run.failed,
            "removed": run.removed,
        },
        "error_message": run.error_message,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
