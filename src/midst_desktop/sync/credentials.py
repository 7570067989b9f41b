"""OAuth credentials of a cloud integration, as kept in the keyring."""

from __future__ import annotations

import json
from dataclasses import dataclass


class CredentialsFormatError(ValueError):
    """Stored or given credentials are not the JSON we expect; says which part."""


@dataclass(frozen=True)
class OAuthCredentials:
    """A refresh token and the OAuth client it belongs to.

    Never printed: repr() hides every secret, so a stray log line or
    traceback cannot leak one.
    """

    refresh_token: str
    client_id: str
    client_secret: str | None = None

    def __repr__(self) -> str:
        return f"OAuthCredentials(client_id={self.client_id!r}, secrets hidden)"

    __str__ = __repr__

    def to_json(self) -> str:
        document: dict[str, str] = {
            "refresh_token": self.refresh_token,
            "client_id": self.client_id,
        }
        if self.client_secret:
            document["client_secret"] = self.client_secret
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> OAuthCredentials:
        """Parse {"refresh_token", "client_id", "client_secret"?}.

        Raises CredentialsFormatError, whose message never contains a secret.
        """
        try:
            document = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CredentialsFormatError("the credentials are not valid JSON") from None
        if not isinstance(document, dict):
            raise CredentialsFormatError("the credentials must be a JSON object")
        for key in ("refresh_token", "client_id"):
            value = document.get(key)
            if not isinstance(value, str) or not value:
                raise CredentialsFormatError(f"the credentials have no {key}")
        secret = document.get("client_secret")
        if secret is not None and not isinstance(secret, str):
            raise CredentialsFormatError("client_secret must be a string")
        return cls(document["refresh_token"], document["client_id"], secret or None)
