"""Token revocation, RFC 7009.

"If the particular token is a refresh token and the authorization server supports the revocation
of access tokens, then the authorization server SHOULD also invalidate all access tokens based on
the same authorization grant" (section 2.1): revoking a refresh token revokes its whole grant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint as AuthlibRevocation

from auth.oauth import grants
from auth.oauth.server import OAuthClient, on_loop
from auth.tokens import AccessToken, hash_token


class StoredToken:
    """An access or refresh token record as Authlib's endpoints see it."""

    def __init__(self, kind: str, record: Any) -> None:
        self.kind = kind
        self.record = record

    def check_client(self, client: OAuthClient) -> bool:
        client_id: str = self.record.client_id
        return client_id == client.get_client_id()

    def get_scope(self) -> str:
        scope: str = self.record.scope
        return scope

    def is_expired(self) -> bool:
        expired: bool = self.record.expires_at <= datetime.now(UTC)
        return expired

    def is_revoked(self) -> bool:
        # A rotated refresh token is as dead as a revoked one.
        return self.record.revoked_at is not None or getattr(self.record, "used_at", None) is not None


async def find_token(raw: str, hint: str | None) -> StoredToken | None:
    order = ("refresh_token", "access_token") if hint == "refresh_token" else ("access_token", "refresh_token")
    for kind in order:
        if kind == "access_token":
            access = await AccessToken.get_or_none(token_hash=hash_token(raw))
            if access is not None:
                return StoredToken(kind, access)
        else:
            refresh = await grants.RefreshToken.get_or_none(token_hash=grants.hash_token(raw))
            if refresh is not None:
                return StoredToken(kind, refresh)
    return None


async def revoke(token: StoredToken) -> None:
    if token.kind == "refresh_token":
        await grants.revoke(token.record.grant_id, "refresh token revoked by the client")
    else:
        await AccessToken.filter(id=token.record.id, revoked_at=None).update(revoked_at=datetime.now(UTC))


class RevocationEndpoint(AuthlibRevocation):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]  # noqa: RUF012

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return on_loop(find_token, token_string, token_type_hint)

    def revoke_token(self, token: StoredToken, request: Any) -> None:
        on_loop(revoke, token)
