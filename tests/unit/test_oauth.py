"""The loopback sign-in: a random port on 127.0.0.1, PKCE S256, state, time-out."""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from midst_desktop.sync.oauth import OAuthError, authorize_in_browser


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_redirect_with_our_state_completes_the_sign_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pages: list[tuple[int, str]] = []
    seen: dict[str, str] = {}
    browsed = threading.Event()

    def browser(url: str) -> None:
        # Plays the provider: a stray request and a forged one first.
        seen.update(query_of(url))
        redirect = seen["redirect_uri"]
        for query in (
            "favicon.ico",
            "?code=forged&state=not-ours",
            f"?code=real-code-123&state={seen['state']}",
        ):
            response = httpx.get(redirect + query)
            pages.append((response.status_code, response.text))
        browsed.set()

    with caplog.at_level(logging.DEBUG):
        grant = authorize_in_browser(
            "http://auth.invalid/authorize?hl=en",
            {"client_id": "client-1", "scope": "read"},
            timeout_seconds=30,
            opener=browser,
        )

    assert grant.code == "real-code-123"
    # The browser runs on a thread of its own and may still be reading the
    # last page when the sign-in has its code.
    assert browsed.wait(30)
    assert [status for status, _ in pages] == [404, 400, 200]
    assert "close this window" in pages[2][1]
    redirect = urlsplit(seen["redirect_uri"])
    assert redirect.hostname == "127.0.0.1" and redirect.port not in (None, 80)
    assert grant.redirect_uri == seen["redirect_uri"]
    assert seen["code_challenge_method"] == "S256"
    digest = hashlib.sha256(grant.code_verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert seen["code_challenge"] == challenge
    assert seen["client_id"] == "client-1" and seen["hl"] == "en"
    assert len(seen["state"]) >= 32
    assert "real-code-123" not in repr(grant)
    assert grant.code_verifier not in repr(grant)
    # The test's own HTTP client plays the browser and logs its URLs; ours may not.
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("midst_desktop")
    )
    for secret in ("real-code-123", seen["state"], grant.code_verifier):
        assert secret not in ours


def test_a_denied_consent_is_a_clear_error() -> None:
    def browser(url: str) -> None:
        query = query_of(url)
        httpx.get(f"{query['redirect_uri']}?error=access_denied&state={query['state']}")

    with pytest.raises(OAuthError, match="access_denied"):
        authorize_in_browser(
            "http://auth.invalid/authorize", {}, timeout_seconds=30, opener=browser
        )


def test_a_sign_in_nobody_completes_times_out() -> None:
    announced: list[str] = []
    with pytest.raises(OAuthError, match="not completed within"):
        authorize_in_browser(
            "http://auth.invalid/authorize",
            {},
            timeout_seconds=0.5,
            opener=lambda url: None,
            announce=announced.append,
        )
    assert announced and announced[0].startswith("http://auth.invalid/authorize?")
    port = urlsplit(query_of(announced[0])["redirect_uri"]).port
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/")


def test_google_tokens_and_codes_are_redacted_even_on_their_own() -> None:
    from midst_desktop.logs import redact

    line = "got 1//0gLrT5-abcdefghijklmnop and 4/0AeanS0ZabcdefghijklmnopqrstuV then"
    cleaned = redact(line)

    assert "1//0gLrT5" not in cleaned and "4/0AeanS0Z" not in cleaned
    assert cleaned.startswith("got ") and cleaned.endswith(" then")
    assert redact("see page 4/5 of 1/2") == "see page 4/5 of 1/2"


def test_each_sign_in_listens_on_a_port_of_its_own() -> None:
    redirects: list[str] = []

    def complete(url: str) -> None:
        query = query_of(url)
        redirects.append(query["redirect_uri"])
        httpx.get(
            f"{query['redirect_uri']}?code=c-{len(redirects)}&state={query['state']}"
        )

    def first_browser(url: str) -> None:
        # A second sign-in while the first one still listens: with a fixed
        # port its server could not even start.
        inner = authorize_in_browser(
            "http://auth.invalid/authorize", {}, timeout_seconds=30, opener=complete
        )
        assert inner.code == "c-1"
        complete(url)

    outer = authorize_in_browser(
        "http://auth.invalid/authorize", {}, timeout_seconds=30, opener=first_browser
    )
    later = authorize_in_browser(
        "http://auth.invalid/authorize", {}, timeout_seconds=30, opener=complete
    )

    assert (outer.code, later.code) == ("c-2", "c-3")
    ports = [urlsplit(uri).port for uri in redirects]
    assert len(set(ports[:2])) == 2
    assert all(port is not None and port > 1024 for port in ports)
