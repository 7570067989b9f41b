"""Connecting a Dropbox account: PKCE with an offline (refresh) token.

Dropbox redirects only to redirect URIs registered for the app key, so the
loopback flow runs when settings name one (dropbox_redirect_uri); otherwise
the person pastes the code Dropbox shows, as in the SDK's no-redirect flow.
"""

from __future__ import annotations

import logging
import secrets
import sys
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import requests
from dropbox import oauth as dbx_oauth
from dropbox import session as dbx_session

from midst_desktop.config import Settings
from midst_desktop.sync.cloud import CodePrompt
from midst_desktop.sync.credentials import OAuthCredentials
from midst_desktop.sync.oauth import (
    LOOPBACK_HOST,
    AuthorizationGrant,
    OAuthError,
    authorize_in_browser,
)
from midst_desktop.sync.providers.dropbox import endpoint_session, seed_access_token

log = logging.getLogger(__name__)

# Read-only: the metadata and bytes of files, and the account's e-mail.
SCOPES = ["account_info.read", "files.metadata.read", "files.content.read"]
CSRF_KEY = "dropbox-auth-csrf-token"
# A short-lived access token with a refresh token that does not expire.
ACCESS_TYPE = "offline"
PASTE_PROMPT = "Allow access in Dropbox, then paste the code it shows here: "


def authorize_dropbox(
    settings: Settings,
    opener: Callable[[str], object],
    announce: Callable[[str], None],
    prompt: CodePrompt | None = None,
) -> OAuthCredentials:
    """Run the sign-in and return the new credentials (blocks up to the time-out).

    announce(url) shows the consent page's address to the person; prompt
    reads a pasted code (standard input by default). Raises OAuthError.
    """
    app_key = settings.dropbox_app_key.strip()
    if not app_key:
        raise OAuthError(
            "no Dropbox app key is set: register an app (see the README) and "
            "set dropbox_app_key in config.toml or MIDST_DROPBOX_APP_KEY"
        )
    port = _loopback_port(settings.dropbox_redirect_uri)
    if port is not None:
        try:
            return _loopback(settings, app_key, port, opener, announce)
        except _CannotListen as error:
            log.warning(
                "Cannot listen on %s:%s for the Dropbox redirect (%s); "
                "paste the code instead",
                LOOPBACK_HOST,
                port,
                error,
            )
    return _paste(settings, app_key, opener, announce, prompt or read_pasted_code)


class _CannotListen(Exception):
    """The registered loopback port is taken."""


def _loopback_port(redirect_uri: str) -> int | None:
    """The port of a registered loopback redirect (0: any), None for none.

    Raises OAuthError for a redirect the app cannot serve.
    """
    if not redirect_uri.strip():
        return None
    parts = urllib.parse.urlsplit(redirect_uri.strip())
    if (
        parts.scheme != "http"
        or parts.hostname != LOOPBACK_HOST
        or parts.path not in ("", "/")
        or parts.query
    ):
        raise OAuthError(
            "dropbox_redirect_uri must look like http://127.0.0.1:PORT/ (the "
            "redirect registered for the Dropbox app), or be empty"
        )
    try:
        return parts.port or 0
    except ValueError:
        raise OAuthError("dropbox_redirect_uri has a port that is not valid") from None


def _loopback(
    settings: Settings,
    app_key: str,
    port: int,
    opener: Callable[[str], object],
    announce: Callable[[str], None],
) -> OAuthCredentials:
    params = {
        "client_id": app_key,
        "token_access_type": ACCESS_TYPE,
        "scope": " ".join(SCOPES),
    }
    try:
        grant = authorize_in_browser(
            settings.dropbox_auth_url,
            params,
            settings.oauth_timeout_seconds,
            opener,
            announce,
            port=port,
        )
    except OAuthError as error:
        if str(error).startswith(f"cannot listen on {LOOPBACK_HOST}"):
            raise _CannotListen(str(error).split(": ", 1)[-1]) from None
        raise
    return _exchange_grant(settings, app_key, grant)


def _exchange_grant(
    settings: Settings, app_key: str, grant: AuthorizationGrant
) -> OAuthCredentials:
    """Trade the code for tokens with the SDK's own token request."""
    flow = dbx_oauth.DropboxOAuth2Flow(
        app_key,
        grant.redirect_uri,
        session={},
        csrf_token_session_key=CSRF_KEY,
        use_pkce=True,
        token_access_type=ACCESS_TYPE,
        scope=SCOPES,
    )
    flow.requests_session = endpoint_session(settings)
    # The browser step checked the state already; the SDK checks it again
    # against its session, so hand it one that matches.
    state = secrets.token_urlsafe(24)
    flow.session[CSRF_KEY] = state
    flow.code_verifier = grant.code_verifier
    try:
        result = flow.finish({"state": state, "code": grant.code})
    except requests.RequestException as error:
        raise OAuthError(_exchange_failure(error)) from None
    except dbx_oauth.ProviderException:
        raise OAuthError("Dropbox refused the sign-in; run the command again") from None
    return _credentials(app_key, result)


def _paste(
    settings: Settings,
    app_key: str,
    opener: Callable[[str], object],
    announce: Callable[[str], None],
    prompt: CodePrompt,
) -> OAuthCredentials:
    flow = dbx_oauth.DropboxOAuth2FlowNoRedirect(
        app_key,
        use_pkce=True,
        token_access_type=ACCESS_TYPE,
        scope=SCOPES,
    )
    flow.requests_session = endpoint_session(settings)
    url = authorize_page(settings, flow.start())
    announce(url)
    threading.Thread(
        target=_open_quietly, args=(opener, url), name="oauth-browser", daemon=True
    ).start()
    code = prompt(PASTE_PROMPT, float(settings.oauth_timeout_seconds)).strip()
    if not code:
        raise OAuthError("no code was pasted; run the command again")
    try:
        result = flow.finish(code)
    except requests.RequestException as error:
        raise OAuthError(_exchange_failure(error)) from None
    return _credentials(app_key, result)


def authorize_page(settings: Settings, sdk_url: str) -> str:
    """The SDK's authorize URL on the configured authorize page."""
    query = urllib.parse.urlsplit(sdk_url).query
    page = settings.dropbox_auth_url
    separator = "&" if urllib.parse.urlsplit(page).query else "?"
    if not sdk_url.startswith(f"https://{dbx_session.WEB_HOST}/"):
        raise OAuthError("the Dropbox SDK built an unexpected sign-in address")
    return f"{page}{separator}{query}"


def _credentials(app_key: str, result: Any) -> OAuthCredentials:
    if not result.refresh_token:
        raise OAuthError(
            "Dropbox gave no refresh token (the app must allow offline access)"
        )
    credentials = OAuthCredentials(result.refresh_token, app_key)
    seed_access_token(credentials, result.access_token, result.expires_at)
    log.info("Dropbox granted access (account_id=%s)", result.account_id)
    return credentials


def _exchange_failure(error: requests.RequestException) -> str:
    response = getattr(error, "response", None)
    if response is not None and response.status_code == 400:
        return (
            "Dropbox did not accept the code (mistyped, used twice or expired); "
            "run the command again"
        )
    if response is not None:
        return f"Dropbox answered HTTP {response.status_code} to the sign-in"
    return f"cannot reach Dropbox to finish the sign-in ({type(error).__name__})"


def _open_quietly(opener: Callable[[str], object], url: str) -> None:
    try:
        opener(url)
    except Exception as error:  # the announced address still works
        log.warning("Could not open the browser: %s", type(error).__name__)


def read_pasted_code(prompt: str, timeout_seconds: float) -> str:
    """One line from standard input, or '' after the time-out or at its end."""
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line: list[str] = []

    def read() -> None:
        line.append(sys.stdin.readline())

    reader = threading.Thread(target=read, name="oauth-paste", daemon=True)
    reader.start()
    reader.join(timeout_seconds)
    if not line:
        sys.stderr.write("\n")
        raise OAuthError(
            f"no code was pasted within {timeout_seconds:g} s; run the command again"
        )
    if not line[0]:
        # The input ended (Ctrl+D, or nothing piped in).
        sys.stderr.write("\n")
    return line[0]
