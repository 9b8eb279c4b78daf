"""Adapter for the Municipal Health Commission's health card platform (市卫健委健康卡平台).

Wire format: docs/agencies/health.md. Three independent resources per resident (card, visits,
vaccinations), fetched concurrently; the two lists are paged with ``page_no``/``page_size``.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar, TypeVar
from urllib.parse import quote

from connectors.base import MAX_ITEMS, Connector, gather_or_cancel
from connectors.domain import Health, Vaccination, Visit, VisitKind
from connectors.errors import AgencyBadResponse
from connectors.formats import date_from, require, require_list, require_str
from connectors.runtime import AgencyResponse

PREFIX = "/health-card/v1/residents"
PAGE_SIZE = 100  # the platform's maximum: fewest round trips
DATE = "%Y-%m-%d"
T = TypeVar("T", Visit, Vaccination)
KINDS = {
    "outpatient": VisitKind.OUTPATIENT,
    "inpatient": VisitKind.INPATIENT,
    "emergency": VisitKind.EMERGENCY,
}


class _NotFound(Exception):
    """The platform has no such resident."""


class HealthConnector(Connector):
    agency: ClassVar[str] = "health"
    name: ClassVar[str] = "市卫健委健康卡平台"

    async def fetch(self, card_number: str) -> Health | None:
        base = f"{PREFIX}/{quote(card_number, safe='')}"
        try:
            resident, visits, vaccinations = await gather_or_cancel(
                self._resident(base, card_number),
                self._all_pages(f"{base}/visits"),
                self._all_pages(f"{base}/vaccinations"),
            )
        except _NotFound:
            return None
        clinic = self.mapped("registered clinic", partial(require, resident, "registered_clinic"))
        clinic_name = None if clinic is None else self.mapped("clinic", partial(require_str, clinic, "clinic_name"))
        return Health(
            health_card_number=self.mapped("health card number", partial(require_str, resident, "health_card_no")),
            registered_clinic=clinic_name,
            visits=_newest_first([self.mapped("visit", partial(_visit, r)) for r in visits]),
            vaccinations=_newest_first([self.mapped("vaccination", partial(_vaccination, r)) for r in vaccinations]),
            meta=self.meta(),
        )

    async def _resident(self, base: str, card_number: str) -> dict[str, object]:
        body = self._ok(await self.client.get(base), "resident")
        if not isinstance(body, dict):
            raise AgencyBadResponse(self.agency, f"unexpected resident: {type(body).__name__}, not an object")
        # A proxy or cache mixing residents up would leak one citizen's records to another.
        if body.get("card_no") != card_number:
            raise AgencyBadResponse(self.agency, "unexpected resident: the answer is for another card number")
        return body

    async def _all_pages(self, path: str) -> list[object]:
        records: list[object] = []
        page_no = 1
        while True:
            body = self._ok(await self.client.get(path, {"page_no": page_no, "page_size": PAGE_SIZE}), path)
            batch, total_pages = self.mapped("page", partial(_page, body))
            records.extend(batch)
            # The platform lists newest first, so stopping at MAX_ITEMS keeps the most recent ones.
            if not batch or page_no >= total_pages or len(records) >= MAX_ITEMS:
                return records[:MAX_ITEMS]
            page_no += 1

    def _ok(self, response: AgencyResponse, what: str) -> object:
        if response.status == 200:
            return response.body
        if response.status == 404 and _error_code(response.body) == "NOT_FOUND":
            raise _NotFound()
        raise self.unexpected(response, what)


def _page(body: object) -> tuple[list[object], int]:
    total_pages = require(body, "total_pages")
    if isinstance(total_pages, bool) or not isinstance(total_pages, int):
        raise ValueError(f"total_pages should be an integer, got {total_pages!r}")
    return require_list(body, "records"), total_pages


def _visit(record: object) -> Visit:
    return Visit(
        on=date_from(require(record, "visit_date"), DATE),
        facility=require_str(record, "facility_name"),
        department=require_str(record, "department_name"),
        kind=KINDS[require_str(record, "visit_type")],
    )


def _vaccination(record: object) -> Vaccination:
    dose = require(record, "dose_no")
    if isinstance(dose, bool) or not isinstance(dose, int) or dose < 1:
        raise ValueError(f"dose_no should be a positive integer, got {dose!r}")
    return Vaccination(
        vaccine=require_str(record, "vaccine_name"),
        dose=dose,
        on=date_from(require(record, "vaccinated_on"), DATE),
    )


def _newest_first(items: list[T]) -> tuple[T, ...]:
    # Stable, so the platform's order within one day survives.
    return tuple(sorted(items, key=lambda item: item.on, reverse=True))


def _error_code(body: object) -> object:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None
