from __future__ import annotations

from datetime import date

import strawberry

from connectors import domain
from schema.context import Info
from schema.pagination import Page, paginate
from schema.types.common import Money, SectionMeta, money


@strawberry.type
class LibraryLoan:
    title: str
    borrowed_on: date
    due_date: date
    overdue: bool

    @classmethod
    def from_domain(cls, loan: domain.LibraryLoan) -> LibraryLoan:
        return cls(title=loan.title, borrowed_on=loan.borrowed_on, due_date=loan.due_date, overdue=loan.overdue)


@strawberry.type
class Reservation:
    title: str
    reserved_on: date
    ready_for_pickup: bool

    @classmethod
    def from_domain(cls, r: domain.Reservation) -> Reservation:
        return cls(title=r.title, reserved_on=r.reserved_on, ready_for_pickup=r.ready_for_pickup)


@strawberry.type(description="The public library card. Scope `library`.")
class LibrarySection:
    card_number: str
    fines: Money = strawberry.field(description="Outstanding fines.")
    meta: SectionMeta
    _loans: strawberry.Private[tuple[domain.LibraryLoan, ...]]
    _reservations: strawberry.Private[tuple[domain.Reservation, ...]]

    @strawberry.field(description="Books on loan.")
    def loans(self, info: Info, first: int | None = None, after: str | None = None) -> Page[LibraryLoan]:
        return paginate(info, self._loans, LibraryLoan.from_domain, first, after)

    @strawberry.field
    def reservations(self, info: Info, first: int | None = None, after: str | None = None) -> Page[Reservation]:
        return paginate(info, self._reservations, Reservation.from_domain, first, after)

    @classmethod
    def from_domain(cls, lib: domain.Library) -> LibrarySection:
        return cls(
            card_number=lib.card_number,
            fines=money(lib.fines),
            meta=SectionMeta.from_domain(lib.meta),
            _loans=lib.loans,
            _reservations=lib.reservations,
        )
