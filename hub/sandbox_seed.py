"""In sandbox mode the card registry holds the sandbox personas, so tokens can speak for them."""

from __future__ import annotations

from datetime import date, timedelta

from auth import registry
from sandbox.personas import PERSONAS


async def seed_registry() -> int:
    return await registry.seed(
        (
            p.card_number,
            p.name,
            p.username,
            date(2017, 3, 1) + timedelta(days=int(p.card_number[-4:]) * 37),
            int(p.card_number[-1]) % 2 == 1,
        )
        for p in PERSONAS
    )
