"""How the hub proves itself to an agency: API key, OAuth2 client credentials, HMAC signature.

One ``AgencyAuth`` per agency; the runtime asks it for headers before every call and tells it when
the agency answered 401, so a cached token can be dropped and fetched again once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    from connectors.runtime import AgencyClient


class AgencyAuth:
    async def headers(self, client: AgencyClient, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        raise NotImplementedError()

    def invalidate(self) -> None:
        """The agency said 401: forget anything cached."""


class NoAuth(AgencyAuth):
    async def headers(self, client: AgencyClient, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        return {}


class ApiKeyAuth(AgencyAuth):
    def __init__(self, header: str, key: str) -> None:
        self.header = header
        self._key = key

    async def headers(self, client: AgencyClient, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        return {self.header: self._key}

    def __repr__(self) -> str:  # never show the key
        return f"ApiKeyAuth(header={self.header!r})"


class ClientCredentialsAuth(AgencyAuth):
    """RFC 6749 section 4.4. The token is shared by all calls and refreshed a little before expiry."""

    REFRESH_MARGIN_SECONDS = 30

    def __init__(self, token_path: str, client_id: str, client_secret: str) -> None:
        self.token_path = token_path
        self.client_id = client_id
        self._secret = client_secret
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def headers(self, client: AgencyClient, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self._current_token(client)}"}

    async def _current_token(self, client: AgencyClient) -> str:
        async with self._lock:  # one token request at a time, however many calls are waiting
            if self._token is None or time.monotonic() >= self._expires_at:
                self._token, lifetime = await client.fetch_client_credentials_token(
                    self.token_path, self.client_id, self._secret
                )
                self._expires_at = time.monotonic() + max(0, lifetime - self.REFRESH_MARGIN_SECONDS)
            return self._token

    def invalidate(self) -> None:
        self._token = None

    def __repr__(self) -> str:
        return f"ClientCredentialsAuth(client_id={self.client_id!r})"


class HmacAuth(AgencyAuth):
    """Signed requests: X-Ca-Key, X-Ca-Timestamp, X-Ca-Nonce, X-Ca-Signature (see docs/agencies/social_security.md)."""

    def __init__(self, app_id: str, secret: str) -> None:
        self.app_id = app_id
        self._secret = secret

    async def headers(self, client: AgencyClient, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        signature = base64.b64encode(
            hmac.new(
                self._secret.encode(),
                string_to_sign(method, path, query, timestamp, nonce, body).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        return {
            "X-Ca-Key": self.app_id,
            "X-Ca-Timestamp": timestamp,
            "X-Ca-Nonce": nonce,
            "X-Ca-Signature": signature,
        }

    def __repr__(self) -> str:
        return f"HmacAuth(app_id={self.app_id!r})"


def string_to_sign(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    canonical_query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    return "\n".join([method.upper(), path, canonical_query, timestamp, nonce, hashlib.sha256(body).hexdigest()])
