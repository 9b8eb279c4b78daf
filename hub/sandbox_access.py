"""Sandbox-mode stand-ins for what the authorization server will do: a console client, recorded
consents and minted tokens, so the hub can be tried and tested before citizens can log in."""

from __future__ import annotations

from auth import clients, consent, tokens
from auth.clients import ClientType
from auth.scopes import READ_SCOPES

CONSOLE_PURPOSE = "Sandbox console: tokens minted with cardhub token, for trying the hub out"


async def ensure_client(client_id: str, client_type: ClientType, purpose: str) -> clients.Client:
    existing = await clients.find(client_id)
    if existing is not None:
        return existing
    uris = [] if client_type is ClientType.AGENCY else [f"http://127.0.0.1/{client_id}/callback"]
    client, _ = await clients.create(client_id, client_type, uris, READ_SCOPES, purpose, client_id=client_id)
    return client


async def citizen_token(card_number: str, scopes: frozenset[str], ttl_seconds: int) -> str:
    """A citizen's token for the sandbox console, with the citizen's consent recorded for it."""
    await ensure_client(tokens.SANDBOX_CONSOLE_CLIENT, ClientType.PUBLIC, CONSOLE_PURPOSE)
    await consent.grant(card_number, tokens.SANDBOX_CONSOLE_CLIENT, scopes, CONSOLE_PURPOSE)
    return await tokens.issue(tokens.SANDBOX_CONSOLE_CLIENT, scopes, card_number, ttl_seconds)
