"""A Dropbox API v2 emulator on 127.0.0.1 that the unmodified dropbox SDK accepts.

Two HTTP servers share one account: the API host (RPC routes, /oauth2/token
and the authorize page) and the content host (downloads). Tests change the
files, inject faults one-shot or at random, and read request and byte counts.
The wire shapes follow ../shared/research/providers.md, part B.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import html
import itertools
import json
import random
import re
import secrets
import socket
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

BLOCK_SIZE = 4 * 1024 * 1024
ACCESS_TOKEN_SECONDS = 14_400
DEFAULT_APP_KEY = "emu-app-key"
DEFAULT_EMAIL = "person@example.com"
SCOPES = "account_info.read files.content.read files.metadata.read"

# Faults a test can ask for, and the routes each one makes sense on.
RATE_LIMIT_JSON = "rate_limit_json"  # 429, JSON body with retry_after, and the header
RATE_LIMIT_TEXT = "rate_limit_text"  # 429, text/plain with a Retry-After header
RATE_LIMIT_BARE = "rate_limit_bare"  # 429, text/plain without Retry-After
SERVER_ERROR = "server_error"  # 500
UNAVAILABLE = "unavailable"  # 503
DROP = "drop"  # the connection closes before any response
DROP_BODY = "drop_body"  # a download's body stops half-way
EXPIRED_TOKEN = "expired_token"  # 401 expired_access_token; the token dies
INVALID_GRANT = "invalid_grant"  # /oauth2/token answers 400 invalid_grant
MISSING_SCOPE = "missing_scope"  # 401: the app was not granted a scope it needs
RESET = "reset"  # list_folder/continue answers 409 reset
TRANSIENT_FAULTS = (
    RATE_LIMIT_JSON,
    RATE_LIMIT_TEXT,
    RATE_LIMIT_BARE,
    SERVER_ERROR,
    UNAVAILABLE,
    DROP,
    DROP_BODY,
    EXPIRED_TOKEN,
)
TOKEN_ROUTE = "oauth2/token"
DOWNLOAD_ROUTE = "files/download"
CONTINUE_ROUTE = "files/list_folder/continue"


def content_hash(data: bytes) -> str:
    """Dropbox's content_hash: SHA-256 of the concatenated 4 MiB block digests."""
    digests = b"".join(
        hashlib.sha256(data[start : start + BLOCK_SIZE]).digest()
        for start in range(0, len(data), BLOCK_SIZE)
    )
    return hashlib.sha256(digests).hexdigest()


def _timestamp(moment: datetime) -> str:
    # The SDK accepts whole seconds only.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parent(path_lower: str) -> str:
    return path_lower.rsplit("/", 1)[0]


def _within(path_lower: str, root: str, recursive: bool) -> bool:
    """Whether a path lies in a listed folder ('' is the root)."""
    if path_lower == root:
        return root != ""
    if not path_lower.startswith(root + "/"):
        return False
    return recursive or _parent(path_lower) == root


@dataclass
class Node:
    """A file or folder in the emulated Dropbox."""

    id: str
    path_display: str
    is_folder: bool
    content: bytes = b""
    rev: str = ""
    client_modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    server_modified: datetime = field(default_factory=lambda: datetime.now(UTC))
    downloadable: bool = True
    shared_folder_id: str | None = None
    read_only: bool = False
    parent_shared_folder_id: str | None = None

    @property
    def path_lower(self) -> str:
        return self.path_display.lower()

    @property
    def name(self) -> str:
        return self.path_display.rsplit("/", 1)[1]

    def metadata(self) -> dict[str, Any]:
        if self.is_folder:
            folder: dict[str, Any] = {
                ".tag": "folder",
                "name": self.name,
                "id": self.id,
                "path_lower": self.path_lower,
                "path_display": self.path_display,
            }
            if self.shared_folder_id:
                folder["shared_folder_id"] = self.shared_folder_id
                folder["sharing_info"] = {
                    "read_only": self.read_only,
                    "shared_folder_id": self.shared_folder_id,
                    "traverse_only": False,
                    "no_access": False,
                }
            return folder
        entry: dict[str, Any] = {
            ".tag": "file",
            "name": self.name,
            "id": self.id,
            "client_modified": _timestamp(self.client_modified),
            "server_modified": _timestamp(self.server_modified),
            "rev": self.rev,
            "size": len(self.content),
            "path_lower": self.path_lower,
            "path_display": self.path_display,
            "is_downloadable": self.downloadable,
            "content_hash": content_hash(self.content),
        }
        if self.parent_shared_folder_id:
            entry["sharing_info"] = {
                "read_only": self.read_only,
                "parent_shared_folder_id": self.parent_shared_folder_id,
            }
        if not self.downloadable:
            entry["export_info"] = {"export_as": "pdf"}
        return entry


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator answered (or dropped)."""

    host: str
    route: str
    status: int
    bytes_sent: int
    fault: str | None
    at: float


@dataclass
class _Listing:
    entries: list[dict[str, Any]]
    seq: int
    path: str
    recursive: bool
    limit: int
    epoch: int


@dataclass
class _Grant:
    refresh_token: str
    app_key: str
    revoked: bool = False


class DropboxState:
    """The account, its files, its change journal, tokens and faults."""

    def __init__(self, app_key: str, email: str) -> None:
        self.lock = threading.RLock()
        self.app_key = app_key
        self.email = email
        self.account_id = "dbid:" + secrets.token_hex(18)[:35]
        self.nodes: dict[str, Node] = {}
        self.journal: list[tuple[str, dict[str, Any]]] = []  # seq = index + 1
        self.listings: dict[str, _Listing] = {}
        self.epoch = 0
        self.grants: dict[str, _Grant] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> rt, expiry
        self.codes: dict[str, dict[str, str]] = {}
        self.issued_codes: list[str] = []  # codes, verifiers, access tokens
        self.registered_redirect_uris: set[str] = set()
        self.one_shot: list[tuple[str | None, str, dict[str, Any]]] = []
        self.random_rate = 0.0
        self.random_kinds: tuple[str, ...] = ()
        self.random = random.Random(0)
        self.retry_after = 1
        self.latency = 0.0
        self.records: list[RequestRecord] = []
        self._revs = itertools.count(0x1000_0000)

    # -- ids and revisions ----------------------------------------------

    def new_rev(self) -> str:
        return f"{next(self._revs):012x}"

    @staticmethod
    def new_id() -> str:
        return "id:" + secrets.token_urlsafe(16)

    # -- the change journal ----------------------------------------------

    def record_change(self, path_lower: str, entry: dict[str, Any]) -> None:
        self.journal.append((path_lower, entry))

    def record_deleted(self, node: Node) -> None:
        self.record_change(
            node.path_lower,
            {
                ".tag": "deleted",
                "name": node.name,
                "path_lower": node.path_lower,
                "path_display": node.path_display,
            },
        )

    def descendants(self, path_lower: str) -> list[Node]:
        prefix = path_lower + "/"
        return sorted(
            (node for key, node in self.nodes.items() if key.startswith(prefix)),
            key=lambda node: node.path_lower,
        )

    def lookup(self, path: str) -> Node | None:
        if path.startswith("id:"):
            return next((n for n in self.nodes.values() if n.id == path), None)
        return self.nodes.get(path.lower())

    # -- faults -----------------------------------------------------------

    def take_fault(self, route: str) -> tuple[str, dict[str, Any]] | None:
        with self.lock:
            for index, (wanted, kind, params) in enumerate(self.one_shot):
                if (wanted is None or wanted == route) and _fits(kind, route):
                    del self.one_shot[index]
                    return kind, params
            if self.random_rate and self.random.random() < self.random_rate:
                kinds = [kind for kind in self.random_kinds if _fits(kind, route)]
                if kinds:
                    return self.random.choice(kinds), {}
        return None


def _fits(kind: str, route: str) -> bool:
    if kind == DROP_BODY:
        return route == DOWNLOAD_ROUTE
    if kind == RESET:
        return route == CONTINUE_ROUTE
    if kind == INVALID_GRANT:
        return route == TOKEN_ROUTE
    if kind in (EXPIRED_TOKEN, MISSING_SCOPE):
        return route not in {TOKEN_ROUTE, "oauth2/authorize"}
    return route != "oauth2/authorize"


class _Reply(Exception):
    """Ends a request with this status, content type and body."""

    def __init__(
        self,
        status: int,
        body: bytes | str | dict[str, Any] | None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status)
        self.status = status
        if isinstance(body, dict) or body is None:
            self.body = json.dumps(body).encode()
        elif isinstance(body, str):
            self.body = body.encode()
        else:
            self.body = body
        self.content_type = content_type
        self.headers = headers or {}


def _route_error(tag_path: list[str], status: int = 409) -> _Reply:
    """A route error: error_summary plus the nested tagged union."""
    error: dict[str, Any] = {".tag": tag_path[-1]}
    for outer in reversed(tag_path[:-1]):
        error = {".tag": outer, outer: error}
    summary = "/".join(tag_path) + "/..."
    return _Reply(status, {"error_summary": summary, "error": error})


def _bad_input(route: str, message: str) -> _Reply:
    text = f'Error in call to API function "{route}": {message}'
    return _Reply(400, text, "text/plain; charset=utf-8")


def _encode_cursor(document: dict[str, Any]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode()
    return "AA" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any] | None:
    if not cursor.startswith("AA"):
        return None
    text = cursor[2:]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return document if isinstance(document, dict) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines carry codes and states; an emulator prints nothing.
        return

    # -- plumbing ----------------------------------------------------------

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        state = self.server.state
        url = urllib.parse.urlsplit(self.path)
        route = url.path.lstrip("/")
        if route.startswith("2/"):
            route = route[2:]
        body = self._read_body()
        if state.latency:
            time.sleep(state.latency)
        fault = state.take_fault(route)
        if fault is not None and fault[0] == DROP:
            self._record(route, 0, 0, DROP)
            self._drop()
            return
        try:
            reply = self._dispatch(method, route, url.query, body, fault)
        except _Reply as error:
            reply = error
        if isinstance(reply, _Streamed):
            self._send_stream(route, reply, fault)
            return
        self._send(route, reply, fault[0] if fault else None)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, route: str, reply: _Reply, fault: str | None) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("X-Dropbox-Request-Id", secrets.token_hex(8))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        # Recorded before the answer leaves, so a test never reads a count
        # that its client has already outrun.
        self._record(route, reply.status, len(reply.body), fault)
        self.wfile.write(reply.body)

    def _send_stream(
        self, route: str, reply: _Streamed, fault: tuple[str, dict[str, Any]] | None
    ) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Dropbox-API-Result", reply.result)
        self.send_header("X-Dropbox-Request-Id", secrets.token_hex(8))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if fault is not None and fault[0] == DROP_BODY:
            half = reply.body[: len(reply.body) // 2]
            self._record(route, reply.status, len(half), DROP_BODY)
            self.wfile.write(half)
            self.wfile.flush()
            self._drop()
            return
        self._record(route, reply.status, len(reply.body), None)
        self.wfile.write(reply.body)

    def _record(self, route: str, status: int, sent: int, fault: str | None) -> None:
        with self.server.state.lock:
            self.server.state.records.append(
                RequestRecord(self.server.role, route, status, sent, fault, time.time())
            )

    # -- routing ------------------------------------------------------------

    def _dispatch(
        self,
        method: str,
        route: str,
        query: str,
        body: bytes,
        fault: tuple[str, dict[str, Any]] | None,
    ) -> _Reply | _Streamed:
        state = self.server.state
        if route == "oauth2/authorize" and self.server.role == "api":
            return self._authorize(method, query, body)
        if method != "POST":
            return _Reply(405, "Method Not Allowed", "text/plain")
        if fault is not None:
            self._apply_fault(route, *fault)
        if route == TOKEN_ROUTE and self.server.role == "api":
            return self._token(body)
        routes = API_ROUTES if self.server.role == "api" else CONTENT_ROUTES
        handler = routes.get(route)
        if handler is None:
            return _Reply(404, "Unknown API function", "text/plain")
        with state.lock:
            token = self._authenticate()
        if self.server.role == "api":
            if self.headers.get("Content-Type") != "application/json":
                raise _bad_input(
                    route,
                    'Bad HTTP "Content-Type" header: '
                    f'"{self.headers.get("Content-Type")}". '
                    'Expecting one of "application/json".',
                )
            try:
                argument = json.loads(body.decode() or "null")
            except ValueError:
                raise _bad_input(route, "request body: could not decode input as JSON")
        else:
            try:
                argument = json.loads(self.headers.get("Dropbox-API-Arg") or "null")
            except ValueError:
                raise _bad_input(route, "Dropbox-API-Arg: could not decode as JSON")
        with state.lock:
            return handler(self, route, argument, token)

    def _apply_fault(self, route: str, kind: str, params: dict[str, Any]) -> None:
        state = self.server.state
        seconds = int(params.get("retry_after", state.retry_after))
        if kind == RATE_LIMIT_JSON:
            raise _Reply(
                429,
                {
                    "error_summary": "too_many_requests/...",
                    "error": {
                        "reason": {".tag": "too_many_requests"},
                        "retry_after": seconds,
                    },
                },
                headers={"Retry-After": str(seconds)},
            )
        if kind == RATE_LIMIT_TEXT:
            raise _Reply(
                429,
                "Too many requests",
                "text/plain; charset=utf-8",
                {"Retry-After": str(seconds)},
            )
        if kind == RATE_LIMIT_BARE:
            raise _Reply(429, "Too many requests", "text/plain; charset=utf-8")
        if kind == SERVER_ERROR:
            raise _Reply(500, "Internal Server Error", "text/plain")
        if kind == UNAVAILABLE:
            raise _Reply(
                503, "Service Unavailable", "text/plain", {"Retry-After": str(seconds)}
            )
        if kind == EXPIRED_TOKEN:
            with state.lock:
                presented = self._bearer()
                if presented in state.access_tokens:
                    refresh, _ = state.access_tokens[presented]
                    state.access_tokens[presented] = (refresh, 0.0)
            raise _Reply(
                401,
                {
                    "error_summary": "expired_access_token/..",
                    "error": {".tag": "expired_access_token"},
                },
            )
        if kind == MISSING_SCOPE:
            raise _Reply(
                401,
                {
                    "error_summary": "missing_scope/..",
                    "error": {
                        ".tag": "missing_scope",
                        "required_scope": "files.content.read",
                    },
                },
            )
        if kind == INVALID_GRANT:
            raise _Reply(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "refresh token is invalid or revoked",
                },
            )
        if kind == RESET:
            raise _route_error(["reset"])

    def _bearer(self) -> str:
        header = self.headers.get("Authorization") or ""
        return header[len("Bearer ") :] if header.startswith("Bearer ") else ""

    def _authenticate(self) -> str:
        state = self.server.state
        token = self._bearer()
        known = state.access_tokens.get(token)
        if known is None:
            raise _Reply(
                401,
                {
                    "error_summary": "invalid_access_token/...",
                    "error": {".tag": "invalid_access_token"},
                },
            )
        refresh, expiry = known
        grant = state.grants.get(refresh)
        if grant is None or grant.revoked:
            raise _Reply(
                401,
                {
                    "error_summary": "invalid_access_token/...",
                    "error": {".tag": "invalid_access_token"},
                },
            )
        if expiry < time.time():
            raise _Reply(
                401,
                {
                    "error_summary": "expired_access_token/...",
                    "error": {".tag": "expired_access_token"},
                },
            )
        return token

    # -- OAuth ----------------------------------------------------------------

    def _authorize(self, method: str, query: str, body: bytes) -> _Reply:
        state = self.server.state
        source = query if method == "GET" else body.decode()
        params = dict(urllib.parse.parse_qsl(source))
        problem = _authorize_problem(state, params)
        if problem:
            return _Reply(
                400,
                f"<h1>Bad request</h1><p>{html.escape(problem)}</p>",
                "text/html; charset=utf-8",
            )
        if method == "GET":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" '
                f'value="{html.escape(v)}">'
                for k, v in params.items()
            )
            page = (
                "<html><body><h1>Allow midst-desktop to see your Dropbox?</h1>"
                f'<form method="post" action="/oauth2/authorize">{fields}'
                '<button name="decision" value="allow">Allow</button>'
                '<button name="decision" value="deny">Cancel</button>'
                "</form></body></html>"
            )
            return _Reply(200, page, "text/html; charset=utf-8")
        redirect = params.get("redirect_uri")
        allowed = params.get("decision") == "allow"
        code = secrets.token_urlsafe(24)
        if allowed:
            with state.lock:
                state.issued_codes.append(code)
                state.codes[code] = {
                    "client_id": params["client_id"],
                    "challenge": params.get("code_challenge", ""),
                    "redirect_uri": redirect or "",
                    "access_type": params.get("token_access_type", ""),
                }
        if not redirect:
            if not allowed:
                return _Reply(200, "<p>Access was not granted.</p>", "text/html")
            page = (
                "<html><body><p>Enter this code into midst-desktop:</p>"
                f'<code id="auth-code">{code}</code></body></html>'
            )
            return _Reply(200, page, "text/html; charset=utf-8")
        answer = {"state": params.get("state", "")}
        if allowed:
            answer["code"] = code
        else:
            answer["error"] = "access_denied"
            answer["error_description"] = "The user chose not to give your app access"
        separator = "&" if "?" in redirect else "?"
        location = redirect + separator + urllib.parse.urlencode(answer)
        return _Reply(302, b"", "text/html", {"Location": location})

    def _token(self, body: bytes) -> _Reply:
        state = self.server.state
        form = dict(urllib.parse.parse_qsl(body.decode()))
        grant_type = form.get("grant_type")
        with state.lock:
            if grant_type == "authorization_code":
                return _exchange_code(state, form)
            if grant_type == "refresh_token":
                return _refresh(state, form)
        return _Reply(
            400,
            {"error": "unsupported_grant_type", "error_description": "grant_type"},
        )

    # -- RPC routes -------------------------------------------------------------

    def list_folder(self, route: str, argument: Any, token: str) -> _Reply:
        state = self.server.state
        path, recursive, limit = _listing_argument(route, argument)
        root = _folder_root(state, path)
        entries = [
            node.metadata()
            for node in sorted(state.nodes.values(), key=lambda n: n.path_lower)
            if _within(node.path_lower, root, recursive)
        ]
        listing_id = secrets.token_hex(8)
        state.listings[listing_id] = _Listing(
            entries, len(state.journal), root, recursive, limit, state.epoch
        )
        return self._listing_page(listing_id, 0)

    def _listing_page(self, listing_id: str, offset: int) -> _Reply:
        state = self.server.state
        listing = state.listings[listing_id]
        page = listing.entries[offset : offset + listing.limit]
        end = offset + len(page)
        if end < len(listing.entries):
            cursor = _encode_cursor({"k": "l", "l": listing_id, "o": end})
            has_more = True
        else:
            cursor = _change_cursor(
                listing.path,
                listing.recursive,
                listing.limit,
                listing.seq,
                listing.epoch,
            )
            has_more = False
            del state.listings[listing_id]
        return _Reply(200, {"entries": page, "cursor": cursor, "has_more": has_more})

    def list_folder_continue(self, route: str, argument: Any, token: str) -> _Reply:
        state = self.server.state
        if not isinstance(argument, dict) or not isinstance(
            argument.get("cursor"), str
        ):
            raise _bad_input(route, "request body: cursor: missing")
        cursor = _decode_cursor(argument["cursor"])
        if cursor is None:
            raise _bad_input(route, "request body: cursor: invalid cursor")
        if cursor.get("k") == "l":
            listing = state.listings.get(cursor["l"])
            if listing is None or listing.epoch != state.epoch:
                raise _route_error(["reset"])
            return self._listing_page(cursor["l"], int(cursor["o"]))
        if cursor.get("e") != state.epoch:
            raise _route_error(["reset"])
        root, recursive, limit, seq = cursor["p"], cursor["r"], cursor["n"], cursor["s"]
        page: list[dict[str, Any]] = []
        position = seq
        while position < len(state.journal) and len(page) < limit:
            path_lower, entry = state.journal[position]
            position += 1
            if _within(path_lower, root, recursive):
                page.append(entry)
        next_cursor = _change_cursor(root, recursive, limit, position, state.epoch)
        has_more = any(
            _within(path_lower, root, recursive)
            for path_lower, _ in state.journal[position:]
        )
        return _Reply(
            200, {"entries": page, "cursor": next_cursor, "has_more": has_more}
        )

    def get_latest_cursor(self, route: str, argument: Any, token: str) -> _Reply:
        state = self.server.state
        path, recursive, limit = _listing_argument(route, argument)
        root = _folder_root(state, path)
        cursor = _change_cursor(root, recursive, limit, len(state.journal), state.epoch)
        return _Reply(200, {"cursor": cursor})

    def get_metadata(self, route: str, argument: Any, token: str) -> _Reply:
        state = self.server.state
        if not isinstance(argument, dict) or not isinstance(argument.get("path"), str):
            raise _bad_input(route, "request body: path: missing")
        if argument["path"] in ("", "/"):
            raise _bad_input(
                route, "request body: path: The root folder is unsupported."
            )
        node = state.lookup(argument["path"])
        if node is None:
            raise _route_error(["path", "not_found"])
        return _Reply(200, node.metadata())

    def get_current_account(self, route: str, argument: Any, token: str) -> _Reply:
        state = self.server.state
        return _Reply(
            200,
            {
                "account_id": state.account_id,
                "name": {
                    "given_name": "Ada",
                    "surname": "Person",
                    "familiar_name": "Ada",
                    "display_name": "Ada Person",
                    "abbreviated_name": "AP",
                },
                "email": state.email,
                "email_verified": True,
                "disabled": False,
                "country": "GB",
                "locale": "en",
                "referral_link": "https://db.tt/emulated",
                "is_paired": False,
                "account_type": {".tag": "basic"},
                "root_info": {
                    ".tag": "user",
                    "root_namespace_id": "3235641",
                    "home_namespace_id": "3235641",
                },
            },
        )

    def token_revoke(self, route: str, argument: Any, token: str) -> _Reply:
        state = self.server.state
        refresh, _ = state.access_tokens[token]
        state.grants[refresh].revoked = True
        for other, (other_refresh, _) in list(state.access_tokens.items()):
            if other_refresh == refresh:
                del state.access_tokens[other]
        return _Reply(200, None)

    # -- content routes -----------------------------------------------------------

    def download(self, route: str, argument: Any, token: str) -> _Streamed:
        state = self.server.state
        if not isinstance(argument, dict) or not isinstance(argument.get("path"), str):
            raise _bad_input(route, "Dropbox-API-Arg: path: missing")
        node = state.lookup(argument["path"])
        if node is None:
            raise _route_error(["path", "not_found"])
        if node.is_folder:
            raise _route_error(["path", "not_file"])
        if not node.downloadable:
            raise _route_error(["unsupported_file"])
        result = json.dumps(node.metadata(), ensure_ascii=True)
        data = node.content
        ranged = _byte_range(self.headers.get("Range"), len(data))
        if ranged is None:
            return _Streamed(200, data, result)
        start, end = ranged
        return _Streamed(
            206,
            data[start : end + 1],
            result,
            {"Content-Range": f"bytes {start}-{end}/{len(data)}"},
        )


@dataclass
class _Streamed:
    status: int
    body: bytes
    result: str
    headers: dict[str, str] = field(default_factory=dict)


API_ROUTES = {
    "files/list_folder": _Handler.list_folder,
    "files/list_folder/continue": _Handler.list_folder_continue,
    "files/list_folder/get_latest_cursor": _Handler.get_latest_cursor,
    "files/get_metadata": _Handler.get_metadata,
    "users/get_current_account": _Handler.get_current_account,
    "auth/token/revoke": _Handler.token_revoke,
}
CONTENT_ROUTES = {DOWNLOAD_ROUTE: _Handler.download}


def _change_cursor(root: str, recursive: bool, limit: int, seq: int, epoch: int) -> str:
    return _encode_cursor(
        {"k": "c", "p": root, "r": recursive, "n": limit, "s": seq, "e": epoch}
    )


def _listing_argument(route: str, argument: Any) -> tuple[str, bool, int]:
    if not isinstance(argument, dict) or not isinstance(argument.get("path"), str):
        raise _bad_input(route, "request body: path: missing")
    path = argument["path"]
    if path == "/":
        raise _bad_input(
            route,
            "request body: path: Specify the root folder as an empty string "
            'rather than as "/".',
        )
    if path and not (path.startswith("/") or path.startswith("id:")):
        raise _bad_input(route, f"request body: path: '{path}' did not match pattern")
    limit = argument.get("limit") or 2000
    if not isinstance(limit, int) or not 1 <= limit <= 2000:
        raise _bad_input(route, "request body: limit: must be between 1 and 2000")
    return path, bool(argument.get("recursive")), limit


def _folder_root(state: DropboxState, path: str) -> str:
    if path == "":
        return ""
    node = state.lookup(path)
    if node is None:
        raise _route_error(["path", "not_found"])
    if not node.is_folder:
        raise _route_error(["path", "not_folder"])
    return node.path_lower


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header:
        return None
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first:
        start, end = int(first), int(last) if last else size - 1
    elif last:
        start, end = max(size - int(last), 0), size - 1
    else:
        return None
    if start >= size:
        raise _route_error(["range", "not_satisfiable"])
    return start, min(end, size - 1)


def _authorize_problem(state: DropboxState, params: dict[str, str]) -> str | None:
    if params.get("client_id") != state.app_key:
        return "Invalid client_id."
    if params.get("response_type") != "code":
        return "response_type must be code."
    if params.get("code_challenge") and params.get("code_challenge_method") != "S256":
        return "code_challenge_method must be S256."
    redirect = params.get("redirect_uri")
    if redirect and redirect not in state.registered_redirect_uris:
        return "Invalid redirect_uri. It must exactly match one of the redirect URIs."
    return None


def _exchange_code(state: DropboxState, form: dict[str, str]) -> _Reply:
    code = state.codes.pop(form.get("code", ""), None)
    invalid = _Reply(
        400, {"error": "invalid_grant", "error_description": "code doesn't exist"}
    )
    if code is None or form.get("client_id") != code["client_id"]:
        return invalid
    verifier = form.get("code_verifier", "")
    state.issued_codes.append(verifier)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        .decode()
        .rstrip("=")
    )
    if not code["challenge"] or challenge != code["challenge"]:
        return _Reply(
            400,
            {"error": "invalid_grant", "error_description": "invalid code verifier"},
        )
    if form.get("redirect_uri", "") != code["redirect_uri"]:
        return _Reply(
            400,
            {"error": "invalid_grant", "error_description": "redirect_uri mismatch"},
        )
    refresh = "rt." + secrets.token_urlsafe(32)
    state.grants[refresh] = _Grant(refresh, code["client_id"])
    access = _new_access_token(state, refresh)
    answer: dict[str, Any] = {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": SCOPES,
        "uid": "12345",
        "account_id": state.account_id,
    }
    if code["access_type"] == "offline":
        answer["refresh_token"] = refresh
    return _Reply(200, answer)


def _refresh(state: DropboxState, form: dict[str, str]) -> _Reply:
    grant = state.grants.get(form.get("refresh_token", ""))
    if grant is None or grant.revoked or grant.app_key != form.get("client_id"):
        return _Reply(
            400,
            {
                "error": "invalid_grant",
                "error_description": "refresh token is invalid or revoked",
            },
        )
    access = _new_access_token(state, grant.refresh_token)
    return _Reply(
        200,
        {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
        },
    )


def _new_access_token(state: DropboxState, refresh: str) -> str:
    token = "sl." + secrets.token_urlsafe(40)
    state.access_tokens[token] = (refresh, time.time() + ACCESS_TOKEN_SECONDS)
    state.issued_codes.append(token)
    return token


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: DropboxState, role: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.role = role

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-answer is normal under fault injection.
        return


class DropboxEmulator:
    """The emulator a test starts; its methods change the account's files."""

    def __init__(self, app_key: str = DEFAULT_APP_KEY, email: str = DEFAULT_EMAIL):
        self.state = DropboxState(app_key, email)
        self._servers: list[_Server] = []
        self._threads: list[threading.Thread] = []

    # -- life ------------------------------------------------------------------

    def start(self) -> DropboxEmulator:
        for role in ("api", "content"):
            server = _Server(self.state, role)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> DropboxEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[0].server_address[1]}"

    @property
    def content_url(self) -> str:
        return f"http://127.0.0.1:{self._servers[1].server_address[1]}"

    @property
    def auth_url(self) -> str:
        return self.api_url + "/oauth2/authorize"

    @property
    def app_key(self) -> str:
        return self.state.app_key

    @property
    def email(self) -> str:
        return self.state.email

    def environment(self) -> dict[str, str]:
        """The MIDST_* variables that point the app at this emulator."""
        return {
            "MIDST_DROPBOX_APP_KEY": self.app_key,
            "MIDST_DROPBOX_API_URL": self.api_url,
            "MIDST_DROPBOX_CONTENT_URL": self.content_url,
            "MIDST_DROPBOX_AUTH_URL": self.auth_url,
        }

    # -- files -----------------------------------------------------------------

    def add_folder(
        self, path: str, shared: bool = False, read_only: bool = False
    ) -> str:
        """Create a folder (and missing parents); returns its id."""
        with self.state.lock:
            node = self._ensure_folder(path)
            if shared and not node.shared_folder_id:
                node.shared_folder_id = str(random.randrange(10**9, 10**10))
                node.read_only = read_only
                self.state.record_change(node.path_lower, node.metadata())
            return node.id

    def add_file(
        self,
        path: str,
        content: bytes,
        client_modified: datetime | None = None,
        downloadable: bool = True,
    ) -> str:
        """Create or replace a file (parents are created); returns its id."""
        with self.state.lock:
            existing = self.state.nodes.get(path.lower())
            if existing is not None and not existing.is_folder:
                self._edit(existing, content)
                return existing.id
            if existing is not None:
                raise ValueError(f"{path} is a folder")
            parent = _parent(path)
            folder = self._ensure_folder(parent) if parent else None
            node = Node(
                id=self.state.new_id(),
                path_display=path,
                is_folder=False,
                content=content,
                rev=self.state.new_rev(),
                downloadable=downloadable,
            )
            if client_modified is not None:
                node.client_modified = client_modified
            self._inherit_sharing(node, folder)
            self.state.nodes[node.path_lower] = node
            self.state.record_change(node.path_lower, node.metadata())
            return node.id

    def edit_file(self, path: str, content: bytes) -> None:
        with self.state.lock:
            node = self._existing(path)
            self._edit(node, content)

    def delete(self, path: str) -> None:
        """Delete a file, or a folder with everything in it (one deleted entry)."""
        with self.state.lock:
            node = self._existing(path)
            for child in self.state.descendants(node.path_lower):
                del self.state.nodes[child.path_lower]
            del self.state.nodes[node.path_lower]
            self.state.record_deleted(node)

    def move(self, source: str, destination: str) -> None:
        """Move or rename; ids and revisions stay, as on Dropbox."""
        with self.state.lock:
            node = self._existing(source)
            if destination.lower() in self.state.nodes:
                raise ValueError(f"{destination} exists")
            parent = _parent(destination)
            folder = self._ensure_folder(parent) if parent else None
            moved = [node, *self.state.descendants(node.path_lower)]
            old_prefix = node.path_display
            self.state.record_deleted(node)
            for item in moved:
                del self.state.nodes[item.path_lower]
            for item in moved:
                item.path_display = destination + item.path_display[len(old_prefix) :]
                item.server_modified = datetime.now(UTC)
                self.state.nodes[item.path_lower] = item
            if not node.is_folder:
                self._inherit_sharing(node, folder)
            for item in moved:
                self.state.record_change(item.path_lower, item.metadata())

    def file_id(self, path: str) -> str:
        with self.state.lock:
            return self._existing(path).id

    def paths(self) -> list[str]:
        with self.state.lock:
            return sorted(n.path_display for n in self.state.nodes.values())

    def _existing(self, path: str) -> Node:
        node = self.state.lookup(path)
        if node is None:
            raise KeyError(path)
        return node

    def _edit(self, node: Node, content: bytes) -> None:
        node.content = content
        node.rev = self.state.new_rev()
        node.server_modified = datetime.now(UTC)
        node.client_modified = node.server_modified
        self.state.record_change(node.path_lower, node.metadata())

    def _ensure_folder(self, path: str) -> Node:
        existing = self.state.nodes.get(path.lower())
        if existing is not None:
            if not existing.is_folder:
                raise ValueError(f"{path} is a file")
            return existing
        parent = _parent(path)
        above = self._ensure_folder(parent) if parent else None
        node = Node(id=self.state.new_id(), path_display=path, is_folder=True)
        if above is not None:
            node.parent_shared_folder_id = (
                above.shared_folder_id or above.parent_shared_folder_id
            )
            node.read_only = above.read_only
        self.state.nodes[node.path_lower] = node
        self.state.record_change(node.path_lower, node.metadata())
        return node

    @staticmethod
    def _inherit_sharing(node: Node, folder: Node | None) -> None:
        if folder is None:
            node.parent_shared_folder_id = None
            return
        node.parent_shared_folder_id = (
            folder.shared_folder_id or folder.parent_shared_folder_id
        )
        node.read_only = folder.read_only

    # -- tokens and OAuth --------------------------------------------------------

    def register_redirect_uri(self, uri: str) -> None:
        with self.state.lock:
            self.state.registered_redirect_uris.add(uri)

    def issue_refresh_token(self) -> str:
        """A refresh token granted to the app, as a past consent would give."""
        with self.state.lock:
            refresh = "rt." + secrets.token_urlsafe(32)
            self.state.grants[refresh] = _Grant(refresh, self.state.app_key)
            return refresh

    def refresh_token_valid(self, refresh: str) -> bool:
        with self.state.lock:
            grant = self.state.grants.get(refresh)
            return grant is not None and not grant.revoked

    def revoke_all(self) -> None:
        """Every grant stops working, as when the person unlinks the app."""
        with self.state.lock:
            for grant in self.state.grants.values():
                grant.revoked = True
            self.state.access_tokens.clear()

    def forget_access_tokens(self) -> None:
        """Access tokens stop working; refresh tokens still give new ones."""
        with self.state.lock:
            self.state.access_tokens.clear()

    def expire_access_tokens(self) -> None:
        with self.state.lock:
            for token, (refresh, _) in list(self.state.access_tokens.items()):
                self.state.access_tokens[token] = (refresh, 0.0)

    def secrets_issued(self) -> list[str]:
        """Every token, code and verifier seen, for tests that look for leaks."""
        with self.state.lock:
            issued = [*self.state.grants, *self.state.issued_codes]
            return [secret for secret in issued if secret]

    # -- cursors and faults ----------------------------------------------------

    def reset_cursors(self) -> None:
        """Every cursor issued so far answers 409 reset."""
        with self.state.lock:
            self.state.epoch += 1
            self.state.listings.clear()

    def fail_next(
        self, kind: str, route: str | None = None, times: int = 1, **params: Any
    ) -> None:
        """Answer the next matching request(s) with a fault."""
        with self.state.lock:
            for _ in range(times):
                self.state.one_shot.append((route, kind, params))

    def fail_randomly(
        self, rate: float, kinds: Iterable[str] = TRANSIENT_FAULTS, seed: int = 0
    ) -> None:
        """Answer about rate of all requests with a random transient fault."""
        with self.state.lock:
            self.state.random_rate = rate
            self.state.random_kinds = tuple(kinds)
            self.state.random = random.Random(seed)

    def set_retry_after(self, seconds: int) -> None:
        with self.state.lock:
            self.state.retry_after = seconds

    def set_latency(self, seconds: float) -> None:
        with self.state.lock:
            self.state.latency = seconds

    def heal(self) -> None:
        """No more faults."""
        with self.state.lock:
            self.state.one_shot.clear()
            self.state.random_rate = 0.0

    # -- accounting --------------------------------------------------------------

    def records(self) -> list[RequestRecord]:
        with self.state.lock:
            return list(self.state.records)

    def request_count(self, route: str | None = None) -> int:
        return sum(1 for r in self.records() if route is None or r.route == route)

    def routes(self) -> Counter[str]:
        return Counter(r.route for r in self.records())

    def bytes_sent(self, route: str | None = None) -> int:
        return sum(r.bytes_sent for r in self.records() if route in (None, r.route))

    def faults_served(self) -> Counter[str]:
        return Counter(r.fault for r in self.records() if r.fault)

    def clear_records(self) -> None:
        with self.state.lock:
            self.state.records.clear()


def read_auth_code(page: str) -> str:
    match = re.search(r'<code id="auth-code">([^<]+)</code>', page)
    if match is None:
        raise AssertionError("the page shows no code")
    return match.group(1)


def consent(authorize_url: str, allow: bool = True) -> requests.Response:
    """Drive the authorize page as a person in a browser would.

    Returns the last response: the page with the code to paste when the flow
    has no redirect, or the app's own loopback page after the redirect.
    """
    with requests.Session() as browser:
        browser.trust_env = False
        page = browser.get(authorize_url, timeout=10)
        page.raise_for_status()
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
        fields = {html.unescape(k): html.unescape(v) for k, v in fields.items()}
        fields["decision"] = "allow" if allow else "deny"
        action = urllib.parse.urljoin(authorize_url, "/oauth2/authorize")
        return browser.post(action, data=fields, timeout=10)


def iter_secrets(values: Iterable[str]) -> Iterator[str]:
    """Secrets long enough to search for without false hits."""
    return (value for value in values if len(value) >= 16)
