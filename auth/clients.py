"""Registered clients: the apps and agencies that may ask for citizen data (RFC 6749 section 2).

A client has a type (RFC 6749 section 2.1: public apps cannot keep a secret; confidential apps and
agencies can), exact redirect URIs (RFC 6749 section 3.1.2), the scopes it may ever ask for, and the
purpose shown to citizens on the consent screen. Secrets are returned once and stored only hashed.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from urllib.parse import urlsplit

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from auth import scopes as scope_catalogue

SECRET_PREFIX = "chs_"
_SLUG = re.compile(r"[^a-z0-9]+")
_AGENCY_ID = re.compile(r"[a-z][a-z0-9_]{1,39}")


class ClientType(enum.StrEnum):
    PUBLIC = "public"  # a mobile or browser app: no secret, PKCE only
    CONFIDENTIAL = "confidential"  # a server-side app with a secret
    AGENCY = "agency"  # an agency's system: a secret, client credentials for its own operations


class ClientError(ValueError):
    """A client registration that cannot be accepted; the message says which field and why."""


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

    class Meta:
        table = "client"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    def check_secret(self, presented: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(self.secret_hash, hash_secret(presented))


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
    return await Client.get_or_none(client_id=client_id)
