"""What the tray shows, worked out from the store without any Qt: state, tooltip,
and notifications batched so they never come in a burst."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from midst_desktop.service.health import keyring_state
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    ArtifactStatus,
    IntegrationStatus,
    Run,
    RunStatus,
)
from midst_desktop.store.pause import PAUSED_FOREVER, paused_until

IDLE, SYNCING, ATTENTION, PAUSED = "idle", "syncing", "attention", "paused"
STATE_WORDS = {
    IDLE: "Up to date",
    SYNCING: "Syncing",
    ATTENTION: "Needs attention",
    PAUSED: "Paused",
}
# At most one notification per this long; what happens meanwhile is summed.
NOTIFY_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class IntegrationView:
    id: int
    provider: str
    display_name: str
    status: str
    last_synced_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class Snapshot:
    """One look at the store, taken on a worker thread."""

    to_review: int
    integrations: tuple[IntegrationView, ...]
    paused_until: str | None
    busy: int
    keyring: str
    newest_artifact: datetime | None
    new_artifacts: int
    failed_runs: tuple[str, ...]
    last_run_id: int
    taken_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def last_synced_at(self) -> datetime | None:
        moments = [i.last_synced_at for i in self.integrations if i.last_synced_at]
        return max(moments) if moments else None

    @property
    def needing_reconnect(self) -> tuple[IntegrationView, ...]:
        return tuple(
            i for i in self.integrations if i.status == IntegrationStatus.NEEDS_REAUTH
        )


def take_snapshot(
    database: Database,
    busy: int = 0,
    since: datetime | None = None,
    after_run: int = 0,
    check_keyring: bool = True,
) -> Snapshot:
    """Read what the tray shows. Blocks on the store (and the keyring): a worker's job.

    since and after_run say what the previous snapshot saw, so that only
    artifacts and failed runs that are new since then are counted.
    """
    with database.read() as session:
        counts = queries.count_by_status(session)
        integrations = tuple(
            IntegrationView(
                i.id,
                i.provider,
                i.display_name,
                i.status,
                i.last_synced_at,
                i.last_error,
            )
            for i in queries.list_integrations(session)
        )
        newest = session.scalar(select(func.max(Artifact.created_at)))
        new = 0
        if since is not None:
            new = int(
                session.scalar(select(func.count()).where(Artifact.created_at > since))
                or 0
            )
        runs = list(
            session.scalars(
                select(Run).where(Run.id > after_run).order_by(Run.id).limit(200)
            )
        )
        last_run = session.scalar(select(func.max(Run.id))) or 0
    names = {i.id: i.display_name for i in integrations}
    cloud = any(i.provider != "local" for i in integrations)
    failed = tuple(
        names.get(run.integration_id or 0, f"integration {run.integration_id}")
        for run in runs
        if run.status == RunStatus.FAILED and after_run
    )
    return Snapshot(
        to_review=counts[ArtifactStatus.PENDING],
        integrations=integrations,
        paused_until=paused_until(database),
        busy=busy,
        # Only cloud drives need the keyring; local folders sync without it.
        keyring=keyring_state() if check_keyring and cloud else "ok",
        newest_artifact=newest,
        new_artifacts=new,
        failed_runs=failed,
        last_run_id=int(last_run),
    )


def tray_state(snapshot: Snapshot, now: datetime | None = None) -> str:
    """Needs attention beats syncing beats paused beats idle."""
    if snapshot.needing_reconnect or snapshot.keyring != "ok":
        return ATTENTION
    if snapshot.busy:
        return SYNCING
    if _paused(snapshot.paused_until, now or datetime.now(UTC)):
        return PAUSED
    return IDLE


def _paused(until: str | None, now: datetime) -> bool:
    if until is None:
        return False
    if until == PAUSED_FOREVER:
        return True
    return datetime.fromisoformat(until) > now


def review_label(count: int) -> str:
    if count == 0:
        return "Nothing to review"
    noun = "artifact" if count == 1 else "artifacts"
    return f"{count:,} {noun} to review"


def describe_time(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    now = now or datetime.now(UTC)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = (now - moment).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    local = moment.astimezone()
    if seconds < 86400:
        return local.strftime("today at %H:%M")
    return local.strftime("%d %b %Y at %H:%M")


def pause_words(until: str | None) -> str:
    if until is None:
        return ""
    if until == PAUSED_FOREVER:
        return "paused until resumed"
    local = datetime.fromisoformat(until).astimezone()
    return local.strftime("paused until %d %b %H:%M")


def tooltip(snapshot: Snapshot, now: datetime | None = None) -> str:
    state = tray_state(snapshot, now)
    lines = [f"midst-desktop: {STATE_WORDS[state]}"]
    if state == PAUSED:
        lines[0] += f" ({pause_words(snapshot.paused_until)})"
    lines.append(f"Last sync: {describe_time(snapshot.last_synced_at, now)}")
    if snapshot.needing_reconnect:
        names = ", ".join(i.display_name for i in snapshot.needing_reconnect)
        lines.append(f"Reconnect needed: {names}")
    if snapshot.keyring != "ok":
        lines.append(f"Keyring: {snapshot.keyring}")
    lines.append(review_label(snapshot.to_review))
    return "\n".join(lines)


@dataclass
class Notice:
    title: str
    message: str
    warning: bool = False


class NotificationBatcher:
    """Collects what happened and lets out at most one notice per interval."""

    def __init__(self, every: timedelta = NOTIFY_EVERY) -> None:
        self.every = every
        self._new_artifacts = 0
        self._reconnect: set[str] = set()
        self._failed: set[str] = set()
        self._announced_reconnect: set[str] = set()
        self._last_sent: datetime | None = None

    def observe(self, snapshot: Snapshot) -> None:
        self._new_artifacts += snapshot.new_artifacts
        for integration in snapshot.needing_reconnect:
            if integration.display_name not in self._announced_reconnect:
                self._reconnect.add(integration.display_name)
        # A reconnected integration may ask again later.
        self._announced_reconnect &= {
            i.display_name for i in snapshot.needing_reconnect
        }
        self._failed.update(snapshot.failed_runs)

    def due(self, now: datetime) -> list[Notice]:
        """The notices to show now; empty while the interval has not passed."""
        if not (self._new_artifacts or self._reconnect or self._failed):
            return []
        if self._last_sent is not None and now - self._last_sent < self.every:
            return []
        notices: list[Notice] = []
        if self._reconnect:
            names = ", ".join(sorted(self._reconnect))
            notices.append(
                Notice(
                    "Reconnect needed",
                    f"{names} needs you to sign in again; open Integrations "
                    "and settings to reconnect.",
                    warning=True,
                )
            )
        if self._failed:
            names = ", ".join(sorted(self._failed))
            notices.append(
                Notice("Sync failed", f"The sync of {names} failed.", warning=True)
            )
        if self._new_artifacts:
            count = self._new_artifacts
            noun = "artifact" if count == 1 else "artifacts"
            notices.append(Notice("New artifacts", f"{count:,} new {noun} to review."))
        self._announced_reconnect |= self._reconnect
        self._new_artifacts = 0
        self._reconnect.clear()
        self._failed.clear()
        self._last_sent = now
        return notices
