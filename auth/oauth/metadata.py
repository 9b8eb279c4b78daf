"""Authorization server metadata, RFC 8414 (with RFC 9207's iss flag), rendered from the scope catalogue."""

from __future__ import annotations

from typing import Any

from auth.scopes import CATALOGUE, CLIENT_SCOPES


def metadata(issuer: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": [s.name for s in CATALOGUE] + list(CLIENT_SCOPES),
        "authorization_response_iss_parameter_supported": True,
        # Not registered by RFC 8414: the catalogue, so apps can show what each scope means.
        "scope_details": [
            {"scope": s.name, "reveals": s.reveals, "source": s.source, "sensitive": s.sensitive} for s in CATALOGUE
        ],
    }
