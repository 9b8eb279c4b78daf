"""Disabling, enabling and deleting a client, and what that does to its tokens (RFC 7592 section 2.3).

RFC 7592 lets a client be deleted over HTTP; here the operator does it (``cardhub clients``), with the
same consequence: "the authorization server MUST immediately invalidate all existing access tokens" of
the client, and refresh tokens and grants with them. "Immediately" holds on every instance because
access tokens are checked in the database on each request: revoked here, refused everywhere on the
next one. A disabled client is also refused at every endpoint (``clients.find_active``), so it gets no
new token, and ``tokens.authenticate`` refuses a token of a disabled client even if it was issued
while the disable ran.

Deleting keeps the client's row as a tombstone (``clients.tombstone``): consents and the access log
name the client and keep their full history; they are never deleted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from auth import clients
from auth.clients import Client
from auth.oauth import authorization_code, grants


async def disable(client_id: str) -> tuple[Client, int]:
    """Disable the client and revoke everything it holds: (the client, grants revoked)."""
    async with in_transaction():
        client = await clients.set_disabled(client_id, True, datetime.now(UTC))
        revoked = await _revoke(client_id, "client disabled")
    return client, revoked


async def enable(client_id: str) -> Client:
    """Enable a disabled client. Its old tokens stay revoked (so does any issued while it was being
    disabled): it starts afresh, citizens' consents being what they were."""
    async with in_transaction():
        await _revoke(client_id, "client disabled")
        return await clients.set_disabled(client_id, False, datetime.now(UTC))


async def delete(client_id: str) -> tuple[Client, int]:
    """Delete the client (a tombstone) and revoke everything it holds: (the client, grants revoked)."""
    async with in_transaction():
        client = await clients.tombstone(client_id, datetime.now(UTC))
        revoked = await _revoke(client_id, "client deleted")
    return client, revoked


async def _revoke(client_id: str, why: str) -> int:
    await authorization_code.expire_client(client_id)
    return await grants.revoke_client(client_id, why)
