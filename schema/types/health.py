from __future__ import annotations

from datetime import date

import strawberry

from connectors import domain
from schema.context import Info
from schema.pagination import Page, paginate
from schema.types.common import SectionMeta

strawberry.enum(domain.VisitKind)


@strawberry.type
class Visit:
    on: date
    facility: str
    department: str
    kind: domain.VisitKind

    @classmethod
    def from_domain(cls, v: domain.Visit) -> Visit:
        return cls(on=v.on, facility=v.facility, department=v.department, kind=v.kind)


@strawberry.type
class Vaccination:
    vaccine: str
    dose: int
    on: date

    @classmethod
    def from_domain(cls, v: domain.Vaccination) -> Vaccination:
        return cls(vaccine=v.vaccine, dose=v.dose, on=v.on)


@strawberry.type(description="The hospital health card. Scope `health` (sensitive).")
class HealthSection:
    health_card_number: str
    registered_clinic: str | None = strawberry.field(description="Null when not registered with a family clinic.")
    meta: SectionMeta
    _visits: strawberry.Private[tuple[domain.Visit, ...]]
    _vaccinations: strawberry.Private[tuple[domain.Vaccination, ...]]

    @strawberry.field(description="Hospital and clinic visits, newest first.")
    def visits(self, info: Info, first: int | None = None, after: str | None = None) -> Page[Visit]:
        return paginate(info, self._visits, Visit.from_domain, first, after)

    @strawberry.field(description="Vaccinations, newest first.")
    def vaccinations(self, info: Info, first: int | None = None, after: str | None = None) -> Page[Vaccination]:
        return paginate(info, self._vaccinations, Vaccination.from_domain, first, after)

    @classmethod
    def from_domain(cls, h: domain.Health) -> HealthSection:
        return cls(
            health_card_number=h.health_card_number,
            registered_clinic=h.registered_clinic,
            meta=SectionMeta.from_domain(h.meta),
            _visits=h.visits,
            _vaccinations=h.vaccinations,
        )
