"""Scalars and small types shared by every section."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NewType

import strawberry

from connectors import domain

Money = NewType("Money", Decimal)

# Registered through StrawberryConfig.scalar_map (schema/schema.py).
MONEY_SCALAR = strawberry.scalar(
    name="Money",
    serialize=str,
    parse_value=lambda value: Decimal(str(value)),
    description='An exact amount in yuan (CNY) as a decimal string with two places, e.g. "12.50" or "-3.00". '
    "Never a float.",
)


def money(value: Decimal) -> Money:
    return Money(value)


@strawberry.type(description="Where a section's data came from and when the hub fetched it.")
class SectionMeta:
    source: str = strawberry.field(description="Agency id, e.g. `transit`.")
    fetched_at: datetime = strawberry.field(description="When the hub read this from the agency.")
    stale: bool = strawberry.field(
        description="True when the agency failed just now and this is the hub's last copy, older than the "
        "agency's cache lifetime (fetchedAt says how old). False for a fresh or cached-within-lifetime answer."
    )

    @classmethod
    def from_domain(cls, meta: domain.SectionMeta) -> SectionMeta:
        return cls(source=meta.source, fetched_at=meta.fetched_at, stale=meta.stale)
