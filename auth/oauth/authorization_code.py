"""Authorization codes (RFC 6749 section 4.1) with PKCE (RFC 7636), S256 only.

A code lives at most 60 seconds and is redeemed once. It is used up only after every binding has been
checked: the client it was issued to, the redirect URI and the PKCE verifier. A copy presented by
another client or without the verifier is refused and leaves the code as it was, so a leaked code
cannot be burnt before its rightful owner redeems it. The claim itself is one conditional UPDATE, in
the transaction that stores the tokens (``server.py``), so two concurrent redemptions cannot both win.

"If an authorization code is used more than once, the authorization server MUST deny the request and
SHOULD revoke (when possible) all tokens previously issued based on that authorization code" (RFC 6749
section 4.1.2): a second redemption that passes every check (the verifier too, so it comes from the
code's holder, not from someone who only saw the code) revokes the grant the first produced.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from auth.oauth import grants

CODE_LIFETIME = timedelta(seconds=60)


class AuthorizationCode(Model):
    id = fields.BigIntField(primary_key=True)  # one per authorization: 64-bit, as for tokens
    code_hash = fields.CharField(max_length=64, unique=True)
    client_id = fields.CharField(max_length=64)
    citizen = fields.CharField(max_length=20)
    redirect_uri = fields.TextField()
    scope = fields.TextField()
    code_challenge = fields.CharField(max_length=128)
    code_challenge_method = fields.CharField(max_length=8)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    grant_id = fields.BigIntField(null=True)  # the grant its tokens belong to, once redeemed

    class Meta:
        table = "authorization_code"
        indexes = (Index(fields=("expires_at",), name="authorization_code_expires"),)  # prune()

    # Authlib's AuthorizationCodeMixin
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


def hash_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def store(code: str, client_id: str, citizen: str, redirect_uri: str, scope: str, challenge: str) -> None:
    await AuthorizationCode.create(
        code_hash=hash_code(code), client_id=client_id, citizen=citizen, redirect_uri=redirect_uri, scope=scope,
        code_challenge=challenge, code_challenge_method="S256", expires_at=datetime.now(UTC) + CODE_LIFETIME,
    )  # fmt: skip


async def find(code: str, client_id: str) -> AuthorizationCode | None:
    """The code issued to this client, unless it expired unused. Looking it up claims nothing."""
    record = await AuthorizationCode.get_or_none(code_hash=hash_code(code), client_id=client_id)
    if record is None or (record.used_at is None and record.expires_at <= datetime.now(UTC)):
        return None
    return record


async def claim(code_id: int) -> bool:
    """Use the code up, once: False when it was used (or expired) meanwhile."""
    now = datetime.now(UTC)
    claimed: int = await AuthorizationCode.filter(id=code_id, used_at=None, expires_at__gt=now).update(used_at=now)
    return claimed == 1


async def replayed(code_id: int) -> None:
    """The code came back after its redemption, with every binding right: revoke what it produced."""
    record = await AuthorizationCode.get_or_none(id=code_id)
    if record is not None and record.used_at is not None and record.grant_id is not None:
        await grants.revoke(record.grant_id, "authorization code reused")


async def attach_grant(code_id: int, grant_id: int) -> None:
    await AuthorizationCode.filter(id=code_id).update(grant_id=grant_id)


async def expire_client(client_id: str) -> None:
    """A disabled client's unredeemed codes expire now (they could not be redeemed while it is disabled)."""
    now = datetime.now(UTC)
    await AuthorizationCode.filter(client_id=client_id, used_at=None, expires_at__gt=now).update(expires_at=now)


async def prune(before: datetime, limit: int) -> tuple[int, int]:
    """Delete up to ``limit`` codes that expired before ``before``, used or not: (found, deleted).

    A used code is kept until then so that its replay still revokes its grant (RFC 6749 section 4.1.2).
    """
    ids = await AuthorizationCode.filter(expires_at__lt=before).limit(limit).values_list("id", flat=True)
    deleted: int = await AuthorizationCode.filter(id__in=ids).delete() if ids else 0
    return len(ids), deleted


class S256Only(CodeChallenge):  # type: ignore[misc]
    """PKCE is required of every client, with S256 only.

    Authlib accepts ``plain`` and treats a missing method as ``plain``; RFC 9700 section 2.1.1 says
    clients SHOULD use S256 and we can insist: plain protects nothing once the request is seen.
    """

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib reads it as a class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge': PKCE with S256 is required")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)
