"""Consent: a citizen's standing permission for one client to read parts of their profile.

A long-lived object, as in India's Account Aggregator framework: ACTIVE, PAUSED, REVOKED or EXPIRED,
with the purpose it was given for, an expiry (180 days by default), and a history of every change.
A pause stops every read at once while the tokens stay alive; resuming lets them read again. Expiry
keeps running during a pause. Each history entry is the basis of a signed receipt (``auth/receipts.py``),
and each change a data user must hear of is put in its event outbox in the same transaction
(``auth/events.py``), so no change is ever committed without its event.
Withdrawing is as easy as granting (PIPL article 15): per consent or per scope. A token is only as
good as the consent behind it: the schema checks both on every request, so a revoke holds on the
very next one. A withdrawal also reaches the OAuth grants it covered (``grants.withdraw``): their
refresh tokens are revoked, or narrowed with the consent, so granting again later starts afresh.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from auth import events
from auth.epoch import NO_FENCE, Fence
from auth.oauth import grants
from auth.tokens import AccessToken

log = logging.getLogger("cardhub.consent")

DEFAULT_LIFETIME = timedelta(days=180)


class ConsentStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"


class ConsentError(ValueError):
    pass


class Consent(Model):
    id = fields.IntField(primary_key=True)
    citizen = fields.CharField(max_length=20)
    client_id = fields.CharField(max_length=64)
    scope = fields.TextField()  # space-separated, the scopes granted and not withdrawn
    revoked_scope = fields.TextField(default="")  # withdrawn one by one, so the hub can say so
    purpose = fields.TextField()
    granted_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    status = fields.CharEnumField(ConsentStatus, max_length=16, default=ConsentStatus.ACTIVE)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "consent"
        # Its unique index serves standing() and grant() (citizen and client) and, as its leading
        # column, for_citizen() (a citizen's consents): no index of its own is needed for either.
        unique_together = (("citizen", "client_id"),)

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    @property
    def revoked_scopes(self) -> frozenset[str]:
        return frozenset(self.revoked_scope.split())


class ConsentEvent(Model):
    """The history: what changed, when, and the scopes after the change."""

    id = fields.BigIntField(primary_key=True)  # one per grant, renewal, change and expiry of 50 million consents
    consent: fields.ForeignKeyRelation[Consent] = fields.ForeignKeyField(
        "models.Consent", related_name="events", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    action = fields.CharField(max_length=16)  # GRANTED, WIDENED, RENEWED, NARROWED, REVOKED, EXPIRED, PAUSED, RESUMED
    scope = fields.TextField()
    # What the consent said after the change, for its receipt (auth/receipts.py); "" and None on
    # entries older than receipts.
    purpose = fields.TextField(default="")
    expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "consent_event"
        indexes = (
            # A consent's history: the consent page (consent_id IN ...) and Consent.history in GraphQL.
            # Foreign keys get no index of their own.
            Index(fields=("consent_id",), name="consent_event_consent"),
        )


@dataclass(frozen=True, slots=True)
class Standing:
    """What a consent allows right now, and why not when it does not."""

    status: ConsentStatus | None  # None: the citizen never consented to this client
    scopes: frozenset[str]
    revoked: frozenset[str]
    granted_at: datetime | None = None  # when this consent was last given afresh (not widened or renewed)

    def allows(self, scope: str) -> bool:
        """Whether a read of ``scope`` may go ahead now (never while paused)."""
        return self.status is ConsentStatus.ACTIVE and scope in self.scopes

    def holds(self, scope: str) -> bool:
        """Whether the consent still covers ``scope``, paused or not: a pause leaves tokens alive."""
        return self.status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED) and scope in self.scopes


NO_CONSENT = Standing(None, frozenset(), frozenset())


def _now() -> datetime:
    return datetime.now(UTC)


async def grant(
    citizen: str, client_id: str, scopes: frozenset[str], purpose: str, lifetime: timedelta = DEFAULT_LIFETIME
) -> Consent:
    """Record the citizen's consent. Adds to an active consent (and renews its expiry); a revoked or
    expired one starts afresh with just these scopes."""
    if not scopes:
        raise ConsentError("a consent needs at least one scope")
    now = _now()
    async with in_transaction():
        consent = await Consent.filter(citizen=citizen, client_id=client_id).select_for_update().first()
        if consent is not None and await _expire_if_due(consent, now):
            consent = await Consent.get(id=consent.id)
        if consent is not None and consent.status is ConsentStatus.PAUSED:
            # Consenting again on the consent screen is the citizen's own resume.
            consent.status, consent.updated_at = ConsentStatus.ACTIVE, now
            await consent.save()
            await _changed(consent, now, "RESUMED")
        if consent is None:
            consent = await Consent.create(
                citizen=citizen, client_id=client_id, scope=_joined(scopes), purpose=purpose,
                granted_at=now, expires_at=now + lifetime, updated_at=now,
            )  # fmt: skip
            action = "GRANTED"
        elif consent.status is ConsentStatus.ACTIVE:
            action = "WIDENED" if scopes - consent.scopes else "RENEWED"
            consent.scope = _joined(consent.scopes | scopes)
            consent.revoked_scope = _joined(consent.revoked_scopes - scopes)
            consent.purpose, consent.expires_at, consent.updated_at = purpose, now + lifetime, now
            await consent.save()
        else:
            consent.scope, consent.revoked_scope, consent.purpose = _joined(scopes), "", purpose
            consent.status, consent.granted_at, consent.expires_at, consent.updated_at = (
                ConsentStatus.ACTIVE, now, now + lifetime, now,
            )  # fmt: skip
            await consent.save()
            action = "GRANTED"
        await _changed(consent, now, action)
    return consent


async def revoke(citizen: str, consent_id: int, scopes: frozenset[str] | None = None) -> Consent:
    """Withdraw a whole consent (scopes None) or some of its scopes. Only the citizen's own."""
    now = _now()
    async with in_transaction():
        consent = await Consent.filter(id=consent_id, citizen=citizen).select_for_update().first()
        if consent is None:
            raise ConsentError("no such consent")  # another citizen's looks exactly like a missing one
        if await _expire_if_due(consent, now):
            consent.status = ConsentStatus.EXPIRED
        if consent.status not in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED):  # a paused one may be withdrawn
            raise ConsentError(f"this consent is already {consent.status.value.lower()}")
        withdrawn = consent.scopes if scopes is None else scopes & consent.scopes
        if not withdrawn:
            raise ConsentError("none of those scopes is granted by this consent")
        remaining = consent.scopes - withdrawn
        consent.scope = _joined(remaining)
        consent.revoked_scope = _joined(consent.revoked_scopes | withdrawn)
        consent.updated_at = now
        if not remaining:
            consent.status = ConsentStatus.REVOKED
            # Tokens die with the consent; narrowed consents are enforced scope by scope instead.
            await AccessToken.filter(citizen=citizen, client_id=consent.client_id, revoked_at=None).update(
                revoked_at=now
            )
        # Refresh tokens could mint new access tokens once the consent is given again: they go now.
        await grants.withdraw(citizen, consent.client_id, None if not remaining else withdrawn, "consent withdrawn")
        await consent.save()
        await _changed(consent, now, "REVOKED" if not remaining else "NARROWED", withdrawn)
    return consent


async def pause(citizen: str, consent_id: int) -> Consent:
    """Stop every read under an active consent until ``resume``. Tokens and grants stay as they are."""
    return await _switch(citizen, consent_id, ConsentStatus.ACTIVE, ConsentStatus.PAUSED, "PAUSED")


async def resume(citizen: str, consent_id: int) -> Consent:
    """Let a paused consent's client read again. A consent that expired meanwhile stays expired."""
    return await _switch(citizen, consent_id, ConsentStatus.PAUSED, ConsentStatus.ACTIVE, "RESUMED")


async def _switch(citizen: str, consent_id: int, before: ConsentStatus, after: ConsentStatus, action: str) -> Consent:
    now = _now()
    async with in_transaction():
        consent = await Consent.filter(id=consent_id, citizen=citizen).select_for_update().first()
        if consent is None:
            raise ConsentError("no such consent")
        if await _expire_if_due(consent, now):
            consent.status = ConsentStatus.EXPIRED
        if consent.status is not before:
            raise ConsentError(f"this consent is {consent.status.value.lower()}, not {before.value.lower()}")
        consent.status, consent.updated_at = after, now
        await consent.save()
        await _changed(consent, now, action)
    return consent


async def expire_due(limit: int = 100) -> int:
    """Mark consents past their expiry EXPIRED now, not at their next read: their clients hear of it
    (``auth/events.py``). Returns how many; the hub runs it with the event delivery."""
    now = _now()
    running = [ConsentStatus.ACTIVE, ConsentStatus.PAUSED]
    due = await Consent.filter(status__in=running, expires_at__lte=now).limit(limit)
    count = 0
    for consent in due:
        count += await _expire_if_due(consent, now)
    return count


async def standing(citizen: str, client_id: str, fence: Fence = NO_FENCE) -> Standing:
    """What the citizen's consent allows the client now; from memory when the fence allows (auth/epoch.py)."""
    held = await fence.lookup(("consent", citizen, client_id), lambda: _held_standing(citizen, client_id))
    if held is None:
        return NO_CONSENT
    now_standing, expires_at = held
    if now_standing.status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED) and expires_at <= _now():
        return await _read_standing(citizen, client_id)  # due: marked EXPIRED in the database, once
    return now_standing


async def _held_standing(citizen: str, client_id: str) -> tuple[Standing, datetime] | None:
    consent = await Consent.get_or_none(citizen=citizen, client_id=client_id)
    if consent is None:
        return None
    return Standing(consent.status, consent.scopes, consent.revoked_scopes, consent.granted_at), consent.expires_at


async def _read_standing(citizen: str, client_id: str) -> Standing:
    consent = await Consent.get_or_none(citizen=citizen, client_id=client_id)
    if consent is None:
        return NO_CONSENT
    if await _expire_if_due(consent, _now()):
        consent.status = ConsentStatus.EXPIRED
    return Standing(consent.status, consent.scopes, consent.revoked_scopes, consent.granted_at)


async def for_citizen(citizen: str) -> list[Consent]:
    consents = await Consent.filter(citizen=citizen).order_by("-updated_at")
    now = _now()
    for consent in consents:
        if await _expire_if_due(consent, now):
            consent.status = ConsentStatus.EXPIRED
    return consents


async def _expire_if_due(consent: Consent, now: datetime) -> bool:
    """Mark an active or paused consent past its expiry EXPIRED (once, with a history entry)."""
    running = (ConsentStatus.ACTIVE, ConsentStatus.PAUSED)
    if consent.status not in running or consent.expires_at > now:
        return False
    async with in_transaction():
        updated = await Consent.filter(id=consent.id, status__in=running).update(
            status=ConsentStatus.EXPIRED, updated_at=now
        )
        if updated:
            consent.status = ConsentStatus.EXPIRED
            await _changed(consent, now, "EXPIRED")
    return True


async def _changed(consent: Consent, now: datetime, action: str, withdrawn: frozenset[str] = frozenset()) -> None:
    """The history entry (a receipt's basis) and, for the client, its security event: one transaction."""
    await ConsentEvent.create(
        consent_id=consent.id, at=now, action=action, scope=consent.scope, purpose=consent.purpose,
        expires_at=consent.expires_at,
    )  # fmt: skip
    await events.consent_changed(
        events.ConsentChange(
            client_id=consent.client_id, citizen=consent.citizen, consent_id=consent.id, action=action,
            status=consent.status.value, scopes=consent.scopes, withdrawn=withdrawn, at=now,
            expires_at=consent.expires_at,
        )
    )  # fmt: skip


def _joined(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))
