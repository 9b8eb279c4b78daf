"""Who is logged in, kept in Starlette's signed session cookie (``request.session``).

The cookie is signed, not encrypted: it holds only the card number, the login time, the CSRF
token, the chosen language and a one-shot notice. It is HttpOnly and SameSite=Lax (see
``middleware``), and Secure when the hub is served over HTTPS.

A signed cookie cannot be revoked from the server: logging out clears it in this browser, but a copy
taken earlier stays valid until it ages out. So a login lasts at most ``LOGIN_LIFETIME``, checked
against the signed login time, whatever the cookie's own age.
"""

from __future__ import annotations

import time

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request

COOKIE_NAME = "cardhub_session"
LOGIN_LIFETIME_SECONDS = 8 * 3600

CITIZEN = "citizen"
LOGIN_AT = "login_at"
# Survives login and logout: a citizen who chose English keeps it.
_KEEP_ACROSS_LOGIN = ("lang",)


def middleware(secret: str, *, https_only: bool) -> Middleware:
    """The SessionMiddleware the hub installs, with the cookie flags the pages rely on."""
    return Middleware(
        SessionMiddleware,
        secret_key=secret,
        session_cookie=COOKIE_NAME,
        max_age=LOGIN_LIFETIME_SECONDS,
        same_site="lax",
        https_only=https_only,
    )


def login(request: Request, card: str) -> None:
    """Start a fresh session for this citizen: everything from before login (the CSRF token too) goes."""
    _reset(request)
    request.session[CITIZEN] = card
    request.session[LOGIN_AT] = int(time.time())


def logout(request: Request) -> None:
    _reset(request)


def current_citizen(request: Request) -> str | None:
    """The logged-in citizen's card number, or None (not logged in, or the login is too old)."""
    card = request.session.get(CITIZEN)
    login_at = request.session.get(LOGIN_AT)
    if not isinstance(card, str) or not isinstance(login_at, int):
        return None
    if not 0 <= time.time() - login_at < LOGIN_LIFETIME_SECONDS:
        return None
    return card


def _reset(request: Request) -> None:
    kept = {k: request.session[k] for k in _KEEP_ACROSS_LOGIN if k in request.session}
    request.session.clear()
    request.session.update(kept)
