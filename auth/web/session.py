"""Who is logged in, kept in a signed session cookie (``request.session``).

The cookie is signed, not encrypted: it holds only the card number, a session id, the login and
last-seen times, the CSRF token, the chosen language, a one-shot notice and, while a login at the
city's identity provider is under way, that login's state (``auth/oidc/relying_party.py``). It is
HttpOnly and SameSite=Lax, and Secure when the hub is served over HTTPS.

Keys: ``session_secret`` is a key setting like every other (``keys/keyring.py``): ``KID:KEY,...``,
the first signing and all verifying, so a new key can go first without logging anyone out, and the
old one is dropped after ``SessionPolicy.lifetime_seconds``.

Lifetimes: a login lasts at most ``lifetime_seconds`` after it happened (checked against the signed
login time, whatever the cookie's own age: a signed cookie cannot be revoked from the server, so a
copy taken earlier stays good until then), and ends sooner after ``idle_seconds`` without a page
being asked for. The session id is new at every login: whatever a browser held before logging in
(a planted cookie, a pending consent) belongs to no one afterwards.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

import itsdangerous
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE_NAME = "cardhub_session"
LOGIN_LIFETIME_SECONDS = 8 * 3600
IDLE_SECONDS = 30 * 60

CITIZEN = "citizen"
SESSION_ID = "sid"
LOGIN_AT = "login_at"
SEEN_AT = "seen_at"
UPSTREAM = "upstream"  # what the identity provider needs at logout (its ID token, for the hint)
_POLICY_SCOPE_KEY = "cardhub.session_policy"
# Survives login and logout: a citizen who chose English keeps it.
_KEEP_ACROSS_LOGIN = ("lang",)


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    lifetime_seconds: int = LOGIN_LIFETIME_SECONDS  # absolute: from the login
    idle_seconds: int = IDLE_SECONDS  # from the last page asked for


class _KeyedSessionMiddleware(SessionMiddleware):
    """Starlette's SessionMiddleware verifying with every key given, signing with the first."""

    def __init__(self, app: ASGIApp, keys: Sequence[bytes], policy: SessionPolicy, https_only: bool) -> None:
        super().__init__(
            app,
            secret_key="unused",
            session_cookie=COOKIE_NAME,
            max_age=policy.lifetime_seconds,
            same_site="lax",
            https_only=https_only,
        )
        # itsdangerous signs with the last key of a list and verifies with any of them.
        self.signer = itsdangerous.TimestampSigner(list(reversed(keys)), digest_method=hashlib.sha256)
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[_POLICY_SCOPE_KEY] = self.policy
        await super().__call__(scope, receive, send)


def middleware(keys: Sequence[bytes], *, https_only: bool, policy: SessionPolicy | None = None) -> Middleware:
    """The session middleware the hub installs: ``keys`` current first (all verify), the cookie flags the
    pages rely on, and the lifetimes ``current_citizen`` enforces."""
    if not keys:
        raise ValueError("the session cookie needs at least one key")
    return Middleware(_KeyedSessionMiddleware, keys=list(keys), policy=policy or SessionPolicy(), https_only=https_only)


def login(request: Request, card: str, upstream: dict[str, str] | None = None) -> None:
    """Start a fresh session for this citizen, with a new id: everything from before login (the CSRF
    token too) goes. ``upstream``: what logging out at the identity provider will need."""
    _reset(request)
    now = int(time.time())
    request.session[CITIZEN] = card
    request.session[SESSION_ID] = secrets.token_urlsafe(16)
    request.session[LOGIN_AT] = now
    request.session[SEEN_AT] = now
    if upstream:
        request.session[UPSTREAM] = upstream


def logout(request: Request) -> dict[str, str] | None:
    """End the session; returns what the identity provider's logout needs, if the login came from one."""
    upstream = request.session.get(UPSTREAM)
    _reset(request)
    return upstream if isinstance(upstream, dict) else None


def session_id(request: Request) -> str | None:
    value = request.session.get(SESSION_ID)
    return value if isinstance(value, str) else None


def current_citizen(request: Request) -> str | None:
    """The logged-in citizen's card number, or None (not logged in, the login too old, or idle too long).

    Each call counts as activity: the idle clock restarts."""
    card = request.session.get(CITIZEN)
    login_at = request.session.get(LOGIN_AT)
    seen_at = request.session.get(SEEN_AT, login_at)
    if not isinstance(card, str) or not isinstance(login_at, int) or not isinstance(seen_at, int):
        return None
    policy: SessionPolicy = request.scope.get(_POLICY_SCOPE_KEY) or SessionPolicy()
    now = time.time()
    if not 0 <= now - login_at < policy.lifetime_seconds or not 0 <= now - seen_at < policy.idle_seconds:
        _reset(request)  # an ended session is gone, not merely ignored
        return None
    if int(now) != seen_at:
        request.session[SEEN_AT] = int(now)
    return card


def _reset(request: Request) -> None:
    kept = {k: request.session[k] for k in _KEEP_ACROSS_LOGIN if k in request.session}
    request.session.clear()
    request.session.update(kept)
