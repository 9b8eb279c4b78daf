"""The card's status as it bears on credentials: lost and cancelled cards get none; cancelled stays."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth.card.errors import CardNotActive, CardNotFound, CardStatusError
from auth.card.status import WORDS, set_status, usable_card
from auth.registry import CardStatus, seed

CARD = "350200000001"


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    async with tortoise_test_context(["auth.registry"]) as ctx:
        await seed([(CARD, "陈美玲", "chenmeiling", date(2020, 1, 1), True)])
        yield ctx


async def test_only_an_active_card_is_usable(db: TortoiseContext) -> None:
    assert (await usable_card(CARD)).status is CardStatus.ACTIVE
    assert await set_status(CARD, WORDS["lost"]) == (CardStatus.ACTIVE, CardStatus.SUSPENDED)
    with pytest.raises(CardNotActive) as refused:
        await usable_card(CARD)
    assert (refused.value.code, refused.value.status) == ("CARD_NOT_ACTIVE", "SUSPENDED")
    with pytest.raises(CardNotFound):
        await usable_card("999999999999")


async def test_a_found_card_is_active_again_and_a_cancelled_one_never(db: TortoiseContext) -> None:
    await set_status(CARD, CardStatus.SUSPENDED)
    assert await set_status(CARD, WORDS["active"]) == (CardStatus.SUSPENDED, CardStatus.ACTIVE)
    assert await set_status(CARD, WORDS["cancelled"]) == (CardStatus.ACTIVE, CardStatus.REVOKED)
    for status in (CardStatus.ACTIVE, CardStatus.SUSPENDED):
        with pytest.raises(CardStatusError, match="cancelled"):
            await set_status(CARD, status)
    assert await set_status(CARD, CardStatus.REVOKED) == (CardStatus.REVOKED, CardStatus.REVOKED)
    with pytest.raises(CardStatusError, match="no card"):
        await set_status("999999999999", CardStatus.SUSPENDED)
