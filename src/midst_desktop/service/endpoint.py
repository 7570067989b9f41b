"""The local endpoint: GET /health, /metrics and /openapi.json on 127.0.0.1 only.

Hardened for a machine where a browser runs next to it: a Host header other
than our own loopback name is refused with 421 (so a DNS-rebinding page
cannot read it), any request that carries an Origin is refused with 403,
there are no CORS headers, and an optional bearer token is compared in
constant time.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from midst_desktop import __version__

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
ALLOWED_METHODS = "GET"
JSON_TYPE = "application/json"
IDLE_POLL_SECONDS = 300.0


class EndpointError(RuntimeError):
    """The endpoint cannot start (the port is taken); the message says so."""


def openapi_document(token_required: bool) -> dict[str, Any]:
    """The endpoint's OpenAPI 3.0 description, served at /openapi.json."""
    error = {
        "description": "Refused",
        "content": {
            JSON_TYPE: {
                "schema": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                }
            }
        },
    }
    health_schema = {
        "type": "object",
        "required": [
            "ok",
            "status",
            "timestamp",
            "uptime",
            "checks",
            "workers",
            "queueLength",
            "schedulerRunning",
        ],
        "properties": {
            "ok": {"type": "boolean"},
            "status": {"type": "string", "enum": ["healthy", "degraded", "unhealthy"]},
            "timestamp": {"type": "string", "format": "date-time"},
            "uptime": {"type": "number", "minimum": 0},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
            "workers": {"type": "integer", "minimum": 0},
            "queueLength": {"type": "integer", "minimum": 0},
            "schedulerRunning": {"type": "boolean"},
        },
    }
    health_content = {JSON_TYPE: {"schema": health_schema}}
    refusals: dict[str, Any] = {"403": error, "421": error}
    if token_required:
        refusals["401"] = error

    def operation(summary: str, responses: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"summary": summary, "responses": responses}
        if token_required:
            entry["security"] = [{"bearer": []}]
        return entry

    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": "midst-desktop local endpoint", "version": __version__},
        "servers": [{"url": "http://127.0.0.1:3002"}],
        "paths": {
            "/health": {
                "get": operation(
                    "Health of the agent",
                    {
                        "200": {
                            "description": "Healthy or degraded",
                            "content": health_content,
                        },
                        "503": {"description": "Unhealthy", "content": health_content},
                        **refusals,
                    },
                )
            },
            "/metrics": {
                "get": operation(
                    "Prometheus metrics",
                    {
                        "200": {
                            "description": "Text exposition format",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **refusals,
                    },
                )
            },
            "/openapi.json": {
                "get": operation(
                    "This document",
                    {
                        "200": {
                            "description": "OpenAPI 3.0",
                            "content": {JSON_TYPE: {"schema": {"type": "object"}}},
                        },
                        **refusals,
                    },
                )
            },
        },
    }
    if token_required:
        document["components"] = {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    return document


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "midst-desktop"
    sys_version = ""

    def __getattr__(self, name: str) -> Any:
        # Every method but GET, known or made up, gets 405 with Allow.
        if name.startswith("do_"):
            return self._refuse_method
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("Endpoint: %s", format % args)

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = JSON_TYPE,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(
        self, status: HTTPStatus, message: str, extra: dict[str, str] | None = None
    ) -> None:
        body = json.dumps({"error": message}).encode()
        self._send(status, body, extra=extra)

    def _refused_before_method(self) -> bool:
        """Host and Origin are checked first, whatever the method or path."""
        host = (self.headers.get("Host") or "").strip().lower()
        if host not in self.server.allowed_hosts:
            self._error(HTTPStatus.MISDIRECTED_REQUEST, "unknown Host")
            return True
        if self.headers.get("Origin") is not None:
            self._error(HTTPStatus.FORBIDDEN, "cross-origin requests are refused")
            return True
        return False

    def _refuse_method(self) -> None:
        if self._refused_before_method():
            return
        self._error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "only GET is allowed",
            {"Allow": ALLOWED_METHODS},
        )

    def _authorized(self) -> bool:
        token = self.server.token
        if not token:
            return True
        given = self.headers.get("Authorization") or ""
        scheme, _, value = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return True
        self._error(
            HTTPStatus.UNAUTHORIZED,
            "a bearer token is required",
            {"WWW-Authenticate": 'Bearer realm="midst-desktop"'},
        )
        return False

    def do_GET(self) -> None:
        if self._refused_before_method() or not self._authorized():
            return
        path = self.path.split("?", 1)[0]
        try:
            if path == "/health":
                report = self.server.health()
                status = 503 if report.get("status") == "unhealthy" else 200
                self._send(status, json.dumps(report).encode())
            elif path == "/metrics":
                self._send(200, self.server.metrics(), CONTENT_TYPE_LATEST)
            elif path == "/openapi.json":
                document = openapi_document(bool(self.server.token))
                self._send(200, json.dumps(document).encode())
            else:
                self._error(HTTPStatus.NOT_FOUND, "no such path")
        except Exception:
            log.exception("The endpoint failed to answer %s", path)
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        port: int,
        token: str,
        health: Callable[[], dict[str, Any]],
        metrics: Callable[[], bytes],
    ) -> None:
        super().__init__((HOST, port), _Handler)
        bound = self.server_address[1]
        self.allowed_hosts = frozenset({f"127.0.0.1:{bound}", f"localhost:{bound}"})
        self.token = token
        self.health = health
        self.metrics = metrics


class Endpoint:
    """The server on its own thread; start() raises EndpointError."""

    def __init__(
        self,
        port: int,
        token: str,
        health: Callable[[], dict[str, Any]],
        metrics: Callable[[], bytes],
    ) -> None:
        self._args = (port, token, health, metrics)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def start(self) -> None:
        try:
            self._server = _Server(*self._args)
        except OSError as error:
            raise EndpointError(
                f"cannot listen on {HOST}:{self._args[0]}: {error.strerror}"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            # No polling while idle: stop() wakes the loop with a connection.
            kwargs={"poll_interval": IDLE_POLL_SECONDS},
            name="midst-endpoint",
            daemon=True,
        )
        self._thread.start()
        log.info("Endpoint listening on http://%s:%d", HOST, self.port)

    def stop(self) -> None:
        if self._server is None:
            return
        server, port = self._server, self.port
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            # The serving loop sleeps in select(); a connection wakes it so it
            # sees the shutdown request now rather than at the next poll.
            with contextlib.suppress(OSError):
                socket.create_connection((HOST, port), timeout=1).close()
            stopper.join(0.2)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
