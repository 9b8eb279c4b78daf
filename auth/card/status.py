"""A card's status as it bears on the virtual card: only an active card gets credentials.

The status lives in the card registry (``auth.registry.Card.status``): reported lost is SUSPENDED,
cancelled is REVOKED. Credentials already out are not recalled: they expire within their lifetime
(at most five minutes), which is why the lifetime is short.
"""

from __future__ import annotations

from auth.card.errors import CardNotActive, CardNotFound, CardStatusError
from auth.registry import Card, CardStatus

# The operator's words (``cardhub card status CARD lost``) and the registry's.
WORDS: dict[str, CardStatus] = {
    "active": CardStatus.ACTIVE,
    "lost": CardStatus.SUSPENDED,
    "cancelled": CardStatus.REVOKED,
}


async def usable_card(card_number: str) -> Card:
    """The citizen's card if it may have credentials; CardNotFound or CardNotActive otherwise."""
    card = await Card.get_or_none(citizen_id=card_number)
    if card is None:
        raise CardNotFound()
    if card.status is not CardStatus.ACTIVE:
        raise CardNotActive(card.status.value)
    return card


async def set_status(card_number: str, status: CardStatus) -> tuple[CardStatus, CardStatus]:
    """Change the card's status; returns (before, after). A cancelled card stays cancelled: a
    replacement is a new card."""
    card = await Card.get_or_none(citizen_id=card_number)
    if card is None:
        raise CardStatusError(f"no card {card_number!r} in the registry")
    before = card.status
    changing = Card.filter(citizen_id=card_number)
    if status is not CardStatus.REVOKED:  # in the same statement, so no cancellation is lost to a race
        changing = changing.exclude(status=CardStatus.REVOKED)
    if not await changing.update(status=status):
        raise CardStatusError(f"card {card_number} is cancelled; a cancelled card cannot be made {status.value}")
    return before, status
