"""Security Event Tokens for data users: what changed in a consent, told to the client it was given to.

A client registers an event stream (``cardhub clients events``, or ``registerEventStream`` for agency
clients): a push endpoint, or none to poll. Every withdrawal, narrowing, pause, resume and expiry of
one of its consents then puts one event in the outbox (``SecurityEvent``), in the same transaction as
the change (``auth/consent.py``): a change is never committed without its event, and the hub can stop
at any moment without losing one.

Each event is a SET (RFC 8417): a JWS (``auth/jws.py``, alg ``Ed25519``, ``typ`` ``secevent+jwt``)
under the events key, ``aud`` the client, ``jti`` unique (the receiver's de-duplication key), with
one event of the hub's type ``CONSENT_EVENT`` whose payload follows India's Account Aggregator
``ConsentStatusNotification``. The hub delivers them in order per client, at least once: by push
(RFC 8935, ``hub/event_delivery.py``) while the client's endpoint answers, and by poll (RFC 8936,
``poll``) at any time. A push endpoint that keeps failing is marked ``failing`` after
``max_attempts`` tries and is not pushed to again until it is registered anew; its events wait for
a poll.
"""

from __future__ import annotations

import enum
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import fields
from tortoise.expressions import Q
from tortoise.indexes import Index
from tortoise.models import Model

from auth import jws
from connectors.outbound import OutboundPolicy, OutboundRefused
from keys.keyring import KeySet
from keys.signing import Signer

CONSENT_EVENT = "urn:cardhub:secevent:consent-status"
SET_TYPE = "secevent+jwt"  # RFC 8417 section 2.3
# The consent changes a data user must hear of; grants and renewals are the client's own doing.
NOTIFIED = frozenset({"REVOKED", "NARROWED", "PAUSED", "RESUMED", "EXPIRED"})
MAX_POLL = 100
JWKS_PATH = "/.well-known/cardhub-event-keys"
SIGNING_LABEL = "security event"


class StreamState(enum.StrEnum):
    ENABLED = "enabled"
    FAILING = "failing"  # push gave up after max_attempts; events wait for a poll or a new registration


class EventStreamError(ValueError):
    """A push endpoint the hub will not register; the message says why."""


class EventStream(Model):
    """A client's registration for events (SSF calls it a stream): where to push them, if anywhere."""

    id = fields.IntField(primary_key=True)
    client_id = fields.CharField(max_length=64, unique=True)
    push_url = fields.TextField(default="")  # "": the client polls
    state = fields.CharEnumField(StreamState, max_length=16, default=StreamState.ENABLED)
    failures = fields.IntField(default=0)  # failed pushes in a row
    retry_at = fields.DatetimeField(null=True)  # no push before this (back-off)
    leased_until = fields.DatetimeField(null=True)  # one hub instance pushes a stream at a time
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "event_stream"


class SecurityEvent(Model):
    """The outbox: one SET per client and change, signed when it is sent."""

    id = fields.BigIntField(primary_key=True)  # the order of delivery, per client
    client_id = fields.CharField(max_length=64)
    jti = fields.CharField(max_length=64, unique=True)
    claims = fields.TextField()  # JSON: the SET's claims less "iss" (added when signed)
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)
    delivered_by = fields.CharField(max_length=8, default="")  # push or poll
    attempts = fields.IntField(default=0)

    class Meta:
        table = "security_event"
        # A client's events in order (push and poll): client_id = ? AND delivered_at IS NULL ORDER BY id.
        indexes = (Index(fields=("client_id", "id"), name="security_event_client_id"),)

    def claims_for(self, issuer: str) -> dict[str, Any]:
        claims: dict[str, Any] = json.loads(self.claims)
        return {"iss": issuer, **claims}


class EventSigner:
    """Signs outbox events as SETs under the events key (``CARDHUB_EVENTS_KEY``)."""

    def __init__(self, keys: KeySet, issuer: str) -> None:
        self.issuer = issuer
        self.signer = Signer(keys, SIGNING_LABEL)

    def sign(self, event: SecurityEvent) -> str:
        return jws.sign(self.signer, event.claims_for(self.issuer), SET_TYPE)

    def jwks(self) -> dict[str, Any]:
        return jws.jwks(self.signer)


@dataclass(frozen=True, slots=True)
class ConsentChange:
    client_id: str
    citizen: str
    consent_id: int
    action: str
    status: str
    scopes: frozenset[str]
    withdrawn: frozenset[str]
    at: datetime
    expires_at: datetime


def set_claims(change: ConsentChange, jti: str) -> dict[str, Any]:
    """The SET claims (RFC 8417 section 2.2) less ``iss``; the subject as RFC 9493 ``opaque``."""
    return {
        "jti": jti,
        "iat": int(change.at.timestamp()),
        "aud": change.client_id,
        "sub_id": {"format": "opaque", "id": change.citizen},
        "events": {
            CONSENT_EVENT: {
                # Account Aggregator's ConsentStatusNotification: the consent and its status now.
                "consent_status_notification": {"consent_id": str(change.consent_id), "consent_status": change.status},
                "change": change.action,
                "scopes": sorted(change.scopes),
                "withdrawn_scopes": sorted(change.withdrawn),
                "expires_at": int(change.expires_at.timestamp()),
                "event_timestamp": int(change.at.timestamp()),
            }
        },
    }


async def consent_changed(change: ConsentChange) -> SecurityEvent | None:
    """Put the change in the client's outbox, if the client has a stream. Runs in the caller's transaction."""
    if change.action not in NOTIFIED or not await EventStream.exists(client_id=change.client_id):
        return None
    jti = secrets.token_hex(16)
    return await SecurityEvent.create(
        client_id=change.client_id, jti=jti, claims=json.dumps(set_claims(change, jti)), created_at=change.at
    )


async def register(client_id: str, push_url: str, outbound: OutboundPolicy, now: datetime | None = None) -> EventStream:
    """Register (or replace) the client's stream; ``push_url`` "" means poll only. A new registration
    starts afresh: a failing stream is pushed to again, from its oldest undelivered event."""
    push_url = push_url.strip()
    if push_url:
        if len(push_url) > 2000:
            raise EventStreamError("the push URL is longer than 2000 characters")
        try:
            outbound.check_url(push_url)  # the same rules as agency calls: no internal addresses outside sandbox
        except OutboundRefused as exc:
            raise EventStreamError(f"the hub does not push events to {exc}") from None
    now = now or datetime.now(UTC)
    stream = await EventStream.get_or_none(client_id=client_id)
    if stream is None:
        return await EventStream.create(client_id=client_id, push_url=push_url, created_at=now, updated_at=now)
    stream.push_url, stream.state, stream.failures, stream.retry_at = push_url, StreamState.ENABLED, 0, None
    stream.last_error, stream.updated_at = "", now
    await stream.save()
    return stream


async def unregister(client_id: str) -> bool:
    """Stop recording events for the client; those not yet delivered are dropped."""
    deleted = await EventStream.filter(client_id=client_id).delete()
    await SecurityEvent.filter(client_id=client_id, delivered_at=None).delete()
    return bool(deleted)


async def stream_of(client_id: str) -> EventStream | None:
    return await EventStream.get_or_none(client_id=client_id)


async def pending(client_id: str, limit: int) -> list[SecurityEvent]:
    """The client's undelivered events, oldest first."""
    return await SecurityEvent.filter(client_id=client_id, delivered_at=None).order_by("id").limit(limit)


async def acknowledge(client_id: str, jtis: Iterable[str], by: str, now: datetime | None = None) -> int:
    """Mark the client's events delivered (a 202 to a push, an ack in a poll). Another client's are untouched."""
    wanted = [j for j in jtis if isinstance(j, str)][:MAX_POLL]
    if not wanted:
        return 0
    return await SecurityEvent.filter(client_id=client_id, jti__in=wanted, delivered_at=None).update(
        delivered_at=now or datetime.now(UTC), delivered_by=by
    )


async def lease(stream: EventStream, seconds: float, now: datetime) -> bool:
    """Take the stream for one push round; False when another instance holds it."""
    free = Q(leased_until__isnull=True) | Q(leased_until__lt=now)
    return bool(await EventStream.filter(free, id=stream.id).update(leased_until=now + timedelta(seconds=seconds)))


async def release(stream: EventStream) -> None:
    await EventStream.filter(id=stream.id).update(leased_until=None)


async def pushable(now: datetime) -> list[EventStream]:
    """Streams with a push endpoint, not failing, not backing off."""
    due = Q(retry_at__isnull=True) | Q(retry_at__lte=now)
    return await EventStream.filter(due, state=StreamState.ENABLED).exclude(push_url="").order_by("id")


async def push_failed(
    stream: EventStream, event: SecurityEvent, error: str, retry_at: datetime, max_attempts: int
) -> bool:
    """Record a failed push; True when the stream is now marked failing."""
    failures = stream.failures + 1
    failing = failures >= max_attempts
    await SecurityEvent.filter(id=event.id).update(attempts=event.attempts + 1)
    await EventStream.filter(id=stream.id).update(
        failures=failures,
        retry_at=None if failing else retry_at,
        state=StreamState.FAILING if failing else StreamState.ENABLED,
        last_error=error[:500],
        updated_at=datetime.now(UTC),
    )
    return failing


async def push_succeeded(stream: EventStream, event: SecurityEvent, now: datetime) -> None:
    await SecurityEvent.filter(id=event.id).update(delivered_at=now, delivered_by="push", attempts=event.attempts + 1)
    if stream.failures:
        await EventStream.filter(id=stream.id).update(failures=0, retry_at=None, last_error="", updated_at=now)
        stream.failures = 0
