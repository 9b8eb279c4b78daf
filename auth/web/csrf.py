"""CSRF tokens: one random token per session, in a hidden ``csrf_token`` field of every form.

The session cookie is SameSite=Lax already, which stops most cross-site POSTs; the token also covers
older browsers and same-site attackers (another app on a sibling subdomain).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from auth.web.errors import WebError

SESSION_KEY = "csrf"
FIELD = "csrf_token"


class CsrfError(WebError):
    """The form's csrf_token is missing or not this session's: refused with 403, nothing done."""

    def __init__(self) -> None:
        super().__init__(403, "error_csrf")


def csrf_token(request: Request) -> str:
    """This session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def check_csrf(request: Request, form: Mapping[str, Any]) -> None:
    """Raise CsrfError unless the form carries this session's token (compared in constant time)."""
    expected = request.session.get(SESSION_KEY)
    presented = form.get(FIELD)
    if not isinstance(expected, str) or not expected or not isinstance(presented, str):
        raise CsrfError
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfError
