"""Token introspection, RFC 7662, for authenticated callers only.

"The protected resource calls the introspection endpoint using an HTTP POST request ... [and] the
endpoint MUST also require some form of authorization" (section 2.1): public clients cannot
authenticate and are refused; a client may introspect only its own tokens.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as AuthlibIntrospection

from auth.oauth.revocation import StoredToken, find_token
from auth.oauth.server import OAuthClient, on_loop


class IntrospectionEndpoint(AuthlibIntrospection):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]  # noqa: RUF012

    def __init__(self, server: Any, issuer: str) -> None:
        super().__init__(server)
        self.issuer = issuer

    def query_token(self, token_string: str, token_type_hint: str | None) -> StoredToken | None:
        return on_loop(find_token, token_string, token_type_hint)

    def check_permission(self, token: StoredToken, client: OAuthClient, request: Any) -> bool:
        return token.check_client(client)

    def introspect_token(self, token: StoredToken) -> dict[str, Any]:
        record = token.record
        return {
            "active": True,
            "client_id": record.client_id,
            "scope": record.scope,
            "sub": record.citizen,
            "token_type": "Bearer" if token.kind == "access_token" else "refresh_token",
            "exp": int(record.expires_at.timestamp()),
            "iat": int(record.issued_at.timestamp()),
            "iss": self.issuer,
        }
