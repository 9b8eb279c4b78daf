"""Sandbox-mode shortcuts past the login and consent pages: a console client (first-party, public),
the persona's consent recorded for it, and a token in a grant of the authorization server's own
kind. For trying the hub out and for tests; production has only the real flow."""

from __future__ import annotations

from auth import clients, consent, tokens
from auth.clients import ClientType
from auth.oauth import grants
from auth.scopes import READ_SCOPES

CONSOLE_PURPOSE = "Sandbox console: tokens minted with cardhub token, for trying the hub out"


async def ensure_client(
    client_id: str, client_type: ClientType, purpose: str, first_party: bool = False
) -> clients.Client:
    existing = await clients.find(client_id)
    if existing is not None:
        return existing
    uris = [] if client_type is ClientType.AGENCY else [f"http://127.0.0.1/{client_id}/callback"]
    client, _ = await clients.create(
        client_id, client_type, uris, READ_SCOPES, purpose, client_id=client_id, first_party=first_party
    )
    return client


async def citizen_token(card_number: str, scopes: frozenset[str], ttl_seconds: int) -> str:
    """A citizen's token for the sandbox console, with the citizen's consent recorded for it."""
    # The console stands in for the city's own app, so it may also show and manage consents.
    await ensure_client(tokens.SANDBOX_CONSOLE_CLIENT, ClientType.PUBLIC, CONSOLE_PURPOSE, first_party=True)
    await consent.grant(card_number, tokens.SANDBOX_CONSOLE_CLIENT, scopes, CONSOLE_PURPOSE)
    # A grant like the authorization server's own, so /oauth/revoke and introspection treat it alike.
    scope = " ".join(sorted(scopes))
    grant = await grants.start(tokens.SANDBOX_CONSOLE_CLIENT, card_number, scope)
    return await tokens.issue(tokens.SANDBOX_CONSOLE_CLIENT, scopes, card_number, ttl_seconds, grant.id)
