"""Xiamen e-tong Card Co.: balance, concession and recent trips of the citizen's transit card.

Wire format (docs/agencies/transit.md): camelCase JSON, money as decimal strings, instants in ISO 8601
with offset, cursor pagination, RFC 7807 problem bodies. The e-tong card has its own number, found
by looking the citizen card up; the trips need that number. Once known (connectors/keymap.py), the
lookup and the first trips page go out together, and the trips are kept only if the lookup still
names the same card.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import ClassVar
from urllib.parse import quote

from connectors.base import MAX_ITEMS, Connector, gather_or_cancel
from connectors.domain import Concession, Transit, Trip, TripMode
from connectors.errors import AgencyError
from connectors.formats import (
    datetime_from_iso,
    money_from_decimal_string,
    require,
    require_list,
    require_str,
)
from connectors.keymap import KeyMap, outcome
from connectors.runtime import AgencyClient, AgencyResponse

PAGE_LIMIT = 50  # the agency's maximum: fewest round trips
CARD_NOT_FOUND = "https://api.xmetong.example/problems/card-not-found"

CONCESSIONS = {
    "ADULT": Concession.NONE,
    "SENIOR": Concession.SENIOR,
    "STUDENT": Concession.STUDENT,
    "DISABLED": Concession.DISABLED,
}
# BRT is a bus on its own lanes; the hub knows buses, metro and ferries only.
MODES = {"BUS": TripMode.BUS, "BRT": TripMode.BUS, "METRO": TripMode.METRO, "FERRY": TripMode.FERRY}


def _concession(value: str) -> Concession:
    if value not in CONCESSIONS:
        raise ValueError(f"unknown concession {value!r}")
    return CONCESSIONS[value]


def _trip(item: object) -> Trip:
    mode = require_str(item, "mode")
    if mode not in MODES:
        raise ValueError(f"unknown trip mode {mode!r}")
    exit_stop = require(item, "exitStop")
    if exit_stop is not None and not isinstance(exit_stop, str):
        raise ValueError(f"exitStop should be a string or null, got {exit_stop!r}")
    return Trip(
        at=datetime_from_iso(require(item, "startedAt")),
        mode=MODES[mode],
        line=require_str(item, "line"),
        entry_stop=require_str(item, "entryStop"),
        exit_stop=exit_stop,
        fare=money_from_decimal_string(require(item, "fare")),
    )


def _page(body: object) -> tuple[list[Trip], str | None]:
    trips = [_trip(item) for item in require_list(body, "items")]
    cursor = require(body, "nextCursor")
    if cursor is not None and not isinstance(cursor, str):
        raise ValueError(f"nextCursor should be a string or null, got {cursor!r}")
    return trips, cursor or None


def _card(body: object) -> tuple[str, Decimal, Concession]:
    """(e-tong card number, balance, concession)."""
    return (
        require_str(body, "cardNumber"),
        money_from_decimal_string(require(body, "balance")),
        _concession(require_str(body, "concession")),
    )


class TransitConnector(Connector):
    agency: ClassVar[str] = "transit"
    name: ClassVar[str] = "Xiamen e-tong Card Co."

    def __init__(self, client: AgencyClient) -> None:
        super().__init__(client)
        self.etong_numbers = KeyMap()

    async def fetch(self, card_number: str) -> Transit | None:
        known = self.etong_numbers.get(card_number)
        trips: tuple[Trip, ...] | AgencyError | None = None
        if known is None:
            response = await self._card(card_number)
        else:
            response, trips = await gather_or_cancel(
                self._card(card_number), outcome(self._trips(quote(known, safe="")))
            )
        # Only the agency's own "no such card" means no account; any other 404 means a wrong path.
        if response.status == 404 and isinstance(response.body, dict) and response.body.get("type") == CARD_NOT_FOUND:
            self.etong_numbers.forget(card_number)
            return None
        if response.status != 200:
            raise self.unexpected(response, "card lookup")
        # Checked before the trips are walked: a broken card document is not worth several more calls.
        number, balance, concession = self.mapped("card", partial(_card, response.body))
        if number != known:  # first visit, or the citizen's card was replaced: those trips are not theirs
            self.etong_numbers.put(card_number, number)
            trips = await self._trips(quote(number, safe=""))
        if isinstance(trips, AgencyError):
            raise trips
        assert trips is not None
        return Transit(card_number=number, balance=balance, concession=concession, trips=trips, meta=self.meta())

    async def _card(self, card_number: str) -> AgencyResponse:
        return await self.client.get(f"/v1/citizens/{quote(card_number, safe='')}/card")

    async def _trips(self, path_number: str) -> tuple[Trip, ...]:
        trips: list[Trip] = []
        cursor: str | None = None
        while len(trips) < MAX_ITEMS:
            params: dict[str, str | int] = {"limit": min(PAGE_LIMIT, MAX_ITEMS - len(trips))}
            if cursor is not None:
                params["cursor"] = cursor
            response = await self.client.get(f"/v1/cards/{path_number}/trips", params)
            if response.status != 200:
                raise self.unexpected(response, "trips")
            page, cursor = self.mapped("trips page", partial(_page, response.body))
            trips.extend(page)
            if cursor is None or not page:  # an empty page with a cursor would loop forever
                break
        trips.sort(key=lambda t: t.at, reverse=True)
        return tuple(trips[:MAX_ITEMS])
