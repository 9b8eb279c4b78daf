"""The three ways the stand-in agencies authenticate the hub.

- static API key in a header (health, library)
- OAuth2 client credentials, RFC 6749 section 4.4 (transit, housing fund)
- HMAC-SHA256 signed requests in the style of Chinese government API gateways (social security)

Each checker returns ``None`` when the request may pass, or a short reason to refuse it with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

from aiohttp import web

HMAC_MAX_SKEW_SECONDS = 300


@dataclass(frozen=True, slots=True)
class ApiKeyChecker:
    header: str
    keys: frozenset[str]

    async def check(self, request: web.Request) -> str | None:
        presented = request.headers.get(self.header, "")
        if not any(hmac.compare_digest(presented, k) for k in self.keys):
            return f"missing or invalid {self.header}"
        return None


@dataclass(slots=True)
class ClientCredentialsIssuer:
    """A tiny token endpoint plus bearer check. Tokens live ``ttl`` seconds."""

    client_id: str
    client_secret: str
    ttl: int = 300
    tokens: dict[str, float] = field(default_factory=dict)

    async def token_endpoint(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id, client_secret = _client_auth(request, form)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        if client_id != self.client_id or not hmac.compare_digest(client_secret or "", self.client_secret):
            return web.json_response({"error": "invalid_client"}, status=401)
        token = secrets.token_urlsafe(24)
        now = time.time()
        self.tokens = {t: exp for t, exp in self.tokens.items() if exp > now}
        self.tokens[token] = now + self.ttl
        return web.json_response({"access_token": token, "token_type": "Bearer", "expires_in": self.ttl})

    async def check(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return "missing bearer token"
        expires = self.tokens.get(token)
        if expires is None or expires < time.time():
            self.tokens.pop(token, None)
            return "invalid or expired token"
        return None


def _client_auth(request: web.Request, form: object) -> tuple[str | None, str | None]:
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(auth[6:]).decode()
        except ValueError:
            return None, None
        cid, _, secret = decoded.partition(":")
        return cid, secret
    get = getattr(form, "get", None)
    if get is None:
        return None, None
    return get("client_id"), get("client_secret")


def hmac_string_to_sign(method: str, path: str, query: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The canonical string the social security gateway signs. See docs/agencies/social_security.md."""
    canonical_query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join([method.upper(), path, canonical_query, timestamp, nonce, body_hash])


@dataclass(slots=True)
class HmacChecker:
    app_id: str
    secret: str
    seen_nonces: dict[str, float] = field(default_factory=dict)

    async def check(self, request: web.Request) -> str | None:
        h = request.headers
        app_id, ts, nonce, signature = (
            h.get("X-Ca-Key"),
            h.get("X-Ca-Timestamp"),
            h.get("X-Ca-Nonce"),
            h.get("X-Ca-Signature"),
        )
        if not (app_id and ts and nonce and signature):
            return "missing signature headers"
        if app_id != self.app_id:
            return "unknown app id"
        try:
            skew = abs(time.time() - int(ts))
        except ValueError:
            return "bad timestamp"
        if skew > HMAC_MAX_SKEW_SECONDS:
            return "timestamp outside the allowed window"
        body = await request.read()
        expected = base64.b64encode(
            hmac.new(
                self.secret.encode(),
                hmac_string_to_sign(
                    request.method, request.raw_path.split("?")[0], request.query_string, ts, nonce, body
                ).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        if not hmac.compare_digest(expected, signature):
            return "signature mismatch"
        now = time.time()
        if nonce in self.seen_nonces:
            return "nonce replayed"
        self.seen_nonces = {n: t for n, t in self.seen_nonces.items() if now - t < HMAC_MAX_SKEW_SECONDS}
        self.seen_nonces[nonce] = now
        return None
