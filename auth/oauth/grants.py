"""An authorization grant: one citizen's "allow" for one client, and every token that came of it.

Refresh tokens rotate (RFC 9700 section 4.14.2): each use returns a new one and retires the old. If a
retired refresh token comes back, someone holds a copy: the whole grant is revoked, every access and
refresh token in it, so neither the thief nor the client can go on with it. One exception, the grace
interval: the same client presenting it again within a few seconds of its rotation (two requests in
flight at once, a retry after a lost response) gets the very pair the first request got
(``auth/oauth/successor.py``).

A token is used up only once its request has passed every check (the client, the consent behind it):
a copy presented by another client is refused and leaves it as it was. Rotation is one transaction:
the old token is claimed by a conditional UPDATE, together with its sealed successor, and the new
tokens are stored; a concurrent twin finds the claim made and reads the successor.

Withdrawing a consent reaches the grants it covered (``withdraw``): a whole withdrawal revokes them,
a narrowing cuts the withdrawn scopes out of them and their refresh tokens, so a consent granted again
later does not bring an old refresh token back to life.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from auth import tokens
from auth.oauth import successor
from auth.tokens import AccessToken

REFRESH_PREFIX = "chr_"


class Grant(Model):
    id = fields.BigIntField(primary_key=True)  # ids of token-rate tables are 64-bit (see auth/tokens.py)
    client_id = fields.CharField(max_length=64)
    citizen = fields.CharField(max_length=20, null=True)  # None: a client credentials grant
    scope = fields.TextField()
    created_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoked_why = fields.CharField(max_length=64, default="")

    class Meta:
        table = "oauth_grant"
        indexes = (
            # withdraw(): withdrawing a consent reaches the citizen's grants to that client.
            Index(fields=("citizen", "client_id"), name="oauth_grant_citizen_client"),
        )

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())


class RefreshToken(Model):
    id = fields.BigIntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    grant: fields.ForeignKeyRelation[Grant] = fields.ForeignKeyField("models.Grant", related_name="refresh_tokens")
    grant_id: int
    client_id = fields.CharField(max_length=64)
    citizen = fields.CharField(max_length=20)
    scope = fields.TextField()
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)  # rotated: must never be presented again
    revoked_at = fields.DatetimeField(null=True)
    # Once rotated: the new token response, sealed under this token (successor.py), for the grace
    # interval's duplicates. Cleared at the grant's next rotation past the interval and on revocation.
    successor = fields.TextField(null=True)

    class Meta:
        table = "refresh_token"
        indexes = (
            # revoke(): revoking a grant revokes its refresh tokens. Foreign keys get no index of their own.
            Index(fields=("grant_id",), name="refresh_token_grant"),
            # prune(): housekeeping deletes by these, in bounded batches.
            Index(fields=("expires_at",), name="refresh_token_expires"),
            Index(fields=("revoked_at",), name="refresh_token_revoked"),
        )


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_refresh_token() -> str:
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


async def start(client_id: str, citizen: str | None, scope: str) -> Grant:
    return await Grant.create(client_id=client_id, citizen=citizen, scope=scope, created_at=datetime.now(UTC))


async def store_refresh_token(grant_id: int, raw: str, client_id: str, citizen: str, scope: str, ttl: int) -> None:
    now = datetime.now(UTC)
    await RefreshToken.create(
        token_hash=hash_token(raw), grant_id=grant_id, client_id=client_id, citizen=citizen, scope=scope,
        issued_at=now, expires_at=now + timedelta(seconds=ttl),
    )  # fmt: skip


async def find_refresh_token(raw: str) -> RefreshToken | None:
    """The refresh token's record, whatever its state. Looking it up claims nothing."""
    return await RefreshToken.get_or_none(token_hash=hash_token(raw))


async def grant_of(record: RefreshToken) -> Grant:
    return await Grant.get(id=record.grant_id)


def replay(record: RefreshToken, raw: str, grace_seconds: float, now: datetime) -> dict[str, Any] | None:
    """The pair this token's rotation issued, if it was rotated no longer than ``grace_seconds`` ago."""
    if record.used_at is None or record.successor is None or record.revoked_at is not None:
        return None
    if now - record.used_at > timedelta(seconds=grace_seconds):
        return None
    return successor.unseal(raw, record.token_hash, record.successor)


async def rotate(
    old: RefreshToken, raw: str, pair: dict[str, Any], lifetimes: tuple[int, int], grace_seconds: float
) -> dict[str, Any] | None:
    """Retire ``old`` and store ``pair`` (its access and refresh token) in its place, atomically.

    Returns the pair the client gets: ``pair``, or the one a concurrent twin stored first when the twin
    won the claim within the grace interval; None when the token may no longer be used.
    """
    access_ttl, refresh_ttl = lifetimes
    now = datetime.now(UTC)
    scope = pair.get("scope", "")
    async with in_transaction():
        claimed = await RefreshToken.filter(id=old.id, used_at=None, revoked_at=None, expires_at__gt=now).update(
            used_at=now, successor=successor.seal(raw, old.token_hash, pair)
        )
        if claimed:
            await tokens.store(pair["access_token"], old.client_id, frozenset(scope.split()), old.citizen,
                               access_ttl, old.grant_id)  # fmt: skip
            await store_refresh_token(old.grant_id, pair["refresh_token"], old.client_id, old.citizen, scope,
                                      refresh_ttl)  # fmt: skip
            # Successors outlive their use only by the grace interval (and this one until the next rotation).
            await (
                RefreshToken.filter(grant_id=old.grant_id, used_at__lt=now - timedelta(seconds=grace_seconds))
                .exclude(successor=None)
                .update(successor=None)
            )
            return pair
    current = await RefreshToken.get(id=old.id)
    twin = replay(current, raw, grace_seconds, datetime.now(UTC))
    if twin is None and current.used_at is not None and current.revoked_at is None:
        await revoke(old.grant_id, "refresh token reused")  # no grace: a duplicate is a reuse
    return twin


async def revoke(grant_id: int, why: str) -> None:
    """Revoke a grant and everything issued under it, in one transaction."""
    async with in_transaction():
        await _revoke(grant_id, why, datetime.now(UTC))


async def _revoke(grant_id: int, why: str, now: datetime) -> None:
    await Grant.filter(id=grant_id, revoked_at=None).update(revoked_at=now, revoked_why=why)
    await RefreshToken.filter(grant_id=grant_id, revoked_at=None).update(revoked_at=now)
    await RefreshToken.filter(grant_id=grant_id).exclude(successor=None).update(successor=None)
    await AccessToken.filter(grant_id=grant_id, revoked_at=None).update(revoked_at=now)


async def withdraw(citizen: str, client_id: str, scopes: frozenset[str] | None, why: str) -> None:
    """A consent withdrawn (``scopes`` None) or narrowed: revoke or narrow the grants it covered.

    Runs inside the caller's transaction (``consent.revoke``). A grant left with no scope is revoked.
    Access tokens of a narrowed grant keep their scope string: the schema checks consent on every
    request, so they read nothing withdrawn; the refresh tokens are what could bring it back.
    """
    now = datetime.now(UTC)
    for grant in await Grant.filter(citizen=citizen, client_id=client_id, revoked_at=None):
        remaining = frozenset() if scopes is None else grant.scopes - scopes
        if not remaining:
            await _revoke(grant.id, why, now)
        elif remaining != grant.scopes:
            narrowed = " ".join(sorted(remaining))
            await Grant.filter(id=grant.id).update(scope=narrowed)
            for token in await RefreshToken.filter(grant_id=grant.id, revoked_at=None):
                kept = frozenset(token.scope.split()) & remaining
                if kept:
                    await RefreshToken.filter(id=token.id).update(scope=" ".join(sorted(kept)))
                else:
                    await RefreshToken.filter(id=token.id).update(revoked_at=now, successor=None)


async def revoke_client(client_id: str, why: str) -> int:
    """Revoke every grant of a client and every token issued to it, grantless ones too; the grants revoked.

    For disabling and deleting a client (``client_management``). Grants are found by client id alone: a
    scan, fine for an operator's rare act.
    """
    now = datetime.now(UTC)
    async with in_transaction():
        ids = [g.id for g in await Grant.filter(client_id=client_id, revoked_at=None).only("id")]
        for grant_id in ids:
            await _revoke(grant_id, why, now)
        await RefreshToken.filter(client_id=client_id, revoked_at=None).update(revoked_at=now, successor=None)
        await AccessToken.filter(client_id=client_id, revoked_at=None).update(revoked_at=now)
    return len(ids)


async def prune(before: datetime, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` refresh tokens that expired or were revoked before ``before``: (found, deleted).

    A rotated token still within its lifetime is kept: if it comes back, it is a copy (RFC 9700 section
    4.14.2), and its record is what lets ``rotate`` revoke the grant. Grants themselves are kept.
    """
    stale = Q(expires_at__lt=before) | Q(revoked_at__lt=before)
    ids = await RefreshToken.filter(stale).limit(limit).values_list("id", flat=True)
    deleted: int = await RefreshToken.filter(id__in=ids).delete() if ids else 0
    return len(ids), deleted


async def prune_client_credentials(before: datetime, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` client-credentials grants made before ``before``: (found, deleted).

    Client-credentials tokens once each started a grant (citizen null) that nothing refers to: no refresh
    token, no consent; tokens are revoked by client id (``revoke_client``). New ones start none. Found
    through the (citizen, client_id) index.
    """
    ids = await Grant.filter(citizen__isnull=True, created_at__lt=before).limit(limit).values_list("id", flat=True)
    deleted: int = await Grant.filter(id__in=ids, citizen__isnull=True).delete() if ids else 0
    return len(ids), deleted
