"""Registered clients: the apps and agencies that may ask for citizen data (RFC 6749 section 2).

A client has a type (RFC 6749 section 2.1: public apps cannot keep a secret; confidential apps and
agencies can), exact redirect URIs (RFC 6749 section 3.1.2), the scopes it may ever ask for, and the
purpose shown to citizens on the consent screen. Secrets are returned once and stored only hashed.

Operators manage clients over their life (``cardhub clients``, docs/operations.md "Client management"):
a client may be disabled and enabled again; its secret rotated, the previous one optionally accepted
for a grace period (hashed too, with its expiry); and deleted. A deleted client is a tombstone, not a
missing row: disabled for good, its secrets cleared, its name and purpose kept, so the consents and the
access log that name it stay readable and its id is never given to another app. What disabling and
deleting do to the client's tokens is ``auth/oauth/client_management.py``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from auth import scopes as scope_catalogue

SECRET_PREFIX = "chs_"
_SLUG = re.compile(r"[^a-z0-9]+")
_AGENCY_ID = re.compile(r"[a-z][a-z0-9_]{1,39}")
MAX_SECRET_GRACE = timedelta(days=30)  # a rotation's grace is for rolling out the new secret, not a second secret


class ClientType(enum.StrEnum):
    PUBLIC = "public"  # a mobile or browser app: no secret, PKCE only
    CONFIDENTIAL = "confidential"  # a server-side app with a secret
    AGENCY = "agency"  # an agency's system: a secret, client credentials for its own operations


class ClientError(ValueError):
    """A client registration or change that cannot be accepted; the message says which field and why."""

    code = "invalid_client_metadata"  # RFC 7591 section 3.2.2


class UnknownClient(ClientError):
    code = "unknown_client"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"no client {client_id!r}; see: cardhub clients list")


class ClientDeleted(ClientError):
    code = "client_deleted"

    def __init__(self, client_id: str) -> None:
        super().__init__(f"client {client_id!r} is deleted: a deleted client stays deleted (register a new one)")


class NoSecret(ClientError):
    code = "public_client"

    def __init__(self, client_id: str) -> None:
        super().__init__(
            f"client {client_id!r} is a public client: it has no secret to rotate (RFC 6749 section 2.1; "
            "it proves itself with PKCE)"
        )


class ClientState(enum.StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # refused at every endpoint, its tokens revoked; may be enabled again
    DELETED = "deleted"  # disabled for good, secrets cleared; the row stays for the history naming it


class Client(Model):
    client_id = fields.CharField(max_length=64, primary_key=True)
    name = fields.CharField(max_length=128)
    type = fields.CharEnumField(ClientType, max_length=16)
    secret_hash = fields.CharField(max_length=64, null=True)
    redirect_uris: fields.Field[list[str]] = fields.JSONField(default=list)
    scope = fields.TextField()  # space-separated: the most it may ever ask for
    purpose = fields.TextField()
    # The city's own apps (the citizen card app): they may show and manage a citizen's consents and
    # access log for the citizen. A third-party app never may, whatever its scopes.
    first_party = fields.BooleanField(default=False)
    # An agency client's agency id: the connectors it may manage (connectors:manage). None for apps.
    agency = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField()
    disabled_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    # After a rotation with a grace period: the secret it replaced, accepted until the expiry.
    previous_secret_hash = fields.CharField(max_length=64, null=True)
    previous_secret_expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "client"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def state(self) -> ClientState:
        if self.deleted_at is not None:
            return ClientState.DELETED
        return ClientState.ACTIVE if self.disabled_at is None else ClientState.DISABLED

    def check_secret(self, presented: str, now: datetime | None = None) -> bool:
        if self.secret_hash is None:
            return False
        presented_hash = hash_secret(presented)
        if hmac.compare_digest(self.secret_hash, presented_hash):
            return True
        if self.previous_secret_hash is None or self.previous_secret_expires_at is None:
            return False
        in_grace = self.previous_secret_expires_at > (now or datetime.now(UTC))
        return hmac.compare_digest(self.previous_secret_hash, presented_hash) and in_grace


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits: a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(secret.encode()).hexdigest()


def check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        if parts.fragment:
            raise ClientError(f"redirect URI {uri!r}: must not have a fragment (RFC 6749 section 3.1.2)")
        if not parts.netloc:
            raise ClientError(f"redirect URI {uri!r}: no host")
        return uri
    if parts.scheme and "." in parts.scheme and parts.scheme not in ("http", "https"):
        return uri  # a private-use scheme of a mobile app, RFC 8252 section 7.1 (com.example.app:/cb)
    raise ClientError(f"redirect URI {uri!r}: must be https, http on loopback, or an app's reverse-DNS scheme")


async def create(
    name: str,
    client_type: ClientType,
    redirect_uris: list[str],
    scopes: frozenset[str],
    purpose: str,
    client_id: str | None = None,
    first_party: bool = False,
    agency: str | None = None,
) -> tuple[Client, str | None]:
    """Register a client. Returns it and its secret (None for public clients): shown once, never again."""
    if not name.strip():
        raise ClientError("name: must not be empty")
    if not purpose.strip():
        raise ClientError("purpose: citizens are shown it on the consent screen; it must not be empty")
    if not scopes:
        raise ClientError("scope: at least one")
    unknown = scopes - scope_catalogue.READ_SCOPES - set(scope_catalogue.CLIENT_SCOPES)
    if unknown:
        raise ClientError(f"scope: unknown {sorted(unknown)}")
    operations = scopes & set(scope_catalogue.CLIENT_SCOPES)
    if operations and client_type is not ClientType.AGENCY:
        raise ClientError(f"scope: {', '.join(sorted(operations))} is for agency clients only")
    if agency is not None and (client_type is not ClientType.AGENCY or not _AGENCY_ID.fullmatch(agency)):
        raise ClientError("agency: only an agency client has one, an id like 'transit' (a-z, 0-9, _)")
    if "connectors:manage" in scopes and agency is None:
        raise ClientError("agency: connectors:manage needs the agency whose connectors the client manages")
    uris = [check_redirect_uri(u) for u in redirect_uris]
    if client_type is not ClientType.AGENCY and not uris:
        raise ClientError("redirect-uri: apps need at least one")
    secret = None if client_type is ClientType.PUBLIC else SECRET_PREFIX + secrets.token_urlsafe(32)
    client_id = client_id or f"{_SLUG.sub('-', name.lower()).strip('-')[:40] or 'client'}-{secrets.token_hex(4)}"
    try:
        client = await Client.create(
            client_id=client_id,
            name=name.strip(),
            type=client_type,
            secret_hash=hash_secret(secret) if secret else None,
            redirect_uris=uris,
            scope=" ".join(sorted(scopes)),
            purpose=purpose.strip(),
            first_party=first_party,
            agency=agency,
            created_at=datetime.now(UTC),
        )
    except IntegrityError:
        raise ClientError(f"client_id {client_id!r} is taken") from None
    return client, secret


async def find(client_id: str) -> Client | None:
    """The client, whatever its state (consent history shows a deleted client's name too)."""
    return await Client.get_or_none(client_id=client_id)


async def find_active(client_id: str) -> Client | None:
    """The client if it may use the hub now: neither disabled nor deleted."""
    return await Client.get_or_none(client_id=client_id, disabled_at=None)


async def is_disabled(client_id: str) -> bool:
    """Whether the client is disabled or deleted (a token naming no registered client is not)."""
    return await Client.filter(client_id=client_id).exclude(disabled_at=None).exists()


async def get(client_id: str) -> Client:
    client = await find(client_id)
    if client is None:
        raise UnknownClient(client_id)
    return client


async def listed(include_deleted: bool = False) -> list[Client]:
    query = Client.all() if include_deleted else Client.filter(deleted_at=None)
    return await query.order_by("created_at", "client_id")


async def set_disabled(client_id: str, disabled: bool, now: datetime) -> Client:
    """Disable or enable the client's record only; ``client_management`` revokes what it holds."""
    client = await get(client_id)
    if client.state is ClientState.DELETED:
        raise ClientDeleted(client_id)
    client.disabled_at = now if disabled else None
    await client.save(update_fields=["disabled_at"])
    return client


async def tombstone(client_id: str, now: datetime) -> Client:
    """Mark the client deleted: disabled for good, secrets cleared, name and purpose kept."""
    client = await get(client_id)
    if client.state is ClientState.DELETED:
        return client
    client.disabled_at = client.disabled_at or now
    client.deleted_at = now
    client.secret_hash = client.previous_secret_hash = client.previous_secret_expires_at = None
    await client.save(
        update_fields=["disabled_at", "deleted_at", "secret_hash", "previous_secret_hash", "previous_secret_expires_at"]
    )
    return client


async def rotate_secret(client_id: str, grace: timedelta = timedelta(0)) -> tuple[Client, str]:
    """A new secret for the client, returned once. With a grace, the current one stays valid that long.

    Only one previous secret is kept: rotating again within a grace ends the older one's grace.
    """
    if grace < timedelta(0) or grace > MAX_SECRET_GRACE:
        raise ClientError(f"grace: from 0 to {int(MAX_SECRET_GRACE.total_seconds())} seconds (30 days)")
    client = await get(client_id)
    if client.state is ClientState.DELETED:
        raise ClientDeleted(client_id)
    if client.type is ClientType.PUBLIC or client.secret_hash is None:
        raise NoSecret(client_id)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    if grace > timedelta(0):
        client.previous_secret_hash = client.secret_hash
        client.previous_secret_expires_at = datetime.now(UTC) + grace
    else:
        client.previous_secret_hash = client.previous_secret_expires_at = None
    client.secret_hash = hash_secret(secret)
    await client.save(update_fields=["secret_hash", "previous_secret_hash", "previous_secret_expires_at"])
    return client, secret
