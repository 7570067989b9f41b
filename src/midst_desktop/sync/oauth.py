"""Sign-in for an installed app: the system browser and a loopback redirect.

RFC 8252: the redirect goes to http://127.0.0.1 on a port the system picks,
the request carries a PKCE S256 challenge and a random state that the
redirect must bring back. Nothing here logs a code, a verifier or a state.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import logging
import secrets
import threading
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from midst_desktop.sync.providers.base import ProviderError

log = logging.getLogger(__name__)

LOOPBACK_HOST = "127.0.0.1"
DONE_PAGE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>midst-desktop</title>"
    "</head><body style='font-family: sans-serif; margin: 3em'>"
    "<h1>{heading}</h1><p>{text}</p></body></html>"
)


class OAuthError(ProviderError):
    """The sign-in did not complete; the message says why, for the person."""


@dataclass(frozen=True)
class AuthorizationGrant:
    """What the browser brought back, ready to exchange for tokens."""

    code: str = field(repr=False)
    redirect_uri: str
    code_verifier: str = field(repr=False)


def new_code_verifier() -> str:
    """A PKCE verifier: 86 characters from the unreserved set (RFC 7636)."""
    return secrets.token_urlsafe(64)


def code_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def default_opener(url: str) -> object:
    """The system browser (BROWSER in the environment chooses another)."""
    return webbrowser.open(url, new=1, autoraise=True)


class _Redirect:
    """What the loopback server saw, shared with the waiting thread."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.done = threading.Event()
        self.code: str | None = None
        self.error: str | None = None


def _handler(redirect: _Redirect) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path not in ("", "/"):
                self._page(404, "Not found", "This address is not part of the sign-in.")
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            # A request without our state is not the provider's redirect (a
            # stray page, another program): refuse it and keep waiting.
            if not secrets.compare_digest(query.get("state", ""), redirect.state):
                self._page(
                    400,
                    "Sign-in not recognised",
                    "This request did not come from the sign-in midst-desktop "
                    "started. Go back to the app and try again.",
                )
                return
            if redirect.done.is_set():
                self._page(200, "Already done", "You can close this window.")
                return
            if "code" in query:
                redirect.code = query["code"]
                self._page(
                    200,
                    "You are signed in",
                    "midst-desktop is connected. You can close this window and "
                    "go back to the app.",
                )
            else:
                redirect.error = query.get("error", "no code in the answer")
                self._page(
                    200,
                    "Sign-in cancelled",
                    "midst-desktop was not connected. You can close this window.",
                )
            redirect.done.set()

        def _page(self, status: int, heading: str, text: str) -> None:
            body = DONE_PAGE.format(heading=heading, text=text).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            # The request line holds the code and the state: never logged.
            return

    return Handler


def authorize_in_browser(
    authorize_url: str,
    params: Mapping[str, str],
    timeout_seconds: float,
    opener: Callable[[str], object] = default_opener,
    announce: Callable[[str], None] | None = None,
    port: int = 0,
) -> AuthorizationGrant:
    """Open the consent page and wait for the redirect to the loopback port.

    Blocks up to timeout_seconds. params are the provider's own (client_id,
    scope, ...); response_type, redirect_uri, state and the PKCE challenge
    are added here. announce(url) lets the caller show the address too, for
    when no browser opens. port 0 lets the system pick one; a provider that
    only redirects to registered URIs (Dropbox) names its port. Raises
    OAuthError.
    """
    verifier = new_code_verifier()
    state = secrets.token_urlsafe(32)
    redirect = _Redirect(state)
    try:
        server = http.server.ThreadingHTTPServer(
            (LOOPBACK_HOST, port), _handler(redirect)
        )
    except OSError as error:
        raise OAuthError(
            f"cannot listen on {LOOPBACK_HOST} for the sign-in: {error.strerror}"
        ) from None
    server.daemon_threads = True
    redirect_uri = f"http://{LOOPBACK_HOST}:{server.server_address[1]}/"
    query = {
        **params,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    separator = "&" if urlsplit(authorize_url).query else "?"
    url = f"{authorize_url}{separator}{urlencode(query)}"

    serving = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="oauth-redirect", daemon=True
    )
    serving.start()
    try:
        if announce is not None:
            announce(url)
        # Some openers wait for the browser to exit: never on this thread.
        threading.Thread(
            target=_open, args=(opener, url), name="oauth-browser", daemon=True
        ).start()
        if not redirect.done.wait(timeout_seconds):
            raise OAuthError(
                f"the sign-in was not completed within {timeout_seconds:g} s; "
                "run the command again"
            )
    finally:
        server.shutdown()
        server.server_close()
    if redirect.code is None:
        raise OAuthError(f"the sign-in was not completed ({redirect.error})")
    return AuthorizationGrant(redirect.code, redirect_uri, verifier)


def _open(opener: Callable[[str], object], url: str) -> None:
    try:
        opener(url)
    except Exception as error:  # the announced URL still works
        log.warning("Could not open the browser: %s", type(error).__name__)
