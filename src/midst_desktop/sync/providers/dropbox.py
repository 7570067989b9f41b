"""Dropbox through the official SDK: recursive listings, the cursor feed, downloads."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import random
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import dropbox
import requests
from dropbox import exceptions as dbx_errors
from dropbox import files as dbx_files
from dropbox import session as dbx_session

from midst_desktop import events
from midst_desktop.config import Settings
from midst_desktop.store.models import SkipReason
from midst_desktop.sync.cloud import (
    AccessTokens,
    BrowserOpener,
    CloudKind,
    CodePrompt,
    CredentialsSource,
    GivenCredentials,
)
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.folders import FolderConfig
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

LIST_LIMIT = 2000
LISTING_RESTARTS = 3
DOWNLOAD_CHUNK = 1024 * 1024
CONTENT_BLOCK = 4 * 1024 * 1024
REQUEST_TIMEOUT_SECONDS = 60.0
# Dropbox asks for minutes at most; a longer wait fails the run, and the
# next scheduled run tries again.
MAX_RETRY_AFTER_SECONDS = 300.0
REAUTH_HINT = (
    "Dropbox refused the authorization (revoked, expired or never granted); "
    "sign in again with integrations reconnect"
)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait when Dropbox is busy or unreachable.

    Waits grow as base * 2**attempt with full jitter, capped; a Retry-After
    from Dropbox is honoured as given, plus a little jitter.
    """

    attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def backoff(self, attempt: int) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)

    def honour(self, retry_after: float) -> float:
        return retry_after + random.uniform(0, min(1.0, retry_after / 10 + 0.05))


class BadRequestError(ProviderError):
    """Dropbox refused a request as malformed (HTTP 400); retrying cannot help."""


class _ListingReset(Exception):
    """Dropbox invalidated the cursor of a listing in progress."""


class _RetryLater(Exception):
    """A failure worth another try, after wait seconds when Dropbox said so."""

    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait


class EndpointSession(requests.Session):
    """A requests session that sends the SDK's fixed https hosts to our roots.

    The SDK builds every URL as https://<host>/...; the settings may point the
    API and content hosts elsewhere (an emulator in tests).
    """

    def __init__(self, api_url: str, content_url: str) -> None:
        super().__init__()
        self._roots = {
            f"https://{dbx_session.API_HOST}": api_url.rstrip("/"),
            f"https://{dbx_session.API_CONTENT_HOST}": content_url.rstrip("/"),
        }
        hosts = {urllib.parse.urlsplit(url).hostname for url in (api_url, content_url)}
        if hosts <= {"127.0.0.1", "localhost", "::1"}:
            # A local emulator: no proxy or CA bundle from the environment.
            self.trust_env = False

    def request(
        self, method: str, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        text = url.decode() if isinstance(url, bytes) else url
        for prefix, root in self._roots.items():
            if text.startswith(prefix + "/"):
                text = root + text[len(prefix) :]
                break
        return super().request(method, text, *args, **kwargs)


def endpoint_session(settings: Settings) -> EndpointSession:
    return EndpointSession(settings.dropbox_api_url, settings.dropbox_content_url)


def dropbox_content_hash(stream: BinaryIO) -> str:
    """Dropbox's content_hash of a stream: SHA-256 over 4 MiB block digests."""
    blocks = hashlib.sha256()
    while True:
        block = stream.read(CONTENT_BLOCK)
        if not block:
            return blocks.hexdigest()
        blocks.update(hashlib.sha256(block).digest())


# Kept in memory for the process, never on disk.
ACCESS_TOKENS = AccessTokens()


def _normalise_folder(folder: str) -> str:
    """An included folder as Dropbox names it: '' for the root, else '/a/b'."""
    cleaned = "/".join(part for part in folder.strip().split("/") if part)
    return "/" + cleaned if cleaned else ""


def _below(path_lower: str, folder_lower: str) -> bool:
    """Whether a path is the folder or lies inside it ('' is the root)."""
    if not folder_lower:
        return True
    return path_lower == folder_lower or path_lower.startswith(folder_lower + "/")


def _disjoint(folders: list[str]) -> list[str]:
    """Folders with those inside another one left out, shortest first."""
    kept: list[str] = []
    for folder in sorted(set(folders), key=lambda f: (f.count("/"), f.lower())):
        if not any(_below(folder.lower(), other.lower()) for other in kept):
            kept.append(folder)
    return kept


class DropboxProvider(Provider):
    """One Dropbox account; source ids are Dropbox file ids ('id:...').

    Ids survive renames and moves, so an artifact follows its file. Listings
    are not sorted by id. Every call retries transient faults (rate limits,
    5xx, dropped connections, a token that expired mid-run) by RetryPolicy,
    and blocks while it waits.
    """

    kind = "dropbox"
    sorted_listing = False
    has_change_feed = True

    def __init__(
        self,
        credentials: OAuthCredentials | CredentialsSource,
        settings: Settings,
        retry: RetryPolicy | None = None,
    ) -> None:
        if isinstance(credentials, OAuthCredentials):
            credentials = GivenCredentials(credentials)
        self._source: CredentialsSource = credentials
        self._credentials: OAuthCredentials | None = None
        self._dropbox: dropbox.Dropbox | None = None
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.integration_id: int | None = None
        self._session = endpoint_session(settings)
        self.cache_dir = Path(settings.cache_dir) / "dropbox"

    @property
    def credentials(self) -> OAuthCredentials:
        """The stored credentials, read (from the keyring) on first use.

        Raises CredentialsUnavailableError or TokenMissingError.
        """
        if self._credentials is None:
            self._credentials = self._source.load()
        return self._credentials

    @property
    def _client(self) -> dropbox.Dropbox:
        if self._dropbox is None:
            credentials = self.credentials
            cached = ACCESS_TOKENS.get(credentials)
            self._dropbox = dropbox.Dropbox(
                oauth2_refresh_token=credentials.refresh_token,
                app_key=credentials.client_id,
                app_secret=credentials.client_secret,
                oauth2_access_token=cached[0] if cached else None,
                oauth2_access_token_expiration=cached[1] if cached else None,
                session=self._session,
                # Our own loop retries 429 and 5xx (with jitter, honouring
                # Retry-After) and dropped connections, which the SDK never
                # retries.
                max_retries_on_error=0,
                max_retries_on_rate_limit=0,
                timeout=REQUEST_TIMEOUT_SECONDS,
                user_agent="midst-desktop",
            )
        return self._dropbox

    # -- calls with retries -------------------------------------------------

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one SDK call, retrying what is worth retrying.

        Raises AuthExpiredError when Dropbox refuses the authorization,
        BadRequestError for a 400, SourceUnavailableError after the last try;
        a route error (ApiError) goes to the caller as it is.
        """
        last_reason = ""
        refreshed = False
        for attempt in range(1, self.retry.attempts + 1):
            try:
                result = call()
            except _RetryLater as error:
                last_reason = error.reason
                wait = error.wait
            except dbx_errors.ApiError:
                raise
            except Exception as error:
                if not refreshed and _access_token_refused(error):
                    # The access token kept from an earlier run may be dead
                    # while the refresh token lives: refresh once, then try
                    # again; a refused refresh is an AuthExpiredError.
                    refreshed = True
                    self._refresh()
                    continue
                retry = _classify(error)
                last_reason = retry.reason
                wait = retry.wait
            else:
                self._remember_token()
                return result
            events.provider_error(
                "dropbox", "rate_limit" if wait is not None else "transient"
            )
            if wait is not None and wait > MAX_RETRY_AFTER_SECONDS:
                raise SourceUnavailableError(
                    f"Dropbox asks to wait {wait:.0f} s before {what}; "
                    "the next sync tries again"
                )
            if attempt == self.retry.attempts:
                break
            delay = (
                self.retry.honour(wait)
                if wait is not None
                else self.retry.backoff(attempt)
            )
            log.info(
                "Dropbox %s: %s; trying again in %.1f s (attempt %d of %d)",
                what,
                last_reason,
                delay,
                attempt + 1,
                self.retry.attempts,
            )
            self.retry.sleep(delay)
        raise SourceUnavailableError(
            f"Dropbox did not answer {what} after {self.retry.attempts} tries "
            f"({last_reason})"
        )

    def _refresh(self) -> None:
        ACCESS_TOKENS.forget(self.credentials)
        try:
            self._client.refresh_access_token()
        except Exception as error:
            # A refused refresh raises here; anything passing is retried by
            # the caller's next attempt, which refreshes on its own.
            _classify(error)

    def _remember_token(self) -> None:
        if self._dropbox is None or self._credentials is None:
            return
        # The SDK has no public reader for the token it refreshed.
        token = self._dropbox._oauth2_access_token
        expiry = self._dropbox._oauth2_access_token_expiration
        if token and expiry:
            ACCESS_TOKENS.put(self._credentials, token, expiry)
            if self.integration_id is not None:
                events.token_expiry(self.integration_id, expiry)

    # -- the account ----------------------------------------------------------

    def account_label(self) -> str:
        account = self._call(
            "reading the account", self._client.users_get_current_account
        )
        return str(account.email)

    def revoke(self) -> None:
        """Revoke the refresh token and its access tokens at Dropbox."""
        self._call("revoking the token", self._client.auth_token_revoke)
        ACCESS_TOKENS.forget(self.credentials)

    # -- listing ------------------------------------------------------------------

    def start_cursor(self) -> str:
        # One cursor on the whole Dropbox: one request answers "nothing
        # changed" whatever the number of included folders, and moves into
        # or out of them arrive as ordinary entries.
        result = self._call(
            "taking the change cursor",
            lambda: self._client.files_list_folder_get_latest_cursor(
                "", recursive=True, include_non_downloadable_files=True
            ),
        )
        return str(result.cursor)

    def list_files(self, config: FolderConfig, scope: Scope) -> Iterator[ListedFile]:
        roots = self._roots(config, scope)
        for root in roots:
            yield from self._list_root(config, root)

    def scope_for_path(self, path: str) -> Scope:
        """The folder as Dropbox spells it, so stored paths compare exactly.

        Dropbox paths ignore case; the person may type "papers" for
        "/Papers". A path Dropbox does not know is kept as typed: its files
        are then gone.
        """
        scope = super().scope_for_path(path)
        if scope.path is None:
            return scope
        wanted = "/" + scope.path
        try:
            metadata = self._call(
                f"looking up {wanted}",
                lambda: self._client.files_get_metadata(wanted),
            )
        except dbx_errors.ApiError:
            return scope
        display = getattr(metadata, "path_display", None)
        if isinstance(metadata, dbx_files.FolderMetadata) and display:
            return Scope(display.strip("/"))
        return scope

    def _roots(self, config: FolderConfig, scope: Scope) -> list[str]:
        included = _disjoint([_normalise_folder(f) for f in config.included_folders])
        if scope.is_everything:
            return included
        wanted = _normalise_folder(scope.path or "")
        roots = []
        for folder in included:
            if _below(wanted.lower(), folder.lower()):
                return [wanted]
            if _below(folder.lower(), wanted.lower()):
                roots.append(folder)
        return roots

    def _list_root(self, config: FolderConfig, root: str) -> Iterator[ListedFile]:
        """Every file below one included folder, each once.

        A listing whose own cursor Dropbox resets half-way starts over; the
        files already given are not given again.
        """
        given: set[str] = set()
        for attempt in range(1, LISTING_RESTARTS + 2):
            pages = self._pages(root)
            pruned: set[str] = set()
            try:
                for entries in pages:
                    for entry in entries:
                        listed = self._listed(config, entry, pruned)
                        if listed is not None and listed.source_id not in given:
                            given.add(listed.source_id)
                            yield listed
                return
            except _ListingReset:
                log.info(
                    "Dropbox reset the listing of %s; listing it again (%d of %d)",
                    root or "/",
                    attempt,
                    LISTING_RESTARTS,
                )
        raise SourceUnavailableError(
            f"Dropbox kept resetting the listing of {root or '/'}; "
            "the next sync tries again"
        )

    def _pages(self, root: str) -> Iterator[list[Any]]:
        """The entries of a recursive listing, a page at a time."""
        try:
            result = self._call(
                f"listing {root or '/'}",
                lambda: self._client.files_list_folder(
                    root,
                    recursive=True,
                    limit=LIST_LIMIT,
                    include_non_downloadable_files=True,
                ),
            )
        except dbx_errors.ApiError as error:
            if _lookup_missing(error):
                log.warning(
                    "Skipping folder: %s is not in the Dropbox (moved or deleted)",
                    root,
                )
                return
            raise SourceUnavailableError(
                f"Dropbox cannot list {root or '/'}: {_api_reason(error)}"
            ) from None
        while True:
            yield list(result.entries)
            if not result.has_more:
                return
            try:
                result = self._call(
                    f"listing {root or '/'}",
                    functools.partial(
                        self._client.files_list_folder_continue, result.cursor
                    ),
                )
            except dbx_errors.ApiError as error:
                if getattr(error.error, "is_reset", lambda: False)():
                    raise _ListingReset() from None
                raise SourceUnavailableError(
                    f"Dropbox stopped the listing of {root or '/'} "
                    f"({_api_reason(error)}); the next sync starts it again"
                ) from None

    def _listed(
        self, config: FolderConfig, entry: Any, pruned: set[str]
    ) -> ListedFile | None:
        """A listed file (or a folder skipped whole), None for what we pass over."""
        path_lower = entry.path_lower or ""
        if _inside_pruned(path_lower, pruned):
            return None
        if isinstance(entry, dbx_files.FolderMetadata):
            display = entry.path_display or entry.name
            if display and config.prunes_folder(display):
                pruned.add(path_lower)
                return _folder_marker(entry, display)
            return None
        if not isinstance(entry, dbx_files.FileMetadata):
            return None
        return _file(entry)

    # -- the change feed ------------------------------------------------------------

    def changes_since(self, cursor: str, config: FolderConfig) -> Iterator[ChangePage]:
        included = _disjoint([_normalise_folder(f) for f in config.included_folders])
        included_lower = [folder.lower() for folder in included]
        while True:
            result = self._continue(cursor)
            changes = _changes(config, included_lower, result.entries)
            cursor = str(result.cursor)
            yield ChangePage(changes, cursor)
            if not result.has_more:
                return

    def _continue(self, cursor: str) -> Any:
        try:
            return self._call(
                "reading changes",
                lambda: self._client.files_list_folder_continue(cursor),
            )
        except BadRequestError:
            # A cursor Dropbox cannot read (damaged, or from another app key)
            # is answered with a 400: start over with a full sync.
            raise CursorInvalidError(
                "Dropbox does not accept the stored change cursor; a full sync follows"
            ) from None
        except dbx_errors.ApiError as error:
            if getattr(error.error, "is_reset", lambda: False)():
                raise CursorInvalidError(
                    "Dropbox reset the change cursor; a full sync follows"
                ) from None
            if getattr(error.error, "is_path", lambda: False)():
                raise CursorInvalidError(
                    f"the change cursor no longer fits ({_api_reason(error)})"
                ) from None
            raise SourceUnavailableError(
                f"Dropbox cannot list changes: {_api_reason(error)}"
            ) from None

    # -- content ---------------------------------------------------------------------

    def open_content(self, listed: ListedFile) -> AbstractContextManager[BinaryIO]:
        return self._downloaded(listed)

    @contextlib.contextmanager
    def _downloaded(self, listed: ListedFile) -> Iterator[BinaryIO]:
        """The file's bytes, downloaded once into the private cache, then deleted."""
        self.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        limit = self.settings.max_file_size_mb * 1024 * 1024
        with tempfile.TemporaryFile(dir=self.cache_dir, prefix="download-") as spool:
            self._call(
                f"downloading {listed.path}",
                lambda: self._download_into(listed, spool, limit),
            )
            spool.seek(0)
            yield spool

    def _download_into(self, listed: ListedFile, spool: Any, limit: int) -> None:
        spool.seek(0)
        spool.truncate()
        try:
            metadata, response = self._client.files_download(listed.source_id)
        except dbx_errors.ApiError as error:
            raise ContentUnavailableError(_api_reason(error)) from None
        hasher = _BlockHasher()
        received = 0
        try:
            for chunk in response.iter_content(DOWNLOAD_CHUNK):
                received += len(chunk)
                if received > max(limit, listed.size):
                    raise ContentUnavailableError(
                        "the file grew past the size limit while downloading"
                    )
                hasher.update(chunk)
                spool.write(chunk)
        except requests.RequestException as error:
            raise _RetryLater(
                f"the download broke off ({type(error).__name__})"
            ) from None
        finally:
            response.close()
        expected = getattr(metadata, "content_hash", None)
        if expected and hasher.hexdigest() != expected:
            raise _RetryLater("the downloaded bytes do not match their content_hash")

    def close(self) -> None:
        self._remember_token()
        if self._dropbox is not None:
            self._dropbox.close()
        self._session.close()


class _BlockHasher:
    """Dropbox's content_hash, fed in chunks of any size."""

    def __init__(self) -> None:
        self._overall = hashlib.sha256()
        self._block = hashlib.sha256()
        self._in_block = 0

    def update(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            room = CONTENT_BLOCK - self._in_block
            part = view[:room]
            self._block.update(part)
            self._in_block += len(part)
            view = view[len(part) :]
            if self._in_block == CONTENT_BLOCK:
                self._overall.update(self._block.digest())
                self._block = hashlib.sha256()
                self._in_block = 0

    def hexdigest(self) -> str:
        overall = self._overall.copy()
        if self._in_block:
            overall.update(self._block.digest())
        return overall.hexdigest()


def _classify(error: Exception) -> _RetryLater:
    """What an SDK or transport failure means: retry, or raise for good."""
    if isinstance(error, ProviderError):
        raise error
    if isinstance(error, dbx_errors.RateLimitError):
        wait = float(error.backoff) if error.backoff is not None else None
        return _RetryLater("rate limited (429)", wait)
    if isinstance(error, dbx_errors.InternalServerError):
        return _RetryLater(f"server error ({error.status_code})")
    if isinstance(error, dbx_errors.AuthError):
        if error.error is not None and error.error.is_expired_access_token():
            # The SDK refreshed once and Dropbox still says expired: a new
            # attempt refreshes again.
            return _RetryLater("the access token expired")
        if error.error is not None and error.error.is_missing_scope():
            raise AuthExpiredError(
                "Dropbox says this app lacks a permission it needs; reconnect it"
            ) from None
        if error.error is not None and error.error.is_user_suspended():
            raise AuthExpiredError("the Dropbox account is suspended") from None
        raise AuthExpiredError(REAUTH_HINT) from None
    if isinstance(error, dbx_errors.BadInputError):
        # A 400 is a request Dropbox will never accept; no retry helps.
        raise BadRequestError(
            f"Dropbox refused a request: {_first_line(error.message)}"
        ) from None
    if isinstance(error, dbx_errors.HttpError):
        if error.status_code in (408, 502, 503, 504):
            return _RetryLater(f"HTTP {error.status_code}")
        raise ProviderError(f"Dropbox answered HTTP {error.status_code}") from None
    if isinstance(error, (requests.ConnectionError, requests.Timeout)):
        return _RetryLater(f"no connection ({type(error).__name__})")
    if isinstance(error, requests.RequestException):
        return _RetryLater(f"the connection broke ({type(error).__name__})")
    if isinstance(error, (ValueError, KeyError, AssertionError)):
        # The SDK could not read an answer (a proxy page, a cut-off body).
        return _RetryLater(f"an unreadable answer ({type(error).__name__})")
    raise error


def _access_token_refused(error: Exception) -> bool:
    """A 401 invalid_access_token from a call, not a refused refresh.

    The SDK turns a refresh's 400 invalid_grant into the same AuthError, but
    without the response body that a 401 carries.
    """
    return (
        isinstance(error, dbx_errors.AuthError)
        and error.body is not None
        and error.error is not None
        and error.error.is_invalid_access_token()
    )


def _first_line(text: object) -> str:
    return str(text).strip().splitlines()[0][:200] if str(text).strip() else ""


def _api_reason(error: dbx_errors.ApiError) -> str:
    """A route error in words, e.g. 'path/not_found'."""
    parts: list[str] = []
    value: Any = error.error
    while value is not None and hasattr(value, "_tag") and len(parts) < 4:
        parts.append(str(value._tag))
        value = getattr(value, "_value", None)
    return "/".join(parts) or "an error"


def _lookup_missing(error: dbx_errors.ApiError) -> bool:
    value = error.error
    if not getattr(value, "is_path", lambda: False)():
        return False
    lookup = value.get_path()
    return bool(lookup.is_not_found() or lookup.is_not_folder())


def _inside_pruned(path_lower: str, pruned: set[str]) -> bool:
    if not pruned:
        return False
    parent = path_lower
    while "/" in parent:
        parent = parent.rsplit("/", 1)[0]
        if parent in pruned:
            return True
    return False


def _modified_ns(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp()) * 1_000_000_000


def _file(entry: Any) -> ListedFile:
    display = entry.path_display or "/" + entry.name
    skip: str | None = None
    if not entry.is_downloadable or getattr(entry, "symlink_info", None) is not None:
        # Paper and other cloud documents export only; links have no bytes.
        skip = SkipReason.UNSUPPORTED
    return ListedFile(
        source_id=str(entry.id),
        rel_path=display,
        path=display,
        name=str(entry.name),
        size=int(entry.size),
        modified_ns=_modified_ns(entry.client_modified or entry.server_modified),
        # The path is part of the version: a rename keeps the rev but must
        # still update the stored path and the classification.
        version=f"{entry.rev}:{display}" if skip is None else f"skip:{skip}",
        content_hash=entry.content_hash,
        skip_reason=skip,
    )


def _folder_marker(entry: Any, display: str) -> ListedFile:
    """A folder skipped whole is recorded once, as 'folder/'."""
    return ListedFile(
        source_id=str(entry.id),
        rel_path=display + "/",
        path=display + "/",
        name=str(entry.name) + "/",
        size=0,
        modified_ns=None,
        version=f"skip:{SkipReason.EXCLUDED}",
        skip_reason=SkipReason.EXCLUDED,
    )


def _changes(
    config: FolderConfig, included_lower: list[str], entries: list[Any]
) -> list[Change]:
    """One page of Dropbox entries as changes, in the order to apply them.

    Removals by path come first (a deleted entry has no id): they describe
    what left before the page's files took their final places. A file that
    a later deleted entry removes again is reported as gone.
    """
    removals: list[str] = []
    files: dict[str, Change] = {}
    pruned: set[str] = set()
    for entry in entries:
        path_lower = entry.path_lower or ""
        inside = any(_below(path_lower, folder) for folder in included_lower)
        if isinstance(entry, dbx_files.DeletedMetadata):
            for source_id, change in list(files.items()):
                if change.listed is not None and _below(
                    change.listed.path.lower(), path_lower
                ):
                    files[source_id] = Change(source_id, None)
            removals.append(path_lower)
            continue
        if isinstance(entry, dbx_files.FolderMetadata):
            display = entry.path_display or ""
            if inside and display and config.prunes_folder(display):
                pruned.add(path_lower)
                files.pop(str(entry.id), None)
                files[str(entry.id)] = Change(
                    str(entry.id), _folder_marker(entry, display)
                )
            continue
        if not isinstance(entry, dbx_files.FileMetadata):
            continue
        source_id = str(entry.id)
        files.pop(source_id, None)
        if not inside or _inside_pruned(path_lower, pruned):
            # Moved out of the included folders (or under an excluded one).
            files[source_id] = Change(source_id, None)
        else:
            files[source_id] = Change(source_id, _file(entry))
    return [Change("", None, removed_path=path) for path in removals] + list(
        files.values()
    )


def seed_access_token(
    credentials: OAuthCredentials, access_token: str, expires_at: datetime | None
) -> None:
    """Keep a just-granted access token (expiry naive UTC, as the SDK keeps it).

    The first sync after connecting then needs no refresh.
    """
    if expires_at is not None:
        ACCESS_TOKENS.put(credentials, access_token, expires_at)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(base_seconds=settings.cloud_retry_base_ms / 1000)


def build(
    settings: Settings, integration_id: int | None, credentials: CredentialsSource
) -> DropboxProvider:
    provider = DropboxProvider(credentials, settings, retry_policy(settings))
    provider.integration_id = integration_id
    return provider


def authorize(
    settings: Settings,
    opener: BrowserOpener,
    announce: Callable[[str], None],
    prompt: CodePrompt | None = None,
) -> OAuthCredentials:
    # Imported here: the sign-in module builds on this one.
    from midst_desktop.sync.providers.dropbox_auth import authorize_dropbox

    return authorize_dropbox(settings, opener, announce, prompt)


def revoke(settings: Settings, credentials: OAuthCredentials) -> None:
    """Revoke at Dropbox; a grant Dropbox already refuses counts as revoked."""
    provider = DropboxProvider(credentials, settings, retry_policy(settings))
    try:
        provider.revoke()
    except AuthExpiredError:
        log.info("The Dropbox authorization was already revoked or has expired")
    finally:
        provider.close()


CLOUD_KIND = CloudKind(
    cli_name="dropbox",
    provider="dropbox",
    title="Dropbox",
    build=build,
    authorize=authorize,
    revoke=revoke,
)
