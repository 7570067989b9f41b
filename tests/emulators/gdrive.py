"""A Google Drive v3 emulator on 127.0.0.1 that the unmodified Google SDKs accept.

One threaded HTTP server holds one account: the Drive routes under
/drive/v3/ (files.list, files.get with alt=media, files.export, about.get,
changes.getStartPageToken, changes.list), and the OAuth authorize, token and
revoke endpoints. Tests change the drive, inject faults one at a time or at
random, and read request and byte counts. Wire shapes follow
../shared/research/providers.md, part A.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

FOLDER = "application/vnd.google-apps.folder"
DOCUMENT = "application/vnd.google-apps.document"
SPREADSHEET = "application/vnd.google-apps.spreadsheet"
PRESENTATION = "application/vnd.google-apps.presentation"
SHORTCUT = "application/vnd.google-apps.shortcut"
FORM = "application/vnd.google-apps.form"
EXPORTS = {
    DOCUMENT: {"text/plain", "application/pdf"},
    SPREADSHEET: {"text/csv", "application/pdf"},
    PRESENTATION: {"text/plain", "application/pdf"},
}
READONLY_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
DEFAULT_CLIENT_ID = "emu-client.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "emu-client-secret"
DEFAULT_EMAIL = "person@example.com"
ACCESS_TOKEN_SECONDS = 3599
EXPIRED_OR_REVOKED = "Token has been expired or revoked."

# Faults, each a realistic answer of the real service.
RATE_LIMIT_429 = "rate_limit_429"  # 429 rateLimitExceeded, with Retry-After
RATE_LIMIT_429_BARE = "rate_limit_429_bare"  # 429 without Retry-After
RATE_LIMIT_403 = "rate_limit_403"  # 403 rateLimitExceeded, with Retry-After
USER_RATE_LIMIT_403 = "user_rate_limit_403"  # 403 userRateLimitExceeded, bare
SERVER_ERROR = "server_error"  # 500 backendError
BAD_GATEWAY = "bad_gateway"  # 502 with no JSON body
UNAVAILABLE = "unavailable"  # 503
DROP = "drop"  # the connection closes before any answer
EXPIRED = "expired"  # 401 authError: the access token just expired
INVALID_GRANT = "invalid_grant"  # the token endpoint refuses the refresh token
TRANSIENT_FAULTS = (
    RATE_LIMIT_429,
    RATE_LIMIT_429_BARE,
    RATE_LIMIT_403,
    USER_RATE_LIMIT_403,
    SERVER_ERROR,
    BAD_GATEWAY,
    UNAVAILABLE,
    DROP,
    EXPIRED,
)


def rfc3339(moment: float) -> str:
    stamp = datetime.fromtimestamp(moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@dataclass
class DriveFile:
    id: str
    name: str
    mime_type: str
    parent: str | None
    content: bytes = b""
    modified: float = field(default_factory=time.time)
    version: int = 1
    trashed: bool = False
    target_id: str | None = None
    has_size: bool = True

    def resource(self) -> dict[str, Any]:
        """The full File resource, before the fields selection."""
        document: dict[str, Any] = {
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "trashed": self.trashed,
            "explicitlyTrashed": self.trashed,
            "modifiedTime": rfc3339(self.modified),
            "createdTime": rfc3339(self.modified),
            "version": str(self.version),
            "ownedByMe": True,
        }
        if self.parent is not None:
            document["parents"] = [self.parent]
        native = self.mime_type.startswith("application/vnd.google-apps.")
        if not native:
            document["size"] = str(len(self.content))
            document["md5Checksum"] = hashlib.md5(self.content).hexdigest()
            document["sha1Checksum"] = hashlib.sha1(self.content).hexdigest()
            document["sha256Checksum"] = hashlib.sha256(self.content).hexdigest()
        elif self.mime_type in EXPORTS and self.has_size:
            # The stored size of the document, not of any export.
            document["size"] = str(len(self.content) * 3 + 1024)
        if self.mime_type == SHORTCUT and self.target_id:
            document["shortcutDetails"] = {
                "targetId": self.target_id,
                "targetMimeType": "application/pdf",
            }
        return document


# -- the fields selection (partial response) --------------------------------


def parse_fields(text: str) -> dict[str, Any]:
    """'a,b(c,d(e))' -> {'a': {}, 'b': {'c': {}, 'd': {'e': {}}}}; {} means all."""
    position = 0

    def parse_list() -> dict[str, Any]:
        nonlocal position
        result: dict[str, Any] = {}
        while position < len(text):
            match = re.compile(r"\s*([A-Za-z0-9_*/]+)\s*").match(text, position)
            if not match:
                raise ValueError(f"bad fields at {position}")
            name = match.group(1)
            position = match.end()
            sub: dict[str, Any] = {}
            if position < len(text) and text[position] == "(":
                position += 1
                sub = parse_list()
                if position >= len(text) or text[position] != ")":
                    raise ValueError("unbalanced fields")
                position += 1
            node = result
            parts = name.split("/")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = sub
            while position < len(text) and text[position] == " ":
                position += 1
            if position < len(text) and text[position] == ",":
                position += 1
                continue
            break
        return result

    return parse_list()


def select(value: Any, selection: dict[str, Any]) -> Any:
    if not selection or "*" in selection:
        return value
    if isinstance(value, list):
        return [select(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: select(value[key], sub) for key, sub in selection.items() if key in value
    }


# -- the q language (the subset a sync agent uses) ---------------------------

TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<op>!=|<=|>=|=|<|>|\(|\))|"
    r"(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


def tokenize(query: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = TOKEN.match(query, position)
        if not match:
            raise ValueError(f"cannot read the query at {position}")
        position = match.end()
        if match.group("string") is not None:
            raw = match.group("string")[1:-1]
            tokens.append(("string", re.sub(r"\\(.)", r"\1", raw)))
        elif match.group("op") is not None:
            tokens.append(("op", match.group("op")))
        else:
            tokens.append(("word", match.group("word")))
    return tokens


class Query:
    """A parsed q expression, evaluated against a DriveFile."""

    def __init__(self, text: str, root_id: str) -> None:
        self.tokens = tokenize(text)
        self.position = 0
        self.root_id = root_id
        self.tree = self.parse_or() if self.tokens else ("true",)
        if self.position != len(self.tokens):
            raise ValueError("unexpected words at the end of the query")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse_or(self) -> Any:
        left = self.parse_and()
        while self.peek() == ("word", "or"):
            self.take()
            left = ("or", left, self.parse_and())
        return left

    def parse_and(self) -> Any:
        left = self.parse_not()
        while self.peek() == ("word", "and"):
            self.take()
            left = ("and", left, self.parse_not())
        return left

    def parse_not(self) -> Any:
        if self.peek() == ("word", "not"):
            self.take()
            return ("not", self.parse_not())
        if self.peek() == ("op", "("):
            self.take()
            inner = self.parse_or()
            if self.take() != ("op", ")"):
                raise ValueError("missing )")
            return inner
        return self.parse_term()

    def parse_term(self) -> Any:
        first = self.take()
        if first[0] == "string":
            if self.take() != ("word", "in"):
                raise ValueError("expected 'in'")
            target = self.take()
            if target != ("word", "parents"):
                raise ValueError("only 'in parents' is supported")
            value = self.root_id if first[1] == "root" else first[1]
            return ("in_parents", value)
        field_name = first[1]
        operator = self.take()[1]
        value_kind, value = self.take()
        if value_kind == "word":
            if value not in ("true", "false"):
                raise ValueError(f"bad value {value}")
            return ("compare", field_name, operator, value == "true")
        return ("compare", field_name, operator, value)

    def parent_ids(self) -> set[str] | None:
        """The parents a match must be in, when the query says so at its top."""

        def parents_of(node: Any) -> set[str] | None:
            if node[0] == "in_parents":
                return {node[1]}
            if node[0] == "or":
                left, right = parents_of(node[1]), parents_of(node[2])
                return None if left is None or right is None else left | right
            return None

        if self.tree[0] == "and":
            return parents_of(self.tree[1]) or parents_of(self.tree[2])
        return parents_of(self.tree)

    def matches(self, item: DriveFile, node: Any = None) -> bool:
        node = self.tree if node is None else node
        kind = node[0]
        if kind == "true":
            return True
        if kind == "or":
            return self.matches(item, node[1]) or self.matches(item, node[2])
        if kind == "and":
            return self.matches(item, node[1]) and self.matches(item, node[2])
        if kind == "not":
            return not self.matches(item, node[1])
        if kind == "in_parents":
            return item.parent == node[1]
        _, name, operator, value = node
        actual: Any = {
            "trashed": item.trashed,
            "mimeType": item.mime_type,
            "name": item.name,
        }.get(name)
        if actual is None and name not in ("trashed", "mimeType", "name"):
            raise ValueError(f"unsupported query term {name}")
        if name == "name" and isinstance(value, str):
            actual, value = str(actual).lower(), value.lower()
        if operator == "=":
            return bool(actual == value)
        if operator == "!=":
            return bool(actual != value)
        raise ValueError(f"unsupported operator {operator}")


# -- the account ---------------------------------------------------------------


class DriveAccount:
    """The drive's files, its change journal and the OAuth grants."""

    def __init__(self, email: str = DEFAULT_EMAIL) -> None:
        self.lock = threading.RLock()
        self.email = email
        self.ids = (f"{n:04d}{secrets.token_hex(6)}" for n in itertools.count())
        self.root_id = "0AR" + secrets.token_hex(8)
        self.files: dict[str, DriveFile] = {}
        self.order: list[str] = []  # creation order: what files.list returns
        self.position: dict[str, int] = {}
        self._children: dict[str, set[str]] = {}
        self.journal: list[str] = []
        self.first_valid_change = 1
        self.clients = {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
        self.codes: dict[str, dict[str, str]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}
        self.revoked: list[str] = []
        self.verifiers: list[str] = []
        self.issued_access: list[str] = []
        self.list_tokens: dict[str, tuple[str, str, int]] = {}

    # changing the drive

    def _new_id(self) -> str:
        # Ids carry no order: a listing is not sorted by them.
        return hashlib.sha1(next(self.ids).encode()).hexdigest()[:28]

    def _touch(self, item: DriveFile) -> None:
        item.version += 1
        item.modified = time.time()
        self.journal.append(item.id)

    def add_folder(self, name: str, parent: str | None = None) -> str:
        return self._add(
            DriveFile(self._new_id(), name, FOLDER, parent or self.root_id)
        )

    def add_file(
        self,
        name: str,
        parent: str | None = None,
        content: bytes = b"",
        mime_type: str = "application/octet-stream",
        has_size: bool = True,
        target_id: str | None = None,
    ) -> str:
        item = DriveFile(
            self._new_id(),
            name,
            mime_type,
            parent if parent is not None else self.root_id,
            content,
            has_size=has_size,
            target_id=target_id,
        )
        return self._add(item)

    def add_orphan(self, name: str, content: bytes = b"") -> str:
        """A file shared with the person and not added to their drive."""
        item = DriveFile(self._new_id(), name, "application/pdf", None, content)
        return self._add(item)

    def children(self, parent: str) -> set[str]:
        return self._children.get(parent, set())

    def _add(self, item: DriveFile) -> str:
        with self.lock:
            self.files[item.id] = item
            self.position[item.id] = len(self.position)
            if item.parent is not None:
                self._children.setdefault(item.parent, set()).add(item.id)
            self.order.append(item.id)
            self.journal.append(item.id)
            return item.id

    def edit(self, file_id: str, content: bytes) -> None:
        with self.lock:
            self.files[file_id].content = content
            self._touch(self.files[file_id])

    def rename(self, file_id: str, name: str) -> None:
        with self.lock:
            self.files[file_id].name = name
            self._touch(self.files[file_id])

    def move(self, file_id: str, parent: str) -> None:
        with self.lock:
            old = self.files[file_id].parent
            if old is not None:
                self._children.get(old, set()).discard(file_id)
            self._children.setdefault(parent, set()).add(file_id)
            self.files[file_id].parent = parent
            self._touch(self.files[file_id])

    def trash(self, file_id: str) -> None:
        """Trash a file or a folder; only the item itself gets a change."""
        with self.lock:
            self.files[file_id].trashed = True
            self._touch(self.files[file_id])

    def delete(self, file_id: str) -> None:
        """Delete for good: the item and everything below it are removed."""
        with self.lock:
            for child in list(self.children(file_id)):
                self.delete(child)
            parent = self.files[file_id].parent
            if parent is not None:
                self._children.get(parent, set()).discard(file_id)
            del self.files[file_id]
            self.order.remove(file_id)
            self.journal.append(file_id)

    def is_trashed(self, item: DriveFile) -> bool:
        """Trashed itself or through a trashed folder above it."""
        seen = 0
        while item is not None and seen < 1000:
            if item.trashed:
                return True
            if item.parent is None or item.parent not in self.files:
                return False
            item = self.files[item.parent]
            seen += 1
        return False

    def in_my_drive(self, item: DriveFile) -> bool:
        parent = item.parent
        while parent is not None:
            if parent == self.root_id:
                return True
            folder = self.files.get(parent)
            parent = folder.parent if folder is not None else None
        return False

    def view(self, item: DriveFile) -> dict[str, Any]:
        document = item.resource()
        trashed = self.is_trashed(item)
        document["trashed"] = trashed
        return document

    def invalidate_change_tokens(self) -> None:
        """Every page token handed out so far stops working."""
        with self.lock:
            self.first_valid_change = len(self.journal) + 1

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def revoke_all(self) -> None:
        """The person revoked the app's access (or the token aged out)."""
        with self.lock:
            self.revoked.extend(self.refresh_tokens)
            self.refresh_tokens.clear()
            self.access_tokens.clear()

    def issue_refresh_token(self, client_id: str = DEFAULT_CLIENT_ID) -> str:
        token = "1//emu-refresh-" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[token] = client_id
        return token

    def secrets_issued(self) -> set[str]:
        """Every token, code and client secret that ever crossed the wire."""
        with self.lock:
            return {
                *self.refresh_tokens,
                *self.revoked,
                *self.access_tokens,
                *self.codes,
                *self.issued_access,
                *self.verifiers,
                *self.clients.values(),
            }


class DriveEmulator:
    """The HTTP server; start() it, point MIDST_GDRIVE_* at url, stop() it."""

    def __init__(self, account: DriveAccount | None = None, seed: int = 7) -> None:
        self.account = account or DriveAccount()
        # The service may send fewer files a page than asked for.
        self.max_page_size = 1000
        self.random = random.Random(seed)
        self.fault_rate = 0.0
        self.forced: list[tuple[str, str]] = []  # (path prefix, fault)
        self.retry_after = "1"
        self.latency = 0.0
        self.requests: Counter[str] = Counter()
        self.api_requests = 0
        # The q of every files.list request, pages included, in arrival order.
        self.list_queries: list[str] = []
        self.bytes_sent = 0
        self.faults_served: Counter[str] = Counter()
        self.count_lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/"

    def environment(self) -> dict[str, str]:
        return {
            "MIDST_GDRIVE_API_URL": self.url,
            "MIDST_GDRIVE_AUTH_URL": self.url + "o/oauth2/auth",
            "MIDST_GDRIVE_TOKEN_URL": self.url + "token",
            "MIDST_GDRIVE_REVOKE_URL": self.url + "revoke",
            "MIDST_GOOGLE_CLIENT_ID": DEFAULT_CLIENT_ID,
            "MIDST_GOOGLE_CLIENT_SECRET": DEFAULT_CLIENT_SECRET,
        }

    def start(self) -> DriveEmulator:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, fault: str, path: str = "/drive/v3/") -> None:
        """The next request whose path starts with path gets this fault."""
        self.forced.append((path, fault))

    def reset_counts(self) -> None:
        with self.count_lock:
            self.requests.clear()
            self.api_requests = 0
            self.list_queries.clear()
            self.bytes_sent = 0


def _error_body(code: int, reason: str, message: str, **extra: str) -> bytes:
    error: dict[str, Any] = {"message": message, "domain": "global", "reason": reason}
    if reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        error["domain"] = "usageLimits"
    error.update(extra)
    status = {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
    }.get(code, "UNKNOWN")
    body = {
        "error": {"code": code, "message": message, "errors": [error], "status": status}
    }
    return json.dumps(body).encode()


def _handler(emulator: DriveEmulator) -> type[BaseHTTPRequestHandler]:
    account = emulator.account

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        # plumbing

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json; charset=UTF-8",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
            with emulator.count_lock:
                emulator.bytes_sent += len(body)

        def _json(self, status: int, document: Any, **headers: str) -> None:
            self._send(status, json.dumps(document).encode(), headers=headers)

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            return {k: v[0] for k, v in parse_qs(raw).items()}

        def _fault(self, path: str) -> str | None:
            for index, (prefix, fault) in enumerate(emulator.forced):
                if path.startswith(prefix):
                    del emulator.forced[index]
                    return fault
            if path.startswith("/drive/v3/") and emulator.fault_rate > 0:
                with emulator.count_lock:
                    if emulator.random.random() < emulator.fault_rate:
                        return emulator.random.choice(TRANSIENT_FAULTS)
            return None

        def _serve_fault(self, fault: str) -> None:
            emulator.faults_served[fault] += 1
            wait = {"Retry-After": emulator.retry_after}
            if fault == DROP:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault == EXPIRED:
                account.expire_access_tokens()
                self._send(
                    401,
                    _error_body(
                        401,
                        "authError",
                        "Invalid Credentials",
                        location="Authorization",
                        locationType="header",
                    ),
                    headers={
                        "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'
                    },
                )
                return
            if fault == RATE_LIMIT_429:
                body = _error_body(429, "rateLimitExceeded", "Rate Limit Exceeded")
                self._send(429, body, headers=wait)
            elif fault == RATE_LIMIT_429_BARE:
                self._send(
                    429, _error_body(429, "rateLimitExceeded", "Rate Limit Exceeded")
                )
            elif fault == RATE_LIMIT_403:
                body = _error_body(403, "rateLimitExceeded", "Rate Limit Exceeded")
                self._send(403, body, headers=wait)
            elif fault == USER_RATE_LIMIT_403:
                body = _error_body(
                    403, "userRateLimitExceeded", "User rate limit exceeded."
                )
                self._send(403, body)
            elif fault == SERVER_ERROR:
                self._send(500, _error_body(500, "backendError", "Backend Error"))
            elif fault == BAD_GATEWAY:
                self._send(502, b"<html>Bad Gateway</html>", "text/html")
            elif fault == UNAVAILABLE:
                body = _error_body(503, "backendError", "Service unavailable")
                self._send(503, body, headers=wait)
            elif fault == INVALID_GRANT:
                self._json(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "Token has been expired or revoked.",
                    },
                )

        def _count(self, path: str) -> None:
            with emulator.count_lock:
                emulator.requests[path] += 1
                if path.startswith("/drive/v3/"):
                    emulator.api_requests += 1

        def _authorized(self) -> bool:
            header = self.headers.get("Authorization", "")
            token = header[7:] if header.startswith("Bearer ") else ""
            with account.lock:
                grant = account.access_tokens.get(token)
            if grant is not None and grant[1] > time.time():
                return True
            body = _error_body(
                401,
                "authError",
                "Invalid Credentials",
                location="Authorization",
                locationType="header",
            )
            self._send(401, body)
            return False

        # routing

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            self._count(path)
            if emulator.latency:
                time.sleep(emulator.latency)
            fault = self._fault(path)
            if fault is not None and not (fault == INVALID_GRANT and path != "/token"):
                self._serve_fault(fault)
                return
            try:
                if path == "/o/oauth2/auth" and method == "GET":
                    self._authorize(query)
                elif path == "/token" and method == "POST":
                    self._token(self._form())
                elif path == "/revoke" and method == "POST":
                    self._revoke(self._form())
                elif path.startswith("/drive/v3/"):
                    if (
                        method == "POST"
                        and self.headers.get("x-http-method-override") == "GET"
                    ):
                        query.update(self._form())
                    if not self._authorized():
                        return
                    self._drive(path[len("/drive/v3/") :], query)
                else:
                    self._send(404, b"not found", "text/plain")
            except (BrokenPipeError, ConnectionResetError):
                return

        # OAuth

        def _authorize(self, query: dict[str, str]) -> None:
            client_id = query.get("client_id", "")
            redirect_uri = query.get("redirect_uri", "")
            problems = []
            if client_id not in account.clients:
                problems.append("unknown client")
            if not re.fullmatch(r"http://127\.0\.0\.1:\d+/", redirect_uri):
                problems.append("redirect_uri must be a loopback IP with a port")
            if query.get("code_challenge_method") != "S256" or not query.get(
                "code_challenge"
            ):
                problems.append("PKCE S256 is required")
            if query.get("response_type") != "code":
                problems.append("response_type must be code")
            if READONLY_SCOPE not in query.get("scope", "").split():
                problems.append("the drive.readonly scope is missing")
            if not query.get("state"):
                problems.append("no state")
            if problems:
                self._send(400, "; ".join(problems).encode(), "text/plain")
                return
            code = "4/emu-code-" + secrets.token_urlsafe(20)
            with account.lock:
                account.codes[code] = {
                    "client_id": client_id,
                    "redirect_uri": redirect_uri,
                    "challenge": query["code_challenge"],
                    "scope": query["scope"],
                }
            target = (
                redirect_uri
                + "?"
                + urlencode(
                    {"state": query["state"], "code": code, "scope": query["scope"]}
                )
            )
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _client(self, form: dict[str, str]) -> str | None:
            client_id, secret = form.get("client_id"), form.get("client_secret")
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                decoded = base64.b64decode(header[6:]).decode()
                client_id, _, secret = decoded.partition(":")
            if client_id in account.clients and account.clients[client_id] == secret:
                return client_id
            return None

        def _token(self, form: dict[str, str]) -> None:
            client_id = self._client(form)
            if client_id is None:
                self._json(
                    401,
                    {"error": "invalid_client", "error_description": "Unauthorized"},
                )
                return
            grant = form.get("grant_type")
            with account.lock:
                if grant == "authorization_code":
                    request = account.codes.pop(form.get("code", ""), None)
                    verifier = form.get("code_verifier", "")
                    account.verifiers.append(verifier)
                    challenge = (
                        base64.urlsafe_b64encode(
                            hashlib.sha256(verifier.encode()).digest()
                        )
                        .rstrip(b"=")
                        .decode()
                    )
                    if (
                        request is None
                        or request["client_id"] != client_id
                        or request["redirect_uri"] != form.get("redirect_uri")
                        or request["challenge"] != challenge
                    ):
                        self._json(
                            400,
                            {
                                "error": "invalid_grant",
                                "error_description": "Bad Request",
                            },
                        )
                        return
                    refresh = account.issue_refresh_token(client_id)
                    access = self._new_access(refresh)
                    self._json(
                        200,
                        {
                            "access_token": access,
                            "expires_in": ACCESS_TOKEN_SECONDS,
                            "refresh_token": refresh,
                            "scope": request["scope"],
                            "token_type": "Bearer",
                        },
                    )
                    return
                if grant == "refresh_token":
                    refresh = form.get("refresh_token", "")
                    if account.refresh_tokens.get(refresh) != client_id:
                        self._json(
                            400,
                            {
                                "error": "invalid_grant",
                                "error_description": EXPIRED_OR_REVOKED,
                            },
                        )
                        return
                    self._json(
                        200,
                        {
                            "access_token": self._new_access(refresh),
                            "expires_in": ACCESS_TOKEN_SECONDS,
                            "scope": READONLY_SCOPE,
                            "token_type": "Bearer",
                        },
                    )
                    return
            self._json(400, {"error": "unsupported_grant_type"})

        def _new_access(self, refresh: str) -> str:
            access = "ya29.emu-" + secrets.token_urlsafe(24)
            account.access_tokens[access] = (
                refresh,
                time.time() + ACCESS_TOKEN_SECONDS,
            )
            account.issued_access.append(access)
            return access

        def _revoke(self, form: dict[str, str]) -> None:
            token = form.get("token", "")
            with account.lock:
                if token in account.refresh_tokens:
                    del account.refresh_tokens[token]
                    account.revoked.append(token)
                    for access, (refresh, _) in list(account.access_tokens.items()):
                        if refresh == token:
                            del account.access_tokens[access]
                    self._json(200, {})
                    return
                if token in account.access_tokens:
                    del account.access_tokens[token]
                    self._json(200, {})
                    return
            self._json(
                400,
                {
                    "error": "invalid_token",
                    "error_description": "Token expired or revoked",
                },
            )

        # Drive

        def _fields(self, query: dict[str, str], default: str) -> dict[str, Any]:
            return parse_fields(query.get("fields") or default)

        def _drive(self, route: str, query: dict[str, str]) -> None:
            if route == "about":
                about = {
                    "kind": "drive#about",
                    "user": {
                        "kind": "drive#user",
                        "displayName": "Emulated Person",
                        "emailAddress": account.email,
                        "me": True,
                        "permissionId": "0123",
                    },
                }
                if not query.get("fields"):
                    self._json(
                        400,
                        {
                            "error": {
                                "code": 400,
                                "message": "The 'fields' parameter is required.",
                            }
                        },
                    )
                    return
                self._json(200, select(about, self._fields(query, "")))
            elif route == "files":
                self._list(query)
            elif route == "changes/startPageToken":
                with account.lock:
                    token = str(len(account.journal) + 1)
                self._json(
                    200, {"kind": "drive#startPageToken", "startPageToken": token}
                )
            elif route == "changes":
                self._changes(query)
            elif route.startswith("files/"):
                rest = route[len("files/") :]
                if rest.endswith("/export"):
                    self._export(rest[: -len("/export")], query)
                else:
                    self._get(rest, query)
            else:
                self._send(404, _error_body(404, "notFound", "Not Found"))

        def _not_found(self, file_id: str) -> None:
            body = _error_body(
                404,
                "notFound",
                f"File not found: {file_id}.",
                location="fileId",
                locationType="parameter",
            )
            self._send(404, body)

        def _invalid_token(self) -> None:
            body = _error_body(
                400,
                "invalid",
                "Invalid Value",
                location="pageToken",
                locationType="parameter",
            )
            self._send(400, body)

        def _list(self, query: dict[str, str]) -> None:
            with emulator.count_lock:
                emulator.list_queries.append(query.get("q", ""))
            try:
                q = Query(query.get("q", ""), account.root_id)
            except (ValueError, IndexError) as error:
                body = _error_body(
                    400, "invalid", f"Invalid Value: {error}", location="q"
                )
                self._send(400, body)
                return
            size = min(int(query.get("pageSize", "100")), emulator.max_page_size)
            key = query.get("q", "")
            offset = 0
            if query.get("pageToken"):
                saved = account.list_tokens.get(query["pageToken"])
                if saved is None or saved[0] != key:
                    self._invalid_token()
                    return
                offset = saved[2]
            with account.lock:
                order = account.order
                parents = q.parent_ids()
                if parents is not None:
                    # Children of the named folders only, in creation order.
                    order = (
                        [i for i in account.order if account.files[i].parent in parents]
                        if len(parents) > 50
                        else sorted(
                            (i for p in parents for i in account.children(p)),
                            key=account.position.__getitem__,
                        )
                    )
                matching = []
                taken = 0
                position = offset
                while position < len(order) and taken < size:
                    item = account.files[order[position]]
                    position += 1
                    if q.matches(_with_trash(account, item)):
                        matching.append(account.view(item))
                        taken += 1
                more = any(
                    q.matches(_with_trash(account, account.files[i]))
                    for i in order[position:]
                )
                document: dict[str, Any] = {
                    "kind": "drive#fileList",
                    "incompleteSearch": False,
                    "files": matching,
                }
                if more:
                    token = secrets.token_urlsafe(12)
                    account.list_tokens[token] = (key, "", position)
                    document["nextPageToken"] = token
            selection = self._fields(query, "kind,files(kind,id,name,mimeType)")
            self._json(200, select(document, selection))

        def _get(self, file_id: str, query: dict[str, str]) -> None:
            with account.lock:
                if file_id == "root":
                    root = {
                        "kind": "drive#file",
                        "id": account.root_id,
                        "name": "My Drive",
                        "mimeType": FOLDER,
                    }
                    self._json(
                        200, select(root, self._fields(query, "kind,id,name,mimeType"))
                    )
                    return
                item = account.files.get(file_id)
                if item is None:
                    self._not_found(file_id)
                    return
                if query.get("alt") != "media":
                    selection = self._fields(query, "kind,id,name,mimeType")
                    self._json(200, select(account.view(item), selection))
                    return
                if item.mime_type.startswith("application/vnd.google-apps."):
                    message = (
                        "Only files with binary content can be downloaded. "
                        "Use Export with Docs Editors files."
                    )
                    body = _error_body(
                        403,
                        "fileNotDownloadable",
                        message,
                        location="alt",
                        locationType="parameter",
                    )
                    self._send(403, body)
                    return
                content = item.content
            self._media(content)

        def _media(self, content: bytes) -> None:
            wanted = self.headers.get("Range")
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted or "")
            if match and content:
                start = int(match.group(1))
                end = min(int(match.group(2) or len(content) - 1), len(content) - 1)
                part = content[start : end + 1]
                self._send(
                    206,
                    part,
                    "application/octet-stream",
                    {"Content-Range": f"bytes {start}-{end}/{len(content)}"},
                )
                return
            self._send(200, content, "application/octet-stream")

        def _export(self, file_id: str, query: dict[str, str]) -> None:
            with account.lock:
                item = account.files.get(file_id)
                if item is None:
                    self._not_found(file_id)
                    return
                targets = EXPORTS.get(item.mime_type)
                if targets is None or query.get("mimeType") not in targets:
                    body = _error_body(
                        403,
                        "cannotExportFile",
                        "This file cannot be exported by the user.",
                    )
                    self._send(403, body)
                    return
                content = item.content
            self._send(200, content, query["mimeType"])

        def _changes(self, query: dict[str, str]) -> None:
            token = query.get("pageToken", "")
            with account.lock:
                if not token.isdigit() or not (
                    account.first_valid_change <= int(token) <= len(account.journal) + 1
                ):
                    self._invalid_token()
                    return
                size = min(int(query.get("pageSize", "100")), 1000)
                start = int(token) - 1
                end = min(start + size, len(account.journal))
                changes = []
                restrict = query.get("restrictToMyDrive") == "true"
                for file_id in account.journal[start:end]:
                    item = account.files.get(file_id)
                    change: dict[str, Any] = {
                        "kind": "drive#change",
                        "changeType": "file",
                        "fileId": file_id,
                        "time": rfc3339(time.time()),
                        "removed": item is None,
                    }
                    if item is not None:
                        if restrict and not account.in_my_drive(item):
                            continue
                        change["file"] = account.view(item)
                    changes.append(change)
                document: dict[str, Any] = {
                    "kind": "drive#changeList",
                    "changes": changes,
                }
                if end < len(account.journal):
                    document["nextPageToken"] = str(end + 1)
                else:
                    document["newStartPageToken"] = str(len(account.journal) + 1)
            self._json(200, select(document, self._fields(query, "")))

    return Handler


def _with_trash(account: DriveAccount, item: DriveFile) -> DriveFile:
    """The item as queries see it: trashed when a folder above it is."""
    if item.trashed or not account.is_trashed(item):
        return item
    view = DriveFile(**{**item.__dict__})
    view.trashed = True
    return view


def drive_tree(
    account: DriveAccount, folders: int, files_per_folder: int
) -> Iterator[str]:
    """Fill the drive with folders of small text files; yields the file ids."""
    for number in range(folders):
        folder = account.add_folder(f"folder {number:05d}")
        for index in range(files_per_folder):
            yield account.add_file(
                f"essay {number}-{index}.txt",
                folder,
                f"essay {number} {index}".encode(),
                "text/plain",
            )
