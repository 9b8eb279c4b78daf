"""An authorization grant: one citizen's "allow" for one client, and every token that came of it.

Refresh tokens rotate (RFC 9700 section 4.14.2): each use returns a new one and retires the old. If a
retired refresh token comes back, someone holds a copy: the whole grant is revoked, every access and
refresh token in it, so neither the thief nor the client can go on with it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

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

    class Meta:
        table = "refresh_token"
        indexes = (
            # revoke(): revoking a grant revokes its refresh tokens. Foreign keys get no index of their own.
            Index(fields=("grant_id",), name="refresh_token_grant"),
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


async def redeem_refresh_token(raw: str) -> RefreshToken | None:
    """Claim a refresh token for one rotation, atomically. A second presentation revokes the grant."""
    now = datetime.now(UTC)
    digest = hash_token(raw)
    claimed = await RefreshToken.filter(token_hash=digest, used_at=None, revoked_at=None, expires_at__gt=now).update(
        used_at=now
    )
    record = await RefreshToken.get_or_none(token_hash=digest)
    if record is None:
        return None
    if not claimed:
        if record.used_at is not None:  # presented after its rotation: a copy is out there
            await revoke(record.grant_id, "refresh token reused")
        return None
    grant = await Grant.get(id=record.grant_id)
    return None if grant.revoked_at is not None else record


async def revoke(grant_id: int, why: str) -> None:
    """Revoke a grant and everything issued under it, in one transaction."""
    now = datetime.now(UTC)
    async with in_transaction():
        await Grant.filter(id=grant_id, revoked_at=None).update(revoked_at=now, revoked_why=why)
        await RefreshToken.filter(grant_id=grant_id, revoked_at=None).update(revoked_at=now)
        await AccessToken.filter(grant_id=grant_id, revoked_at=None).update(revoked_at=now)
