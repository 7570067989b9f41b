"""Google Drive through the official SDK (google-api-python-client, google-auth).

Listing: the folder tree first, then the files, 1,000 a page: the whole
drive in one query when "/" is included, else the included folders' files in
queries of 50 parent folders run in parallel. Changes: changes.list from the
stored page token until newStartPageToken, one page per transaction. The
folder tree is kept in the cache folder between runs, so an incremental sync
with nothing changed costs one request. Decisions on shortcuts, trash, shared
files and moves are in docs/architecture.md ("Google Drive").
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import google.auth.exceptions
import google.oauth2.credentials
import google_auth_httplib2
import httplib2
import httpx
from googleapiclient.discovery import build as build_service
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload

from midst_desktop import events
from midst_desktop.config import Settings
from midst_desktop.store.models import Provider as ProviderName
from midst_desktop.store.models import SkipReason
from midst_desktop.sync.cloud import (
    AccessTokens,
    BrowserOpener,
    CloudKind,
    CodePrompt,
    CredentialsSource,
    temporary_download,
)
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.folders import FolderConfig
from midst_desktop.sync.oauth import OAuthError, authorize_in_browser
from midst_desktop.sync.providers.base import (
    AuthExpiredError,
    Change,
    ChangePage,
    ContentUnavailableError,
    CursorInvalidError,
    ListedFile,
    Provider,
    ProviderError,
    Scope,
    SourceUnavailableError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

SCOPES = ("https://www.googleapis.com/auth/drive.readonly",)
FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
NATIVE_PREFIX = "application/vnd.google-apps."
# Native documents: the format they are classified as, and the export that
# carries their text.
NATIVE_EXPORTS = {
    "application/vnd.google-apps.document": ("docx", "text/plain"),
    "application/vnd.google-apps.spreadsheet": ("xlsx", "text/csv"),
    "application/vnd.google-apps.presentation": ("pptx", "text/plain"),
    "application/vnd.google-apps.drawing": ("svg", "image/svg+xml"),
}
PAGE_SIZE = 1000
PARENTS_PER_QUERY = 50
LISTING_RESTARTS = 3
FILE_FIELDS = (
    "id,name,mimeType,parents,size,sha256Checksum,modifiedTime,version,trashed"
)
FOLDER_FIELDS = "id,name,parents"
LIST_FIELDS = f"nextPageToken,files({FILE_FIELDS})"
CHANGE_FIELDS = (
    f"nextPageToken,newStartPageToken,changes(fileId,removed,file({FILE_FIELDS}))"
)
REQUEST_TIMEOUT_SECONDS = 60
DOWNLOAD_CHUNK = 8 * 1024 * 1024
MAX_ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 64.0
MAX_RETRY_AFTER_SECONDS = 300.0
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
FOLDER_CACHE_VERSION = 1
# Network failures worth another attempt; httplib2 raises the socket's own.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    http.client.HTTPException,
    httplib2.HttpLib2Error,
    google.auth.exceptions.TransportError,
)


# The access tokens of this process: the agent builds a provider for every
# run, and a quiet incremental sync must not pay for a token refresh.
ACCESS_TOKENS = AccessTokens()


# -- the folder tree -----------------------------------------------------------


class FolderTree:
    """Folder id -> (name, parent id); paths resolved from the My Drive root."""

    def __init__(self, root_id: str, folders: dict[str, tuple[str, str | None]]):
        self.root_id = root_id
        self.folders = folders
        self._paths: dict[str, str | None] = {}

    def set(self, folder_id: str, name: str, parent: str | None) -> None:
        self.folders[folder_id] = (name, parent)
        self._paths.clear()

    def drop(self, folder_ids: list[str]) -> None:
        for folder_id in folder_ids:
            self.folders.pop(folder_id, None)
        self._paths.clear()

    def path(self, folder_id: str | None) -> str | None:
        """'/A/B' for a folder in My Drive, '' for the root, None outside it."""
        if folder_id is None:
            return None
        if folder_id == self.root_id:
            return ""
        if folder_id in self._paths:
            return self._paths[folder_id]
        chain: list[str] = []
        current: str | None = folder_id
        while current is not None and current != self.root_id:
            if current not in self.folders or len(chain) > len(self.folders):
                self._paths[folder_id] = None
                return None
            name, current = self.folders[current]
            chain.append(_segment(name))
        found = "/" + "/".join(reversed(chain)) if current == self.root_id else None
        self._paths[folder_id] = found
        return found

    def subtree(self, top_ids: list[str]) -> list[str]:
        """The folders at and below the given ones."""
        children: dict[str | None, list[str]] = {}
        for folder_id, (_, parent) in self.folders.items():
            children.setdefault(parent, []).append(folder_id)
        found: list[str] = []
        pending = list(top_ids)
        seen: set[str] = set()
        while pending:
            folder_id = pending.pop()
            if folder_id in seen:
                continue
            seen.add(folder_id)
            found.append(folder_id)
            pending.extend(children.get(folder_id, []))
        return found

    def find(self, rel_path: str) -> str | None:
        """The id of the folder at '/A/B' ('' or '/' is the root)."""
        wanted = "/" + rel_path.strip("/") if rel_path.strip("/") else ""
        if wanted == "":
            return self.root_id
        for folder_id in self.folders:
            if self.path(folder_id) == wanted:
                return folder_id
        return None

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": FOLDER_CACHE_VERSION,
                "root": self.root_id,
                "folders": self.folders,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> FolderTree | None:
        try:
            document = json.loads(text)
            if document.get("version") != FOLDER_CACHE_VERSION:
                return None
            folders = {
                str(k): (str(v[0]), None if v[1] is None else str(v[1]))
                for k, v in document["folders"].items()
            }
            return cls(str(document["root"]), folders)
        except (ValueError, KeyError, TypeError, IndexError):
            return None


def _segment(name: str) -> str:
    # Drive allows '/' in names; in a path it would read as a folder.
    return name.replace("/", "\u2215")


def _modified_ns(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return int(moment.timestamp() * 1_000_000) * 1000


# -- the provider ----------------------------------------------------------------


class DriveProvider(Provider):
    """One person's Google Drive (My Drive), read-only."""

    kind = ProviderName.GOOGLE_DRIVE.value
    sorted_listing = False
    has_change_feed = True

    def __init__(
        self,
        settings: Settings,
        integration_id: int | None,
        credentials: CredentialsSource,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.integration_id = integration_id
        self._reported_expiry: datetime | None = None
        self.credentials = credentials
        self.sleep = sleep
        self.requests = 0
        self._stored: OAuthCredentials | None = None
        self._google: google.oauth2.credentials.Credentials | None = None
        self._service: Any = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._random = random.Random()
        self._tree_is_newer = False

    # -- talking to Drive ------------------------------------------------------

    def _google_credentials(self) -> google.oauth2.credentials.Credentials:
        with self._lock:
            if self._google is None:
                stored = self.credentials.load()
                self._stored = stored
                token, expiry = ACCESS_TOKENS.get(stored) or (None, None)
                self._google = google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
                    token=token,
                    expiry=expiry,
                    refresh_token=stored.refresh_token,
                    token_uri=self.settings.gdrive_token_url,
                    client_id=stored.client_id,
                    client_secret=stored.client_secret,
                    scopes=list(SCOPES),
                )
            return self._google

    def _http(self) -> google_auth_httplib2.AuthorizedHttp:
        """This thread's connection: httplib2 is not safe to share."""
        authorized = getattr(self._local, "http", None)
        if authorized is None:
            authorized = google_auth_httplib2.AuthorizedHttp(
                self._google_credentials(),
                http=httplib2.Http(timeout=REQUEST_TIMEOUT_SECONDS),
                # A 401 refreshes the access token once; a second 401 is ours
                # to retry or report.
                max_refresh_attempts=1,
            )
            self._local.http = authorized
        return authorized

    def _drive(self) -> Any:
        with self._lock:
            if self._service is None:
                self._service = build_service(
                    "drive",
                    "v3",
                    http=httplib2.Http(timeout=REQUEST_TIMEOUT_SECONDS),
                    static_discovery=True,
                    cache_discovery=False,
                    client_options={
                        "api_endpoint": self.settings.gdrive_api_url.rstrip("/")
                        + "/drive/v3/"
                    },
                )
            return self._service

    def _execute(self, request: Any) -> Any:
        return self._with_retries(
            lambda: request.execute(http=self._http(), num_retries=0)
        )

    def _with_retries(self, call: Callable[[], T]) -> T:
        """Run one call, retrying what a retry can fix, with backoff and jitter.

        Honours Retry-After. Raises AuthExpiredError for a refused refresh
        token, CursorInvalidError for a rejected page token, ProviderError
        for the rest.
        """
        for attempt in range(MAX_ATTEMPTS):
            with self._lock:
                self.requests += 1
            try:
                result = call()
            except HttpError as error:
                if _rejects_page_token(error):
                    raise CursorInvalidError(
                        "Google Drive no longer accepts the stored page token"
                    ) from None
                delay = self._retry_delay(error, attempt)
                if delay is None:
                    events.provider_error("google_drive", "other")
                    raise _provider_error(error) from None
                problem = f"HTTP {error.resp.status}"
                kind = _error_kind(error.resp.status)
            except google.auth.exceptions.RefreshError as error:
                if not error.retryable:
                    events.provider_error("google_drive", "auth")
                    if self._stored is not None:
                        ACCESS_TOKENS.forget(self._stored)
                    raise self._auth_expired(error) from None
                delay = self._backoff(attempt)
                problem = "the token refresh failed"
                kind = "auth"
            except TRANSIENT_ERRORS as error:
                delay = self._backoff(attempt)
                problem = type(error).__name__
                kind = "transient"
            else:
                self._report_expiry()
                return result
            events.provider_error("google_drive", kind)
            if attempt + 1 == MAX_ATTEMPTS:
                break
            log.info("Google Drive: %s; trying again in %.1f s", problem, delay)
            self.sleep(delay)
        raise ProviderError(
            f"Google Drive kept failing ({problem}) after {MAX_ATTEMPTS} attempts; "
            "the next sync tries again"
        )

    def _report_expiry(self) -> None:
        """Keep the access token for the next run; report a new expiry."""
        google_credentials, stored = self._google, self._stored
        if google_credentials is None or stored is None:
            return
        expiry = google_credentials.expiry
        if google_credentials.token and expiry is not None:
            ACCESS_TOKENS.put(stored, google_credentials.token, expiry)
        if self.integration_id is None:
            return
        if expiry is not None and expiry != self._reported_expiry:
            self._reported_expiry = expiry
            events.token_expiry(self.integration_id, expiry)

    def _backoff(self, attempt: int) -> float:
        base = self.settings.cloud_retry_base_ms / 1000
        ceiling = min(MAX_BACKOFF_SECONDS, base * float(2**attempt))
        return float(ceiling * (0.5 + self._random.random() / 2))

    def _retry_delay(self, error: HttpError, attempt: int) -> float | None:
        status = error.resp.status
        retryable = (
            status >= 500
            or status in (401, 408, 429)
            or (status == 403 and _reason(error) in RATE_LIMIT_REASONS)
        )
        if not retryable:
            return None
        waited = _retry_after(error.resp.get("retry-after"))
        return waited if waited is not None else self._backoff(attempt)

    def _auth_expired(self, error: Exception) -> AuthExpiredError:
        reason = str(error.args[0]) if error.args else type(error).__name__
        hint = (
            f"midst-desktop integrations reconnect {self.integration_id}"
            if self.integration_id is not None
            else "sign in again"
        )
        return AuthExpiredError(
            f"Google refused the saved sign-in ({reason.splitlines()[0]}); {hint}"
        )

    # -- Provider ----------------------------------------------------------------

    def account_label(self) -> str:
        about = self._execute(self._drive().about().get(fields="user(emailAddress)"))
        return str(about.get("user", {}).get("emailAddress", ""))

    def start_cursor(self) -> str:
        answer = self._execute(self._drive().changes().getStartPageToken())
        return str(answer["startPageToken"])

    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        tree = self._list_folders()
        tops = self._tops(tree, config, scope)
        whole_drive = f"mimeType != '{FOLDER}' and trashed = false"
        if tops == [tree.root_id]:
            items = self._list_query(whole_drive, LIST_FIELDS)
        else:
            below = tree.subtree(tops)
            if len(below) * 2 >= len(tree.folders):
                # Most of the drive is included: one whole-drive listing costs
                # fewer requests than a query per 50 folders.
                wanted = set(below)
                items = (
                    item
                    for item in self._list_query(whole_drive, LIST_FIELDS)
                    if (item.get("parents") or [None])[0] in wanted
                )
            else:
                items = self._list_parents(below, trashed=False)
        for item in items:
            listed = self._listed(item, tree)
            if listed is not None:
                yield listed
        self._save_tree(tree)

    def changes_since(self, cursor: str, config: FolderConfig) -> Iterator[ChangePage]:
        tree = self._load_tree()
        # A tree listed now already shows the folder changes the feed is about
        # to report, so each of them must move its files as if it were new.
        self._tree_is_newer = tree is None
        if tree is None:
            tree = self._list_folders()
        token = cursor
        while True:
            answer = self._execute(
                self._drive()
                .changes()
                .list(
                    pageToken=token,
                    pageSize=PAGE_SIZE,
                    includeRemoved=True,
                    restrictToMyDrive=True,
                    spaces="drive",
                    fields=CHANGE_FIELDS,
                )
            )
            changes: list[Change] = []
            for change in answer.get("changes", []):
                changes.extend(self._interpret(change, tree, config))
            next_token = answer.get("newStartPageToken") or answer.get("nextPageToken")
            if not next_token:
                raise ProviderError("Google Drive sent a page of changes with no token")
            # Saved before the engine commits the page: applying a page twice
            # is harmless, a tree older than the cursor is not.
            self._save_tree(tree)
            yield ChangePage(changes, str(next_token))
            if answer.get("newStartPageToken"):
                return
            token = str(next_token)

    def open_content(self, listed: ListedFile) -> AbstractContextManager[BinaryIO]:
        return self._download(listed)

    @contextmanager
    def _download(self, listed: ListedFile) -> Iterator[BinaryIO]:
        files = self._drive().files()
        if listed.export_extension:
            export = NATIVE_EXPORTS[str(listed.mime_type)][1]
            request = files.export_media(fileId=listed.source_id, mimeType=export)
        else:
            request = files.get_media(fileId=listed.source_id)
        with temporary_download(self.settings) as handle:
            request.http = self._http()
            downloader = MediaIoBaseDownload(handle, request, chunksize=DOWNLOAD_CHUNK)
            try:
                done = False
                while not done:
                    _, done = self._with_retries(
                        lambda: downloader.next_chunk(num_retries=0)
                    )
            except ProviderError as error:
                if isinstance(error, AuthExpiredError):
                    raise
                raise ContentUnavailableError(str(error)) from None
            handle.seek(0)
            yield handle

    def close(self) -> None:
        """Keep a refresh token Google rotated; drop the connections."""
        google_credentials, stored = self._google, self._stored
        if google_credentials is not None and stored is not None:
            rotated = google_credentials.refresh_token
            if rotated and rotated != stored.refresh_token:
                self.credentials.save(
                    OAuthCredentials(rotated, stored.client_id, stored.client_secret)
                )
        self._local = threading.local()

    # -- listing -------------------------------------------------------------------

    def _root_id(self) -> str:
        root = self._execute(self._drive().files().get(fileId="root", fields="id"))
        return str(root["id"])

    def _list_folders(self) -> FolderTree:
        tree = FolderTree(self._root_id(), {})
        query = f"mimeType = '{FOLDER}' and trashed = false"
        for item in self._list_query(query, f"nextPageToken,files({FOLDER_FIELDS})"):
            parents = item.get("parents") or [None]
            tree.folders[item["id"]] = (item.get("name", ""), parents[0])
        return tree

    def _tops(self, tree: FolderTree, config: FolderConfig, scope: Scope) -> list[str]:
        """The folders to list: the included ones, narrowed to the scope."""
        if scope.path is not None:
            wanted = "/" + scope.path.strip("/")
            if not config.includes(wanted):
                return []
            folder_id = tree.find(wanted)
            if folder_id is None:
                raise SourceUnavailableError(
                    f"there is no folder {wanted} in Google Drive"
                )
            return [folder_id]
        tops: list[str] = []
        for folder in config.included_folders:
            folder_id = tree.find(folder)
            if folder_id is None:
                log.warning("The included folder %s is not in Google Drive", folder)
                continue
            tops.append(folder_id)
        if tree.root_id in tops:
            return [tree.root_id]
        return tops

    def _list_query(self, query: str, fields: str) -> Iterator[dict[str, Any]]:
        """Every page of one files.list query; a rejected page token restarts it."""
        for _ in range(LISTING_RESTARTS):
            token: str | None = None
            try:
                while True:
                    answer = self._execute(
                        self._drive()
                        .files()
                        .list(
                            q=query,
                            pageSize=PAGE_SIZE,
                            pageToken=token,
                            fields=fields,
                            spaces="drive",
                            corpora="user",
                        )
                    )
                    yield from answer.get("files", [])
                    token = answer.get("nextPageToken")
                    if not token:
                        return
            except CursorInvalidError:
                # Files seen twice are matched by id; none is lost.
                log.info("Google Drive rejected a listing page token; listing again")
        raise ProviderError("Google Drive kept rejecting its own listing page tokens")

    def _list_parents(
        self, folder_ids: list[str], trashed: bool | None
    ) -> Iterator[dict[str, Any]]:
        """The files directly in these folders: queries of 50 parents in parallel."""
        groups = [
            folder_ids[start : start + PARENTS_PER_QUERY]
            for start in range(0, len(folder_ids), PARENTS_PER_QUERY)
        ]
        condition = f"mimeType != '{FOLDER}'"
        if trashed is not None:
            condition += f" and trashed = {'true' if trashed else 'false'}"

        def query(group: list[str]) -> list[dict[str, Any]]:
            parents = " or ".join(f"'{_quote(f)}' in parents" for f in group)
            return list(self._list_query(f"({parents}) and {condition}", LIST_FIELDS))

        workers = max(1, self.settings.parallel_downloads)
        with ThreadPoolExecutor(workers, thread_name_prefix="gdrive-list") as pool:
            pending: deque[Future[list[dict[str, Any]]]] = deque()
            queued = iter(groups)
            # A window of queries in flight keeps memory to a few pages.
            for group in queued:
                pending.append(pool.submit(query, group))
                if len(pending) >= workers * 2:
                    break
            while pending:
                items = pending.popleft().result()
                following = next(queued, None)
                if following is not None:
                    pending.append(pool.submit(query, following))
                yield from items

    def _listed(self, item: dict[str, Any], tree: FolderTree) -> ListedFile | None:
        """The ListedFile for a file of My Drive, or None when it is outside."""
        parents = item.get("parents") or [None]
        folder_path = tree.path(parents[0])
        if folder_path is None:
            return None
        name = str(item.get("name", ""))
        rel_path = f"{folder_path}/{_segment(name)}"
        mime = str(item.get("mimeType", "application/octet-stream"))
        version = str(item.get("version") or f"{item.get('modifiedTime')}")
        common: dict[str, Any] = {
            "source_id": str(item["id"]),
            "rel_path": rel_path,
            "path": rel_path,
            "name": name,
            "modified_ns": _modified_ns(item.get("modifiedTime")),
            "version": version,
            "mime_type": mime,
        }
        if mime in NATIVE_EXPORTS:
            return ListedFile(
                size=0, export_extension=NATIVE_EXPORTS[mime][0], **common
            )
        if mime == SHORTCUT or mime.startswith(NATIVE_PREFIX):
            return ListedFile(size=0, skip_reason=SkipReason.UNSUPPORTED, **common)
        checksum = item.get("sha256Checksum")
        return ListedFile(
            size=int(item.get("size") or 0),
            content_hash=str(checksum).lower() if checksum else None,
            **common,
        )

    # -- changes -------------------------------------------------------------------

    def _interpret(
        self, change: dict[str, Any], tree: FolderTree, config: FolderConfig
    ) -> list[Change]:
        file_id = str(change.get("fileId", ""))
        item = change.get("file")
        if change.get("removed") or item is None:
            if file_id in tree.folders:
                tree.drop(tree.subtree([file_id]))
            return [Change(file_id, None)]
        if item.get("mimeType") == FOLDER:
            return self._folder_changed(item, tree, config)
        if item.get("trashed"):
            return [Change(file_id, None)]
        parents = item.get("parents") or [None]
        self._learn_parents(parents[0], tree)
        listed = self._listed(item, tree)
        if listed is None or not config.includes(listed.rel_path):
            return [Change(file_id, None)]
        return [Change(file_id, listed)]

    def _folder_changed(
        self, item: dict[str, Any], tree: FolderTree, config: FolderConfig
    ) -> list[Change]:
        """A folder renamed, moved or trashed: what lies below it moves with it."""
        folder_id = str(item["id"])
        parents = item.get("parents") or [None]
        before = tree.folders.get(folder_id)
        after = (str(item.get("name", "")), parents[0])
        if before == after and not item.get("trashed") and not self._tree_is_newer:
            return []
        below = tree.subtree([folder_id])
        if item.get("trashed"):
            tree.drop(below)
        else:
            tree.set(folder_id, *after)
            self._learn_parents(parents[0], tree)
        if before is None and not self._tree_is_newer:
            # A new folder: its files arrive as changes of their own.
            return []
        changes: list[Change] = []
        for child in self._list_parents(below, trashed=None):
            listed = None if child.get("trashed") else self._listed(child, tree)
            if listed is not None and not config.includes(listed.rel_path):
                listed = None
            changes.append(Change(str(child["id"]), listed))
        return changes

    def _learn_parents(self, folder_id: str | None, tree: FolderTree) -> None:
        """Fetch folders above a change that the tree does not know yet."""
        hops = 0
        while (
            folder_id is not None
            and folder_id != tree.root_id
            and folder_id not in tree.folders
            and hops < 100
        ):
            try:
                folder = self._execute(
                    self._drive()
                    .files()
                    .get(fileId=folder_id, fields="id,name,parents,trashed,mimeType")
                )
            except ProviderError as error:
                if isinstance(error, AuthExpiredError):
                    raise
                return
            if folder.get("trashed") or folder.get("mimeType") != FOLDER:
                return
            parents = folder.get("parents") or [None]
            tree.set(folder_id, str(folder.get("name", "")), parents[0])
            folder_id = parents[0]
            hops += 1

    # -- the folder tree between runs -------------------------------------------------

    def _tree_file(self) -> Path | None:
        if self.integration_id is None:
            return None
        return tree_file(self.settings, self.integration_id)

    def _load_tree(self) -> FolderTree | None:
        path = self._tree_file()
        if path is None:
            return None
        try:
            return FolderTree.from_json(path.read_text(encoding="utf-8"))
        except OSError:
            return None

    def _save_tree(self, tree: FolderTree) -> None:
        path = self._tree_file()
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = path.with_suffix(".tmp")
            partial.write_text(tree.to_json(), encoding="utf-8")
            partial.replace(path)
        except OSError as error:
            # Only a cost: the next incremental lists the folders again.
            log.warning("Cannot keep the Google Drive folder tree: %s", error.strerror)


def tree_file(settings: Settings, integration_id: int) -> Path:
    """Where an integration's folder tree is kept between runs."""
    return settings.cache_dir / "gdrive" / f"{integration_id}.json"


def forget(settings: Settings, integration_id: int) -> None:
    """Delete the folder tree of a removed integration."""
    tree_file(settings, integration_id).unlink(missing_ok=True)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _error_document(error: HttpError) -> dict[str, Any]:
    try:
        document = json.loads(error.content.decode("utf-8", errors="replace"))
    except ValueError:
        return {}
    inner = document.get("error") if isinstance(document, dict) else None
    return inner if isinstance(inner, dict) else {}


def _reason(error: HttpError) -> str:
    errors = _error_document(error).get("errors") or [{}]
    return str(errors[0].get("reason", "")) if isinstance(errors[0], dict) else ""


def _rejects_page_token(error: HttpError) -> bool:
    if error.resp.status not in (400, 404, 410):
        return False
    errors = _error_document(error).get("errors") or []
    return any(isinstance(e, dict) and e.get("location") == "pageToken" for e in errors)


def _error_kind(status: int) -> str:
    """The metrics' word for a retried HTTP failure."""
    if status in (403, 429):
        return "rate_limit"
    if status == 401:
        return "auth"
    return "transient"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = moment.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_SECONDS))


def _provider_error(error: HttpError) -> ProviderError:
    status = error.resp.status
    message = str(_error_document(error).get("message") or error.resp.reason or "")
    text = (
        f"Google Drive answered {status}: {message.splitlines()[0] if message else ''}"
    )
    if status == 404:
        return ContentUnavailableError(text)
    if status == 403 and _reason(error) in {
        "fileNotDownloadable",
        "cannotExportFile",
        "exportSizeLimitExceeded",
        "cannotDownloadAbusiveFile",
    }:
        return ContentUnavailableError(text)
    return ProviderError(text)


# -- connecting -------------------------------------------------------------------


def build(
    settings: Settings, integration_id: int | None, credentials: CredentialsSource
) -> DriveProvider:
    return DriveProvider(settings, integration_id, credentials)


def authorize(
    settings: Settings,
    opener: BrowserOpener,
    announce: Callable[[str], None],
    prompt: CodePrompt | None = None,
) -> OAuthCredentials:
    """Sign in with Google in the browser; the consent asks for read-only access.

    Google redirects to the loopback address, so nothing is pasted (no prompt).
    """
    if not settings.google_client_id:
        raise OAuthError(
            "no Google OAuth client is set up: put google_client_id in "
            "config.toml and its secret in MIDST_GOOGLE_CLIENT_SECRET (the README "
            "says how to get them)"
        )
    grant = authorize_in_browser(
        settings.gdrive_auth_url,
        {
            "client_id": settings.google_client_id,
            "scope": " ".join(SCOPES),
            "access_type": "offline",
            # A refresh token comes only with a consent; ask for one each time.
            "prompt": "consent",
        },
        settings.oauth_timeout_seconds,
        opener,
        announce,
    )
    form = {
        "grant_type": "authorization_code",
        "code": grant.code,
        "redirect_uri": grant.redirect_uri,
        "client_id": settings.google_client_id,
        "code_verifier": grant.code_verifier,
    }
    if settings.google_client_secret:
        form["client_secret"] = settings.google_client_secret
    answer = _post_form(settings.gdrive_token_url, form, "finish the sign-in")
    if answer.status_code != 200:
        raise OAuthError(f"Google refused the sign-in ({_oauth_error(answer)})")
    tokens = answer.json()
    granted = str(tokens.get("scope", " ".join(SCOPES))).split()
    if not set(SCOPES) <= set(granted):
        raise OAuthError(
            "read access to Google Drive was not granted; sign in again and allow it"
        )
    refresh = tokens.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        raise OAuthError("Google sent no refresh token; sign in again")
    return OAuthCredentials(
        refresh, settings.google_client_id, settings.google_client_secret or None
    )


def revoke(settings: Settings, credentials: OAuthCredentials) -> None:
    """Revoke the refresh token (and its access tokens) at Google."""
    ACCESS_TOKENS.forget(credentials)
    answer = _post_form(
        settings.gdrive_revoke_url,
        {"token": credentials.refresh_token},
        "revoke the access",
    )
    if answer.status_code == 200:
        return
    if answer.status_code == 400 and _oauth_error(answer) == "invalid_token":
        return  # revoked already, or expired: the same outcome
    raise ProviderError(f"Google did not revoke the access ({_oauth_error(answer)})")


def _post_form(url: str, form: dict[str, str], what: str) -> httpx.Response:
    try:
        return httpx.post(url, data=form, timeout=30, follow_redirects=False)
    except httpx.HTTPError as error:
        raise ProviderError(
            f"could not reach Google to {what}: {type(error).__name__}"
        ) from None


def _oauth_error(answer: httpx.Response) -> str:
    try:
        document = answer.json()
    except ValueError:
        return f"HTTP {answer.status_code}"
    if isinstance(document, dict) and isinstance(document.get("error"), str):
        return str(document["error"])
    return f"HTTP {answer.status_code}"


CLOUD_KIND = CloudKind(
    cli_name="google-drive",
    provider=ProviderName.GOOGLE_DRIVE.value,
    title="Google Drive",
    build=build,
    authorize=authorize,
    revoke=revoke,
    forget=forget,
)
