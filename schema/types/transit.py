from __future__ import annotations

from datetime import datetime

import strawberry

from connectors import domain
from schema.context import Info
from schema.pagination import Page, paginate
from schema.types.common import Money, SectionMeta, money

strawberry.enum(domain.Concession)
strawberry.enum(domain.TripMode)


@strawberry.type
class Trip:
    at: datetime
    mode: domain.TripMode
    line: str
    entry_stop: str
    exit_stop: str | None = strawberry.field(description="Null on flat-fare lines, where no exit is recorded.")
    fare: Money

    @classmethod
    def from_domain(cls, t: domain.Trip) -> Trip:
        return cls(
            at=t.at, mode=t.mode, line=t.line, entry_stop=t.entry_stop, exit_stop=t.exit_stop, fare=money(t.fare)
        )


@strawberry.type(description="The e-tong transit card. Scope `transit`.")
class TransitSection:
    card_number: str = strawberry.field(description="The e-tong card number (not the citizen card number).")
    balance: Money = strawberry.field(description="May be zero or negative: e-tong cards allow an overdraft.")
    concession: domain.Concession
    meta: SectionMeta
    _trips: strawberry.Private[tuple[domain.Trip, ...]]

    @strawberry.field(description="Recent trips, newest first.")
    def trips(self, info: Info, first: int | None = None, after: str | None = None) -> Page[Trip]:
        return paginate(info, self._trips, Trip.from_domain, first, after)

    @classmethod
    def from_domain(cls, t: domain.Transit) -> TransitSection:
        return cls(
            card_number=t.card_number,
            balance=money(t.balance),
            concession=t.concession,
            meta=SectionMeta.from_domain(t.meta),
            _trips=t.trips,
        )
