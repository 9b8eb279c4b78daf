"""Reading a bearer token off a request, RFC 6750 section 2.1."""

from __future__ import annotations


class InvalidRequest(Exception):
    """RFC 6750 section 3.1 ``invalid_request``: the Authorization header is malformed."""

    error = "invalid_request"


def bearer_token(authorization: str | None) -> str | None:
    """The token in ``Authorization: Bearer <token>``; None when the header is absent."""
    if authorization is None or not authorization.strip():
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidRequest("Authorization must use the Bearer scheme")
    token = token.strip()
    if not token or " " in token:
        raise InvalidRequest("malformed bearer token")
    return token
