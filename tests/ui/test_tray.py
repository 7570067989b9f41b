"""The tray: its menu's actions against the real agent, its states and notices."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject, QSize, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from midst_desktop import __version__
from midst_desktop.agent import Agent
from midst_desktop.store.models import Integration, IntegrationStatus, Run
from midst_desktop.store.pause import PAUSED_FOREVER, is_paused, paused_until
from midst_desktop.ui.state import (
    ATTENTION,
    IDLE,
    PAUSED,
    SYNCING,
    IntegrationView,
    NotificationBatcher,
    Snapshot,
    describe_time,
    tooltip,
    tray_state,
)
from midst_desktop.ui.tray import TrayController
from tests.support.store import write
from tests.ui.conftest import Synced, sqlite_only


class Opened(QObject):
    """Receives the URLs the app asks the desktop to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


def make_tray(
    qtbot: QtBot, synced: Synced, agent: Agent, use_tray: bool = False
) -> TrayController:
    calls: list[str] = []
    tray = TrayController(
        synced.database,
        synced.settings,
        agent.scheduler,
        lambda: calls.append("review"),
        lambda: calls.append("settings"),
        lambda: calls.append("quit"),
        use_tray=use_tray,
        refresh_ms=100_000,
    )
    tray.calls = calls  # type: ignore[attr-defined]
    qtbot.waitUntil(lambda: tray.snapshot is not None)
    return tray


def refreshed(qtbot: QtBot, tray: TrayController) -> None:
    with qtbot.waitSignal(tray.refreshed, timeout=10000):
        tray.refresh()


@sqlite_only
def test_menu_counts_artifacts_and_lists_each_integration(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    tray = make_tray(qtbot, synced, agent)
    pending = tray.snapshot.to_review  # type: ignore[union-attr]
    assert pending >= 6
    assert tray.review_count_action.text() == f"{pending} artifacts to review"
    names = [a.text() for a in tray.sync_menu.actions()]
    assert names[0] == "All integrations"
    assert "work" in names
    assert set(tray.sync_actions) == {
        (synced.integration_id, "incremental"),
        (synced.integration_id, "full"),
    }
    assert tray.state == IDLE

    tray.review_action.trigger()
    tray.settings_action.trigger()
    tray.quit_action.trigger()
    assert tray.calls == ["review", "settings", "quit"]  # type: ignore[attr-defined]
    tray.shutdown()


def test_sync_now_runs_a_manual_sync_and_the_new_artifact_is_announced(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    tray = make_tray(qtbot, synced, agent)
    before = tray.snapshot.to_review  # type: ignore[union-attr]
    last_run = tray.snapshot.last_run_id  # type: ignore[union-attr]
    write(synced.folder / "writing" / "new-story.txt", "A new story begins here.\n")

    tray.sync_actions[(synced.integration_id, "full")].trigger()

    def manual_full_run() -> bool:
        with synced.database.read() as session:
            runs = list(session.scalars(select(Run).where(Run.id > last_run)))
            return any(
                (r.trigger, r.kind, r.status) == ("manual", "full", "succeeded")
                for r in runs
            )

    qtbot.waitUntil(manual_full_run, timeout=30000)
    refreshed(qtbot, tray)
    assert tray.snapshot.to_review == before + 1  # type: ignore[union-attr]
    assert tray.review_count_action.text() == f"{before + 1} artifacts to review"
    assert [n.title for n in tray.notices] == ["New artifacts"]
    assert tray.notices[0].message == "1 new artifact to review."
    tray.shutdown()


@sqlite_only
def test_pause_for_an_hour_then_resume_through_the_menu(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    tray = make_tray(qtbot, synced, agent)
    with qtbot.waitSignal(tray.state_changed, timeout=10000) as changed:
        tray.pause_hour_action.trigger()
    assert changed.args == [PAUSED]
    assert is_paused(synced.database)
    until = datetime.fromisoformat(paused_until(synced.database) or "")
    assert timedelta(minutes=59) < until - datetime.now(UTC) <= timedelta(hours=1)
    assert tray.resume_action.isVisible()
    assert not tray.pause_menu.menuAction().isVisible()

    with qtbot.waitSignal(tray.state_changed, timeout=10000) as changed:
        tray.resume_action.trigger()
    assert changed.args == [IDLE]
    assert not is_paused(synced.database)

    tray.pause_forever_action.trigger()
    qtbot.waitUntil(lambda: tray.state == PAUSED)
    assert paused_until(synced.database) == PAUSED_FOREVER
    tray.shutdown()


def next_local_midnight() -> datetime:
    local = datetime.now().astimezone() + timedelta(days=1)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


@sqlite_only
def test_pause_until_tomorrow_lasts_until_the_next_midnight_and_the_tooltip_says_so(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    # Offscreen Qt has no tray host, but the icon itself can be made.
    tray = make_tray(qtbot, synced, agent, use_tray=True)
    assert tray.tray is not None
    qtbot.waitUntil(lambda: tray.tray.toolTip() != "")  # type: ignore[union-attr]
    with synced.database.read() as session:
        integration = session.get(Integration, synced.integration_id)
        assert integration is not None
        last = integration.last_synced_at
    # The sync may have ended a minute or more before this test reads it.
    now = datetime.now(UTC)
    said = {describe_time(last, now - timedelta(seconds=back)) for back in (10, 0)}
    lines = tray.tray.toolTip().splitlines()[:2]
    assert lines[0] == "midst-desktop: Up to date"
    assert lines[1] in {f"Last sync: {words}" for words in said}
    before = next_local_midnight()

    with qtbot.waitSignal(tray.state_changed, timeout=10000) as changed:
        tray.pause_tomorrow_action.trigger()

    after = next_local_midnight()
    assert changed.args == [PAUSED]
    until = datetime.fromisoformat(paused_until(synced.database) or "")
    assert until in (before, after)
    first = tray.tray.toolTip().splitlines()[0]
    assert first == (
        "midst-desktop: Paused (paused until "
        f"{until.astimezone().strftime('%d %b')} 00:00)"
    )
    tray.shutdown()


def test_a_sync_that_fails_is_announced_as_failed(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    tray = make_tray(qtbot, synced, agent)
    last_run = tray.snapshot.last_run_id  # type: ignore[union-attr]
    shutil.rmtree(synced.folder)

    tray.sync_actions[(synced.integration_id, "incremental")].trigger()

    def failed_run() -> Run | None:
        with synced.database.read() as session:
            return session.scalars(
                select(Run).where(Run.id > last_run, Run.status == "failed")
            ).first()

    qtbot.waitUntil(lambda: failed_run() is not None, timeout=30000)
    assert "cannot read the folder" in (failed_run().error_message or "")  # type: ignore[union-attr]
    refreshed(qtbot, tray)
    assert [(n.title, n.message, n.warning) for n in tray.notices] == [
        ("Sync failed", "The sync of work failed.", True)
    ]
    tray.shutdown()


@sqlite_only
def test_an_integration_that_needs_a_reconnect_turns_the_tray_to_attention(
    qtbot: QtBot, synced: Synced, agent: Agent
) -> None:
    tray = make_tray(qtbot, synced, agent)
    with synced.database.write() as session:
        integration = session.get(Integration, synced.integration_id)
        integration.status = IntegrationStatus.NEEDS_REAUTH

    refreshed(qtbot, tray)
    assert tray.state == ATTENTION
    assert [n.title for n in tray.notices] == ["Reconnect needed"]
    assert "work" in tray.notices[0].message
    # Still needing it on the next look is not a second notice.
    refreshed(qtbot, tray)
    assert len(tray.notices) == 1
    tray.shutdown()


@sqlite_only
def test_open_log_folder_and_about(qtbot: QtBot, synced: Synced, agent: Agent) -> None:
    tray = make_tray(qtbot, synced, agent)
    opened = Opened()
    QDesktopServices.setUrlHandler("file", opened, "open")
    try:
        tray.log_action.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in opened.urls] == [str(synced.settings.log_dir)]

    tray.about_action.trigger()
    assert tray.about_box is not None and tray.about_box.isVisible()
    assert __version__ in tray.about_box.text()
    tray.about_box.close()
    tray.shutdown()


# -- the state logic, without a tray host ---------------------------------------


def snapshot(**changes: object) -> Snapshot:
    values: dict[str, object] = {
        "to_review": 3,
        "integrations": (
            IntegrationView(1, "local", "Work", "active", datetime(2026, 1, 2), None),
        ),
        "paused_until": None,
        "busy": 0,
        "keyring": "ok",
        "newest_artifact": None,
        "new_artifacts": 0,
        "failed_runs": (),
        "last_run_id": 4,
    }
    values.update(changes)
    return Snapshot(**values)  # type: ignore[arg-type]


def test_attention_wins_over_syncing_which_wins_over_paused() -> None:
    reauth = (IntegrationView(2, "dropbox", "Box", "needs_reauth", None, None),)
    assert tray_state(snapshot()) == IDLE
    assert tray_state(snapshot(paused_until=PAUSED_FOREVER)) == PAUSED
    assert tray_state(snapshot(paused_until=PAUSED_FOREVER, busy=1)) == SYNCING
    assert tray_state(snapshot(busy=1, integrations=reauth)) == ATTENTION
    assert tray_state(snapshot(keyring="unlock your keyring (KeyringLocked)")) == (
        ATTENTION
    )
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert tray_state(snapshot(paused_until=past)) == IDLE


def test_tooltip_says_state_and_last_sync() -> None:
    now = datetime(2026, 1, 2, 0, 10, tzinfo=UTC)
    text = tooltip(snapshot(), now)
    assert text.splitlines()[0] == "midst-desktop: Up to date"
    assert "Last sync: 10 min ago" in text
    assert "3 artifacts to review" in text
    never = tooltip(snapshot(integrations=()), now)
    assert "Last sync: never" in never


def test_notices_are_batched_so_they_never_come_in_a_burst() -> None:
    batcher = NotificationBatcher(every=timedelta(seconds=60))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batcher.observe(snapshot(new_artifacts=2))
    assert [n.message for n in batcher.due(start)] == ["2 new artifacts to review."]

    batcher.observe(snapshot(new_artifacts=5))
    batcher.observe(snapshot(new_artifacts=4, failed_runs=("Work",)))
    assert batcher.due(start + timedelta(seconds=30)) == []
    later = batcher.due(start + timedelta(seconds=61))
    assert [(n.title, n.message) for n in later] == [
        ("Sync failed", "The sync of Work failed."),
        ("New artifacts", "9 new artifacts to review."),
    ]
    assert batcher.due(start + timedelta(seconds=200)) == []


def test_every_state_has_a_light_and_a_dark_icon_that_renders(qapp: object) -> None:
    from midst_desktop.ui.icons import STATES, icon_path, render, state_icon

    drawn = set()
    for state in STATES:
        for theme in ("light", "dark"):
            image = render(icon_path(state, theme), 48)
            opaque = sum(
                image.pixelColor(x, y).alpha() > 0
                for x in range(0, 48, 2)
                for y in range(0, 48, 2)
            )
            assert opaque > 50, (state, theme)
            drawn.add(bytes(image.constBits()))
        # 200 %: the icon holds a pixmap drawn at twice the size.
        sizes = state_icon(state, dark=False).availableSizes()
        assert QSize(128, 128) in sizes
    assert len(drawn) == 2 * len(STATES)
