"""Which card a subject of the city's identity provider holds.

Either the provider puts the card number in a claim the city and the hub agree on
(``oidc_card_claim``), or the citizen card centre links each subject to a card here
(``cardhub citizens link SUB CARD``). Either way the card must be in the registry: a subject that
maps to no card there logs no one in, and never falls through to another citizen.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.models import Model

from auth import registry

MAX_SUBJECT_LENGTH = 255  # OpenID Connect Core §2: sub "MUST NOT exceed 255 ASCII characters"


class CitizenLink(Model):
    """A subject of one provider (its issuer) linked to one card number."""

    id = fields.BigIntField(primary_key=True)
    issuer = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=MAX_SUBJECT_LENGTH)
    card_number = fields.CharField(max_length=20, db_index=True)
    linked_at = fields.DatetimeField()

    class Meta:
        table = "citizen_link"
        unique_together = (("issuer", "subject"),)


class UnknownCard(ValueError):
    """The card is not in the registry: nothing to link to."""

    code = "unknown_card"


async def link(issuer: str, subject: str, card_number: str) -> CitizenLink:
    """Link (or re-link) ``subject`` to ``card_number``; refused when the registry has no such card."""
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise ValueError(f"a subject is 1-{MAX_SUBJECT_LENGTH} characters")
    if await registry.find_citizen(card_number) is None:
        raise UnknownCard(f"no card {card_number!r} in the registry")
    existing = await CitizenLink.get_or_none(issuer=issuer, subject=subject)
    if existing is not None:
        existing.card_number = card_number
        existing.linked_at = datetime.now(UTC)
        await existing.save(update_fields=["card_number", "linked_at"])
        return existing
    now = datetime.now(UTC)
    return await CitizenLink.create(issuer=issuer, subject=subject, card_number=card_number, linked_at=now)


async def unlink(issuer: str, subject: str) -> bool:
    return await CitizenLink.filter(issuer=issuer, subject=subject).delete() > 0


async def linked(issuer: str) -> list[CitizenLink]:
    return await CitizenLink.filter(issuer=issuer).order_by("subject")


async def card_for(issuer: str, subject: str, claims: Mapping[str, Any], card_claim: str) -> str | None:
    """The card number this subject holds, or None: from ``card_claim`` when set, else from the links."""
    if card_claim:
        value = claims.get(card_claim)
        card = value if isinstance(value, str) else None
    else:
        found = await CitizenLink.get_or_none(issuer=issuer, subject=subject)
        card = found.card_number if found is not None else None
    if card is None or await registry.find_citizen(card) is None:
        return None
    return card
