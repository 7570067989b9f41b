"""Integrations and settings: connect, reconnect, disconnect, folder config,
schedule, start at login, the endpoint, and the first-run onboarding."""

from __future__ import annotations

import json
import logging
import os
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from sqlalchemy import func, select

from midst_desktop.config import CONFIG_FILE_NAME, Settings
from midst_desktop.service.endpoint import EndpointError
from midst_desktop.store import queries
from midst_desktop.store.db import Database
from midst_desktop.store.models import (
    Artifact,
    Integration,
    IntegrationStatus,
    Provider,
    RunKind,
    SourceFile,
)
from midst_desktop.sync.folders import FolderConfig, FolderConfigError, validate_pattern
from midst_desktop.ui.icons import resources_dir
from midst_desktop.ui.login_item import LoginItem, login_item
from midst_desktop.ui.review import _named
from midst_desktop.ui.state import describe_time
from midst_desktop.ui.tray import Schedule
from midst_desktop.ui.workers import Workers

log = logging.getLogger(__name__)

ONBOARDED_KEY = "onboarding_done"
PROVIDER_WORDS: dict[str, str] = {
    Provider.LOCAL: "Local folder",
    Provider.GOOGLE_DRIVE: "Google Drive",
    Provider.DROPBOX: "Dropbox",
}


# -- what the window does, without Qt ------------------------------------------


@dataclass(frozen=True)
class IntegrationRow:
    id: int
    provider: str
    display_name: str
    account_label: str | None
    status: str
    last_synced_at: datetime | None
    artifacts: int
    root_path: str | None
    folder_config: dict[str, Any]


def needs_onboarding(database: Database) -> bool:
    """The first run: no integration yet and the onboarding never finished."""
    if queries.get_state(database, ONBOARDED_KEY):
        return False
    with database.read() as session:
        return not queries.list_integrations(session)


def load_integrations(database: Database) -> list[IntegrationRow]:
    with database.read() as session:
        counts = dict(
            session.execute(
                select(Artifact.integration_id, func.count()).group_by(
                    Artifact.integration_id
                )
            ).all()
        )
        return [
            IntegrationRow(
                i.id,
                i.provider,
                i.display_name,
                i.account_label,
                i.status,
                i.last_synced_at,
                int(counts.get(i.id, 0)),
                i.root_path,
                dict(i.folder_config or {}),
            )
            for i in queries.list_integrations(session)
        ]


def add_local_folder(
    database: Database, settings: Settings, path: str, name: str | None = None
) -> int:
    """Add a local folder integration, as the CLI does. Raises ValueError."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"{path} is not a folder")
    root = root.resolve()
    config = FolderConfig(max_file_size_mb=settings.max_file_size_mb)
    with database.write() as session:
        for other in queries.list_integrations(session):
            if other.provider != Provider.LOCAL or not other.root_path:
                continue
            theirs = Path(other.root_path)
            if root == theirs or theirs in root.parents or root in theirs.parents:
                raise ValueError(
                    f"{root} overlaps {other.display_name}; its files would be "
                    "synced twice"
                )
        integration = Integration(
            provider=Provider.LOCAL,
            display_name=name or root.name or str(root),
            account_label=os.environ.get("USER") or None,
            root_path=str(root),
            status=IntegrationStatus.ACTIVE,
            folder_config=config.to_json(),
        )
        session.add(integration)
        session.flush()
        integration_id = integration.id
    log.info("Added integration_id=%s, provider=local", integration_id)
    return integration_id


def suggested_folders(home: Path | None = None) -> list[tuple[str, Path]]:
    """iCloud Drive and OneDrive folders that exist on this machine."""
    home = home or Path.home()
    candidates = [
        ("iCloud Drive", home / "Library" / "Mobile Documents" / "com~apple~CloudDocs"),
        ("iCloud Drive", home / "iCloudDrive"),
        (
            "OneDrive",
            _env_path("OneDrive"),
        ),
        ("OneDrive", home / "OneDrive"),
    ]
    candidates += [("OneDrive", p) for p in sorted(home.glob("OneDrive - *"))]
    found: list[tuple[str, Path]] = []
    for label, path in candidates:
        if path is not None and path.is_dir() and all(path != p for _l, p in found):
            found.append((label, path))
    return found


def _env_path(name: str) -> Path | None:
    # Windows names this variable in mixed case; it is read as written.
    value = os.environ.get(name)
    return Path(value) if value else None


# The preview's word for files outside the included folders: they are not
# skipped but never listed, so no skip reason of the store's names them.
NOT_INCLUDED = "outside_the_included_folders"


def preview_skips(
    database: Database, integration_id: int, config: FolderConfig
) -> dict[str, int]:
    """What the folder config would skip among the files last seen at the source."""
    counts: dict[str, int] = {"taken": 0}
    with database.read() as session:
        local = queries.get_integration(session, integration_id).provider == (
            Provider.LOCAL
        )
        rows = session.execute(
            select(
                SourceFile.source_id,
                SourceFile.path,
                SourceFile.size,
                SourceFile.mime_type,
            ).where(
                SourceFile.integration_id == integration_id,
                SourceFile.vanished_at.is_(None),
            )
        )
        for source_id, path, size, mime_type in rows:
            # Folder config globs match '/'-rooted paths inside the source: a
            # local file's id is that path less its '/'; a cloud file's id is
            # the provider's, and its path is the one inside the drive.
            rooted = "/" + source_id.lstrip("/") if local else path
            reason = (
                config.skip_reason(rooted, int(size or 0), mime_type)
                if config.includes(rooted)
                else NOT_INCLUDED
            )
            key = reason or "taken"
            counts[key] = counts.get(key, 0) + 1
    return counts


def save_folder_config(
    database: Database, integration_id: int, config: FolderConfig
) -> None:
    with database.write() as session:
        integration = queries.get_integration(session, integration_id)
        integration.folder_config = config.to_json()


def parse_folder_config(
    patterns: str,
    max_size_mb: int,
    included: str = "/",
    saved: FolderConfig | None = None,
) -> FolderConfig:
    """The editor's text: one glob a line, one included folder a line.

    What the editor does not show (the allowed MIME types) is kept from the
    saved config. Raises FolderConfigError.
    """
    globs = tuple(
        validate_pattern(line.strip()) for line in patterns.splitlines() if line.strip()
    )
    folders = tuple(
        _included_folder(line.strip()) for line in included.splitlines() if line.strip()
    )
    return replace(
        saved or FolderConfig(),
        included_folders=folders or ("/",),
        excluded_patterns=globs,
        max_file_size_mb=max_size_mb,
    )


def _included_folder(line: str) -> str:
    # Every provider reads included folders as paths from the source's root.
    parts = [part for part in line.split("/") if part]
    if "\x00" in line or any(part in (".", "..") for part in parts):
        raise FolderConfigError(
            f"{line!r} is not a folder path: write it from the top, e.g. /Work"
        )
    return "/" + "/".join(parts)


def write_config_values(settings: Settings, values: dict[str, Any]) -> Path:
    """Set keys in the settings file, keeping the others; used from the next start."""
    path = settings.config_dir / CONFIG_FILE_NAME
    current: dict[str, Any] = {}
    if path.is_file():
        with path.open("rb") as handle:
            current = tomllib.load(handle)
    current.update(values)
    lines = []
    for key, value in current.items():
        if isinstance(value, dict):
            raise ValueError(f"{path} has a table {key}; edit it by hand")
        lines.append(f"{key} = {_toml_value(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".toml.tmp")
    temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    # A JSON string is a valid TOML basic string.
    return json.dumps(str(value), ensure_ascii=False)


# -- the window --------------------------------------------------------------------


class PasteCodeDialog(QDialog):
    """Asks for the code a provider's page shows, when it cannot redirect back."""

    def __init__(self, question: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Paste the code - midst-desktop")
        _named(self, "Paste the code")
        layout = QVBoxLayout(self)
        label = QLabel(question, self)
        label.setWordWrap(True)
        _named(label, "What to paste")
        layout.addWidget(label)
        self.code = QLineEdit(self)
        self.code.setPlaceholderText("The code from the browser")
        _named(self.code, "Code", "The code the provider's page shows")
        label.setBuddy(self.code)
        layout.addWidget(self.code)
        buttons = QDialogButtonBox(self)
        self.connect_button = buttons.addButton(
            "Connect", QDialogButtonBox.ButtonRole.AcceptRole
        )
        _named(self.connect_button, "Connect")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        _named(cancel, "Cancel")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class CodeAsker(QObject):
    """Lets a sign-in on a worker thread ask the person for a pasted code.

    ask() blocks its worker until the dialog on the GUI thread is answered,
    cancelled or timed out; the GUI thread never waits.
    """

    _asked = Signal(str)
    _expired = Signal()

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.dialog: PasteCodeDialog | None = None
        self._answer = ""
        self._answered = threading.Event()
        self._asked.connect(self._show)
        self._expired.connect(self._close)

    def ask(self, question: str, timeout_seconds: float) -> str:
        """The pasted code, '' when cancelled. Blocks: call it on a worker.

        Raises OAuthError when nothing is pasted within the time-out.
        """
        from midst_desktop.sync.oauth import OAuthError

        self._answer = ""
        self._answered.clear()
        self._asked.emit(question)
        if not self._answered.wait(timeout_seconds):
            self._expired.emit()
            raise OAuthError(
                f"no code was pasted within {timeout_seconds:g} s; connect again"
            )
        return self._answer

    def _show(self, question: str) -> None:
        dialog = PasteCodeDialog(question, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.finished.connect(lambda result: self._finished(dialog, result))
        self.dialog = dialog
        dialog.show()
        dialog.code.setFocus()

    def _finished(self, dialog: PasteCodeDialog, result: int) -> None:
        if result == QDialog.DialogCode.Accepted:
            self._answer = dialog.code.text().strip()
        if self.dialog is dialog:
            self.dialog = None
        self._answered.set()

    def _close(self) -> None:
        if self.dialog is not None:
            self.dialog.reject()


class SettingsWindow(QWidget):
    """Integrations, folder config, schedule, start at login, endpoint; onboarding."""

    integrations_changed = Signal()
    message = Signal(str)

    def __init__(
        self,
        database: Database,
        settings: Settings,
        schedule: Schedule,
        onboarding: bool = False,
        parent: QWidget | None = None,
        apply_settings: Callable[..., None] | None = None,
        login: LoginItem | None = None,
    ) -> None:
        super().__init__(parent)
        self.database = database
        self.settings = settings
        self.schedule = schedule
        # Puts saved schedule and endpoint settings to use at once (the
        # agent's apply_settings); without it they wait for the next start.
        self.apply_settings = apply_settings
        self.login_item = login or login_item(
            resources_dir() / "app" / "midst-desktop-autostart.desktop"
        )
        self.workers = Workers(self, threads=1)
        self.code_asker = CodeAsker(self)
        self.rows: list[IntegrationRow] = []
        self.last_message = ""
        self.error_box: QMessageBox | None = None
        self.setWindowTitle("Integrations and settings - midst-desktop")
        _named(self, "Integrations and settings")
        self.pages = QStackedWidget(self)
        _named(self.pages, "Pages")
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        self.pages.addWidget(self._build_onboarding())
        self.pages.addWidget(self._build_main())
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        _named(self.status, "Settings status")
        layout.addWidget(self.status)
        self.message.connect(self._say)
        self.pages.setCurrentIndex(0 if onboarding else 1)
        self.resize(860, 560)
        self.reload()

    # -- onboarding -------------------------------------------------------

    def _build_onboarding(self) -> QWidget:
        page = QWidget(self)
        _named(page, "Welcome")
        layout = QVBoxLayout(page)
        title = QLabel("<h2>Welcome to midst-desktop</h2>", page)
        _named(title, "Welcome title")
        text = QLabel(
            "midst-desktop finds your papers, writing, art, slides, recordings "
            "and code in your folders and drives, sorts each file into a type, "
            "and lets you review it. Your files stay where they are.\n\n"
            "Start with one place to look:",
            page,
        )
        text.setWordWrap(True)
        _named(text, "Welcome text")
        layout.addWidget(title)
        layout.addWidget(text)
        self.onboarding_buttons = QVBoxLayout()
        choose = QPushButton("Choose a folder...", page)
        _named(choose, "Choose a folder")
        choose.clicked.connect(self.choose_folder)
        self.onboarding_buttons.addWidget(choose)
        for label, path in suggested_folders():
            button = QPushButton(f"Use {label} ({path})", page)
            _named(button, f"Use {label}")
            button.clicked.connect(lambda _c=False, p=path: self.add_folder(str(p)))
            self.onboarding_buttons.addWidget(button)
        layout.addLayout(self.onboarding_buttons)
        self.onboarding_progress = QLabel("", page)
        self.onboarding_progress.setWordWrap(True)
        _named(self.onboarding_progress, "First sync")
        layout.addWidget(self.onboarding_progress)
        layout.addStretch(1)
        row = QHBoxLayout()
        self.skip_button = QPushButton("Skip for now", page)
        _named(self.skip_button, "Skip onboarding")
        self.skip_button.clicked.connect(self.finish_onboarding)
        self.done_button = QPushButton("Done", page)
        _named(self.done_button, "Finish onboarding")
        self.done_button.clicked.connect(self.finish_onboarding)
        self.done_button.setVisible(False)
        row.addStretch(1)
        row.addWidget(self.skip_button)
        row.addWidget(self.done_button)
        layout.addLayout(row)
        return page

    def show_onboarding(self) -> None:
        self.pages.setCurrentIndex(0)

    def finish_onboarding(self) -> None:
        self.workers.run(lambda: queries.set_state(self.database, ONBOARDED_KEY, True))
        self.pages.setCurrentIndex(1)

    # -- the main page ----------------------------------------------------

    def _build_main(self) -> QWidget:
        tabs = QTabWidget(self)
        _named(tabs, "Settings sections")
        _named(tabs.tabBar(), "Settings sections")
        tabs.addTab(self._build_integrations(tabs), "&Integrations")
        tabs.addTab(self._build_general(tabs), "&General")
        return tabs

    def _build_integrations(self, parent: QWidget) -> QWidget:
        page = QWidget(parent)
        layout = QVBoxLayout(page)
        self.table = QTableWidget(0, 6, page)
        self.table.setHorizontalHeaderLabels(
            ["Name", "Provider", "Account", "Status", "Last sync", "Artifacts"]
        )
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 200)
        _named(self.table, "Integrations")
        _named(self.table.horizontalHeader(), "Integration columns")
        _named(self.table.verticalHeader(), "Integration rows")
        # One integration is chosen at a time: the corner has nothing to select.
        self.table.setCornerButtonEnabled(False)
        corner = self.table.findChild(QAbstractButton, "qt_tableview_cornerbutton")
        if corner is not None:
            _named(corner, "Select all integrations")
        self.table.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table, 1)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add local folder...", page)
        self.add_button.clicked.connect(self.offer_local_folders)
        self.add_menu: QMenu | None = None
        self.drive_button = QPushButton("Connect Google Drive...", page)
        self.drive_button.clicked.connect(lambda: self.connect_cloud("google-drive"))
        self.dropbox_button = QPushButton("Connect Dropbox...", page)
        self.dropbox_button.clicked.connect(lambda: self.connect_cloud("dropbox"))
        self.sync_button = QPushButton("Sync now", page)
        self.sync_button.clicked.connect(self.sync_selected)
        self.reconnect_button = QPushButton("Reconnect", page)
        self.reconnect_button.clicked.connect(self.reconnect_selected)
        self.remove_button = QPushButton("Disconnect...", page)
        self.remove_button.clicked.connect(self.ask_to_disconnect)
        for button in (
            self.add_button,
            self.drive_button,
            self.dropbox_button,
            self.sync_button,
            self.reconnect_button,
            self.remove_button,
        ):
            _named(button, button.text().rstrip("."))
            buttons.addWidget(button)
        layout.addLayout(buttons)

        self.folder_box = QGroupBox("Folder config of the selected integration", page)
        _named(self.folder_box, "Folder config")
        form = QFormLayout(self.folder_box)
        self.included_edit = QPlainTextEdit(self.folder_box)
        self.included_edit.setPlaceholderText("One folder a line, e.g. /Work; / is all")
        self.included_edit.setMaximumHeight(60)
        self.included_edit.setTabChangesFocus(True)
        _named(self.included_edit, "Included folders")
        self.patterns_edit = QPlainTextEdit(self.folder_box)
        self.patterns_edit.setPlaceholderText("One glob a line, e.g. */node_modules/*")
        self.patterns_edit.setMaximumHeight(80)
        self.patterns_edit.setTabChangesFocus(True)
        _named(self.patterns_edit, "Excluded patterns")
        self.max_size = QSpinBox(self.folder_box)
        self.max_size.setRange(1, 1_000_000)
        self.max_size.setSuffix(" MB")
        _named(self.max_size, "Largest file")
        self.skip_preview = QLabel(self.folder_box)
        _named(self.skip_preview, "Skip preview")
        self.save_folder_button = QPushButton("Save folder config", self.folder_box)
        _named(self.save_folder_button, "Save folder config")
        self.save_folder_button.clicked.connect(self.save_folder_config)
        form.addRow("Included folders", self.included_edit)
        form.addRow("Excluded patterns", self.patterns_edit)
        form.addRow("Largest file", self.max_size)
        form.addRow("Would be skipped", self.skip_preview)
        form.addRow("", self.save_folder_button)
        self.included_edit.textChanged.connect(self.update_preview)
        self.patterns_edit.textChanged.connect(self.update_preview)
        self.max_size.valueChanged.connect(lambda _v: self.update_preview())
        layout.addWidget(self.folder_box)
        self._selection_changed()
        return page

    def _build_general(self, parent: QWidget) -> QWidget:
        page = QWidget(parent)
        form = QFormLayout(page)
        settings = self.settings
        self.incremental_minutes = QSpinBox(page)
        self.incremental_minutes.setRange(1, 10_080)
        self.incremental_minutes.setSuffix(" min")
        self.incremental_minutes.setValue(settings.incremental_interval_minutes)
        _named(self.incremental_minutes, "Look for changes every")
        self.full_hours = QSpinBox(page)
        self.full_hours.setRange(1, 8_760)
        self.full_hours.setSuffix(" h")
        self.full_hours.setValue(settings.full_interval_hours)
        _named(self.full_hours, "Full sync every")
        self.login_box = QCheckBox("Start midst-desktop when I log in", page)
        self.login_box.setChecked(self.login_item.enabled())
        _named(self.login_box, "Start at login")
        self.login_box.toggled.connect(self.set_start_at_login)
        self.endpoint_box = QCheckBox("Serve /health and /metrics on 127.0.0.1", page)
        self.endpoint_box.setChecked(settings.endpoint_enabled)
        _named(self.endpoint_box, "Local endpoint")
        self.endpoint_port = QSpinBox(page)
        self.endpoint_port.setRange(1024, 65535)
        self.endpoint_port.setValue(settings.endpoint_port)
        _named(self.endpoint_port, "Endpoint port")
        self.endpoint_token = QLineEdit(page)
        self.endpoint_token.setEchoMode(QLineEdit.EchoMode.Password)
        self.endpoint_token.setText(settings.endpoint_token)
        self.endpoint_token.setPlaceholderText("optional bearer token")
        _named(self.endpoint_token, "Endpoint token")
        self.save_general_button = QPushButton("Save", page)
        _named(self.save_general_button, "Save settings")
        self.save_general_button.clicked.connect(self.save_general)
        form.addRow("Look for changes every", self.incremental_minutes)
        form.addRow("Full sync every", self.full_hours)
        form.addRow("", self.login_box)
        form.addRow("", self.endpoint_box)
        form.addRow("Port", self.endpoint_port)
        form.addRow("Token", self.endpoint_token)
        form.addRow("", self.save_general_button)
        return page

    # -- integrations -----------------------------------------------------

    def reload(self) -> None:
        self.workers.run(
            lambda: load_integrations(self.database), self._landed, self._say
        )

    def _landed(self, rows: list[IntegrationRow]) -> None:
        chosen = self.selected()
        self.rows = rows
        self.table.setRowCount(len(rows))
        for number, row in enumerate(rows):
            cells = [
                row.display_name,
                PROVIDER_WORDS.get(row.provider, row.provider),
                row.account_label or "",
                row.status.replace("_", " "),
                describe_time(row.last_synced_at),
                f"{row.artifacts:,}",
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 5:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(number, column, item)
            if chosen is not None and row.id == chosen.id:
                self.table.selectRow(number)
        if self.table.currentRow() < 0 and rows:
            self.table.selectRow(0)
        self._selection_changed()

    def selected(self) -> IntegrationRow | None:
        number = self.table.currentRow()
        return self.rows[number] if 0 <= number < len(self.rows) else None

    def _selection_changed(self) -> None:
        row = self.selected()
        for button in (self.sync_button, self.reconnect_button, self.remove_button):
            button.setEnabled(row is not None)
        self.folder_box.setEnabled(row is not None)
        if row is None:
            return
        config = FolderConfig.from_json(row.folder_config)
        self.included_edit.blockSignals(True)
        self.included_edit.setPlainText("\n".join(config.included_folders))
        self.included_edit.blockSignals(False)
        self.patterns_edit.blockSignals(True)
        self.patterns_edit.setPlainText("\n".join(config.excluded_patterns))
        self.patterns_edit.blockSignals(False)
        self.max_size.blockSignals(True)
        self.max_size.setValue(config.max_file_size_mb)
        self.max_size.blockSignals(False)
        self.update_preview()

    def offer_local_folders(self) -> None:
        """Add local folder: the iCloud Drive and OneDrive folders first, if any."""
        found = suggested_folders()
        if not found:
            self.choose_folder()
            return
        if self.add_menu is not None:
            self.add_menu.deleteLater()
        menu = QMenu(self)
        _named(menu, "Add local folder")
        for label, path in found:
            action = menu.addAction(f"Use {label} ({path})")
            action.triggered.connect(lambda _c=False, p=path: self.add_folder(str(p)))
        menu.addSeparator()
        menu.addAction("Choose a folder...").triggered.connect(self.choose_folder)
        self.add_menu = menu
        # popup(), not exec(): the window goes on while the menu is open.
        menu.popup(self.add_button.mapToGlobal(self.add_button.rect().bottomLeft()))

    def choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder to look in")
        if path:
            self.add_folder(path)

    def add_folder(self, path: str) -> None:
        """Add a local folder and run its first sync (onboarding leads here)."""

        def work() -> int:
            integration_id = add_local_folder(self.database, self.settings, path)
            queries.set_state(self.database, ONBOARDED_KEY, True)
            return integration_id

        def done(integration_id: int) -> None:
            self.integrations_changed.emit()
            self.schedule.run_now(integration_id, RunKind.FULL)
            self.onboarding_progress.setText(
                f"Added {path}. The first sync has started: new artifacts appear "
                "in Review artifacts as they are found."
            )
            self.skip_button.setVisible(False)
            self.done_button.setVisible(True)
            self._say(f"Added {path}; syncing it now")
            self.reload()

        self.workers.run(work, done, self._failed)

    def connect_cloud(self, provider: str) -> None:
        """The browser sign-in runs on a worker; the window stays usable."""
        from midst_desktop.sync import connect
        from midst_desktop.sync.oauth import default_opener

        def work() -> dict[str, Any]:
            kind = connect.kind_for(provider)
            credentials = connect.sign_in(
                self.settings,
                kind,
                default_opener,
                lambda url: self.message.emit(
                    f"Sign in in your browser. If it did not open, visit {url}"
                ),
                self.code_asker.ask,
            )
            return connect.connect(self.database, self.settings, kind, credentials)

        def done(payload: dict[str, Any]) -> None:
            self._say(f"Connected {payload['display_name']}")
            self.integrations_changed.emit()
            self.schedule.run_now(int(payload["id"]), RunKind.FULL)
            self.reload()

        self._say("Opening your browser to sign in...")
        self.workers.run(work, done, self._failed)

    def sync_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.schedule.run_now(row.id, RunKind.INCREMENTAL)
        self._say(f"Syncing {row.display_name}")

    def reconnect_selected(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.provider != Provider.LOCAL:
            self._reconnect_cloud(row)
            return

        def work() -> None:
            if not Path(row.root_path or "").is_dir():
                raise ValueError(f"the folder {row.root_path} is still not there")
            with self.database.write() as session:
                integration = queries.get_integration(session, row.id)
                integration.status = IntegrationStatus.ACTIVE
                integration.last_error = None

        self.workers.run(
            work,
            lambda _r: self._changed(f"{row.display_name} is active again"),
            self._failed,
        )

    def _reconnect_cloud(self, row: IntegrationRow) -> None:
        from midst_desktop.sync import connect
        from midst_desktop.sync.oauth import default_opener

        def work() -> None:
            kind = connect.kind_for(row.provider)
            credentials = connect.sign_in(
                self.settings,
                kind,
                default_opener,
                lambda url: self.message.emit(f"Sign in in your browser: {url}"),
                self.code_asker.ask,
            )
            connect.reconnect(self.database, self.settings, row.id, credentials)

        self.workers.run(
            work,
            lambda _r: self._changed(f"{row.display_name} is active again"),
            self._failed,
        )

    def ask_to_disconnect(self) -> None:
        # The button's clicked() carries a checked flag; passed on as
        # delete_artifacts, it would answer the question for the person.
        self.disconnect_selected()

    def disconnect_selected(self, delete_artifacts: bool | None = None) -> None:
        """Remove the selected integration; asks whether its artifacts go too."""
        row = self.selected()
        if row is None:
            return
        if delete_artifacts is None:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Disconnect",
                f"Disconnect {row.display_name}? Its {row.artifacts:,} artifacts "
                "can stay (with your reviews) or be deleted.",
                parent=self,
            )
            _named(box, "Disconnect")
            keep = box.addButton("Keep artifacts", QMessageBox.ButtonRole.AcceptRole)
            delete = box.addButton(
                "Delete artifacts", QMessageBox.ButtonRole.DestructiveRole
            )
            cancel = box.addButton(QMessageBox.StandardButton.Cancel)
            for button, name in (
                (keep, "Keep artifacts"),
                (delete, "Delete artifacts"),
                (cancel, "Cancel"),
            ):
                _named(button, name)
            box.exec()
            if box.clickedButton() not in (keep, delete):
                return
            delete_artifacts = box.clickedButton() is delete
        remove_all = bool(delete_artifacts)

        def work() -> str:
            if row.provider == Provider.LOCAL:
                with self.database.write() as session:
                    queries.remove_integration(session, row.id, remove_all)
                return f"Removed {row.display_name}"
            from midst_desktop.sync import connect

            result = connect.disconnect(
                self.database, self.settings, row.id, remove_all
            )
            if result.revoke_problem:
                return (
                    f"Removed {row.display_name}; the access could not be revoked "
                    f"({result.revoke_problem}): revoke it in your account settings"
                )
            return f"Removed {row.display_name} and revoked its access"

        self.workers.run(work, self._changed, self._failed)

    def _changed(self, words: str) -> None:
        self._say(words)
        self.integrations_changed.emit()
        self.reload()

    # -- folder config ----------------------------------------------------

    def edited_config(self) -> FolderConfig:
        row = self.selected()
        return parse_folder_config(
            self.patterns_edit.toPlainText(),
            self.max_size.value(),
            self.included_edit.toPlainText(),
            FolderConfig.from_json(row.folder_config) if row is not None else None,
        )

    def update_preview(self) -> None:
        row = self.selected()
        if row is None:
            return
        try:
            config = self.edited_config()
        except FolderConfigError as error:
            self.skip_preview.setText(str(error))
            return
        self.workers.run(
            lambda: preview_skips(self.database, row.id, config),
            lambda counts: self._preview_landed(config, counts),
            self._say,
        )

    def _preview_landed(self, config: FolderConfig, counts: dict[str, int]) -> None:
        try:
            if config != self.edited_config():
                return  # edited again since
        except FolderConfigError:
            return
        skipped = {k: v for k, v in counts.items() if k != "taken"}
        if not skipped:
            self.skip_preview.setText(f"nothing of {counts['taken']:,} files seen")
            return
        parts = [
            f"{count:,} {reason.replace('_', ' ')}"
            for reason, count in sorted(skipped.items())
        ]
        self.skip_preview.setText(
            ", ".join(parts) + f"; {counts['taken']:,} files taken in"
        )

    def save_folder_config(self) -> None:
        row = self.selected()
        if row is None:
            return
        try:
            config = self.edited_config()
        except FolderConfigError as error:
            self._say(str(error))
            return
        self.workers.run(
            lambda: save_folder_config(self.database, row.id, config),
            lambda _r: self._changed("Folder config saved; the next sync uses it"),
            self._say,
        )

    # -- general ----------------------------------------------------------

    def set_start_at_login(self, enabled: bool) -> None:
        try:
            self.login_item.set(enabled)
        except OSError as error:
            self._say(f"Could not change start at login: {error.strerror or error}")
            return
        self._say("Starts at login" if enabled else "Does not start at login")

    def save_general(self) -> None:
        values = {
            "incremental_interval_minutes": self.incremental_minutes.value(),
            "full_interval_hours": self.full_hours.value(),
            "endpoint_enabled": self.endpoint_box.isChecked(),
            "endpoint_port": self.endpoint_port.value(),
            "endpoint_token": self.endpoint_token.text(),
        }
        apply = self.apply_settings

        def save() -> str:
            path = write_config_values(self.settings, values)
            if apply is None:
                return f"Saved to {path}; used from the next start"
            try:
                apply(**values)
            except EndpointError as error:
                return f"Saved, but the endpoint is off: {error}"
            return "Saved and in use"

        self.workers.run(save, self._say, self._say)

    def _say(self, words: str) -> None:
        self.last_message = words
        self.status.setText(words)

    def _failed(self, words: str) -> None:
        """What the person asked for failed: said in the window and in a box.

        The box is not modal: the window stays usable behind it.
        """
        self._say(words)
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "midst-desktop",
            words[:1].upper() + words[1:],
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setAccessibleName("Something went wrong")
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.error_box = box
        box.show()

    def shutdown(self) -> None:
        self.workers.wait()
