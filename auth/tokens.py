"""Bearer access tokens (RFC 6750): opaque, random, and stored only as a SHA-256 hash.

Until the authorization server lands, tokens are minted in sandbox mode by ``cardhub token``
for the sandbox console client. A token names its client, optionally a citizen, and its scopes.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.expressions import Q
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from auth import clients
from auth.epoch import NO_FENCE, Fence
from auth.principal import Principal

TOKEN_PREFIX = "chb_"  # makes leaked tokens easy to find with secret scanners
SANDBOX_CONSOLE_CLIENT = "sandbox-console"
MAX_TOKEN_LENGTH = 256


class InvalidToken(Exception):
    """RFC 6750 section 3.1 ``invalid_token``: malformed, unknown, expired or revoked."""

    error = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessToken(Model):
    id = fields.BigIntField(primary_key=True)  # one per issue and refresh: past 2**31 within a year in a city
    token_hash = fields.CharField(max_length=64, unique=True)  # authenticate(), revocation: by hash
    client_id = fields.CharField(max_length=64)
    citizen = fields.CharField(max_length=20, null=True)
    scope = fields.TextField()  # space-separated
    issued_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    # The OAuth grant it came from (auth/oauth/grants.py); indexed for grants.revoke(), which revokes
    # every token of a grant.
    grant_id = fields.BigIntField(null=True, db_index=True)

    class Meta:
        table = "access_token"
        indexes = (
            # consent.revoke(): withdrawing a consent revokes the citizen's tokens for that client.
            Index(fields=("citizen", "client_id"), name="access_token_citizen_client"),
            # prune(): housekeeping deletes by these, in bounded batches.
            Index(fields=("expires_at",), name="access_token_expires"),
            Index(fields=("revoked_at",), name="access_token_revoked"),
        )


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def issue(
    client_id: str, scopes: frozenset[str], citizen: str | None, ttl_seconds: int, grant_id: int | None = None
) -> str:
    raw = new_token()
    await store(raw, client_id, scopes, citizen, ttl_seconds, grant_id)
    return raw


async def store(
    raw: str, client_id: str, scopes: frozenset[str], citizen: str | None, ttl_seconds: int, grant_id: int | None
) -> None:
    await row(raw, client_id, scopes, citizen, ttl_seconds, grant_id).save()


def row(
    raw: str, client_id: str, scopes: frozenset[str], citizen: str | None, ttl_seconds: int, grant_id: int | None
) -> AccessToken:
    """The token's row, not yet saved (``store`` saves it; a group commit may insert it with others)."""
    now = datetime.now(UTC)
    return AccessToken(
        token_hash=hash_token(raw),
        client_id=client_id,
        citizen=citizen,
        scope=" ".join(sorted(scopes)),
        issued_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
        grant_id=grant_id,
    )


@dataclass(frozen=True, slots=True)
class _Held:
    """What authenticate() needs of a token row, as remembered between requests (auth/epoch.py)."""

    token_id: int
    client_id: str
    citizen: str | None
    scopes: frozenset[str]
    expires_at: datetime
    revoked: bool
    client_disabled: bool


async def authenticate(raw: str, fence: Fence = NO_FENCE) -> Principal:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > MAX_TOKEN_LENGTH or not raw.isascii():
        raise InvalidToken("malformed token")
    digest = hash_token(raw)
    held = await fence.lookup(("token", digest), lambda: _held(digest), keep_none=False)
    if held is None:  # unknown tokens are not remembered: memory stays bounded by real tokens
        raise InvalidToken("unknown token")
    if held.revoked:
        raise InvalidToken("token revoked")
    if held.expires_at <= datetime.now(UTC):
        raise InvalidToken("token expired")
    # Disabling a client revokes its tokens; this also refuses one issued while the disable ran.
    if held.client_disabled:
        raise InvalidToken("client disabled")
    return Principal(client_id=held.client_id, scopes=held.scopes, citizen=held.citizen, token_id=str(held.token_id))


async def _held(digest: str) -> _Held | None:
    record = await AccessToken.get_or_none(token_hash=digest)
    if record is None:
        return None
    disabled = record.revoked_at is None and await clients.is_disabled(record.client_id)
    return _Held(
        token_id=record.id,
        client_id=record.client_id,
        citizen=record.citizen,
        scopes=frozenset(record.scope.split()),
        expires_at=record.expires_at,
        revoked=record.revoked_at is not None,
        client_disabled=disabled,
    )


async def prune(before: datetime, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` tokens that expired or were revoked before ``before``: (found, deleted).

    Idempotent and safe to run in several processes at once: a row another run deleted first is
    simply not counted here.
    """
    stale = Q(expires_at__lt=before) | Q(revoked_at__lt=before)
    ids = await AccessToken.filter(stale).limit(limit).values_list("id", flat=True)
    if not ids:
        return 0, 0
    async with in_transaction() as connection:
        deleted: int = await AccessToken.filter(id__in=ids).using_db(connection).delete()
        if connection.capabilities.dialect == "sqlite":
            # SQLite's count takes in what the revocation-epoch triggers changed (hub/migrations/0008);
            # changes() is the statement's own rows.
            _, rows = await connection.execute_query("SELECT changes() AS n")
            deleted = int(rows[0]["n"])
    return len(ids), deleted
