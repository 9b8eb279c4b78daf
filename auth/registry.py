"""The citizen card registry: who the citizens are and the state of their cards.

The hub's own store (the citizen card centre's), not an agency's. Tokens speak for a citizen by
card number; ``Query.me`` and ``Query.citizen`` start here before any agency is asked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date
from typing import cast

from tortoise import fields
from tortoise.models import Model
from tortoise.transactions import in_transaction

from auth.epoch import NO_FENCE, Fence


class CardStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"  # reported lost, awaiting replacement
    REVOKED = "REVOKED"


class Citizen(Model):
    card_number = fields.CharField(max_length=20, primary_key=True)
    name = fields.CharField(max_length=64)
    username = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "citizen"


class Card(Model):
    citizen: fields.OneToOneRelation[Citizen] = fields.OneToOneField(
        "models.Citizen", related_name="card", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(CardStatus, max_length=16, default=CardStatus.ACTIVE)
    issued_on = fields.DateField()
    virtual_card = fields.BooleanField(default=False)

    class Meta:
        table = "card"


async def find_citizen(card_number: str, fence: Fence = NO_FENCE) -> Citizen | None:
    """The citizen, from memory when the request's fence allows (auth/epoch.py). Callers only read it."""
    return await fence.lookup(("citizen", card_number), lambda: Citizen.get_or_none(card_number=card_number))


async def seed(entries: Iterable[tuple[str, str, str, date, bool]]) -> int:
    """Insert (card_number, name, username, issued_on, virtual_card) rows that are missing. Returns count."""
    existing = cast(list[str], await Citizen.all().values_list("card_number", flat=True))
    known = set(existing)
    added = 0
    for card_number, name, username, issued_on, virtual in entries:
        if card_number in known:
            continue
        async with in_transaction():  # a citizen without a card would break Query.me
            citizen = await Citizen.create(card_number=card_number, name=name, username=username)
            await Card.create(citizen=citizen, issued_on=issued_on, virtual_card=virtual)
        added += 1
    return added
