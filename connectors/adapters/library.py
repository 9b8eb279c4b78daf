"""Xiamen Public Library (厦门市图书馆): OPAC vendor API, static key in ``X-Library-Key``.

Two steps: the citizen card finds the patron (library card number, fines in fen), whose
``patronId`` then lists loans and holds, each in offset/limit pages. Instants arrive as epoch
milliseconds; the library works in China time, so dates are taken there. See docs/agencies/library.md.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from urllib.parse import quote

from connectors.base import MAX_ITEMS, Connector, gather_or_cancel
from connectors.domain import Library, LibraryLoan, Reservation
from connectors.errors import AgencyBadResponse, AgencyError
from connectors.formats import (
    CHINA_TZ,
    datetime_from_epoch_millis,
    money_from_fen,
    require,
    require_list,
    require_str,
)
from connectors.keymap import KeyMap, outcome
from connectors.runtime import AgencyClient, AgencyResponse

PREFIX = "/opac/api"
PATRON_NOT_FOUND = 40401  # the vendor's code for "no patron with this citizen card"
HOLD_STATUSES = {"READY_FOR_PICKUP": True, "WAITING": False, "IN_TRANSIT": False}


def _instant(entry: object, key: str) -> datetime:
    return datetime_from_epoch_millis(require(entry, key))


def _china_date(instant: datetime) -> date:
    return instant.astimezone(CHINA_TZ).date()


def _require_bool(entry: object, key: str) -> bool:
    value = require(entry, key)
    if not isinstance(value, bool):
        raise ValueError(f"field {key!r} should be a boolean, got {value!r}")
    return value


def _require_int(entry: object, key: str) -> int:
    value = require(entry, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"field {key!r} should be an integer, got {value!r}")
    return value


def _loan(entry: object) -> tuple[datetime, LibraryLoan]:
    borrowed = _instant(entry, "borrowedAt")
    loan = LibraryLoan(
        title=require_str(entry, "title"),
        borrowed_on=_china_date(borrowed),
        due_date=_china_date(_instant(entry, "dueAt")),
        overdue=_require_bool(entry, "overdue"),  # the library's verdict, not ours: it owns the rules
    )
    return borrowed, loan


def _hold(entry: object) -> tuple[datetime, Reservation]:
    reserved = _instant(entry, "reservedAt")
    status = require_str(entry, "status")
    if status not in HOLD_STATUSES:
        raise ValueError(f"unknown hold status {status!r}")
    hold = Reservation(
        title=require_str(entry, "title"),
        reserved_on=_china_date(reserved),
        ready_for_pickup=HOLD_STATUSES[status],
    )
    return reserved, hold


def _page(body: object) -> tuple[list[object], int]:
    return require_list(body, "entries"), _require_int(body, "total")


def _error_code(response: AgencyResponse) -> object:
    return response.body.get("code") if isinstance(response.body, dict) else None


class LibraryConnector(Connector):
    agency = "library"
    name = "厦门市图书馆"
    page_size: int = 100  # the agency's maximum; tests shrink it per instance to force paging

    def __init__(self, client: AgencyClient) -> None:
        super().__init__(client)
        self.patron_ids = KeyMap()

    async def fetch(self, card_number: str) -> Library | None:
        # The lists hang off the patron id. Once it is known (connectors/keymap.py), the lookup and the
        # lists go out together; the lists are kept only if the lookup still names the same patron.
        known = self.patron_ids.get(card_number)
        lists: tuple[list[object], list[object]] | AgencyError | None = None
        if known is None:
            response = await self._patron(card_number)
        else:
            response, lists = await gather_or_cancel(self._patron(card_number), outcome(self._lists(known)))
        if response.status == 404 and _error_code(response) == PATRON_NOT_FOUND:
            self.patron_ids.forget(card_number)
            return None
        if response.status != 200:
            raise self.unexpected(response, "patron lookup")
        patron = response.body
        patron_id = self.mapped("patron id", lambda: _require_int(patron, "patronId"))
        library_card = self.mapped("library card number", lambda: require_str(patron, "cardNumber"))
        fines = self.mapped("fine balance", lambda: money_from_fen(require(patron, "fineBalance")))
        if str(patron_id) != known:
            self.patron_ids.put(card_number, str(patron_id))
            lists = await self._lists(str(patron_id))
        if isinstance(lists, AgencyError):
            raise lists
        assert lists is not None
        loan_entries, hold_entries = lists
        loans = self.mapped("loan", lambda: sorted(map(_loan, loan_entries), key=lambda p: p[0], reverse=True))
        holds = self.mapped("hold", lambda: sorted(map(_hold, hold_entries), key=lambda p: p[0], reverse=True))
        return Library(
            card_number=library_card,
            loans=tuple(loan for _, loan in loans),
            reservations=tuple(hold for _, hold in holds),
            fines=fines,
            meta=self.meta(),
        )

    async def _patron(self, card_number: str) -> AgencyResponse:
        return await self.client.get(f"{PREFIX}/patrons/by-citizen-card/{quote(card_number, safe='')}")

    async def _lists(self, patron_id: str) -> tuple[list[object], list[object]]:
        return await gather_or_cancel(
            self._walk(f"{PREFIX}/patrons/{patron_id}/loans"), self._walk(f"{PREFIX}/patrons/{patron_id}/holds")
        )

    async def _walk(self, path: str) -> list[object]:
        """Every entry of a paged list, up to MAX_ITEMS."""
        entries: list[object] = []
        while len(entries) < MAX_ITEMS:
            limit = min(self.page_size, MAX_ITEMS - len(entries))
            response = await self.client.get(path, {"offset": len(entries), "limit": limit})
            if response.status != 200:
                raise self.unexpected(response, path)
            page, total = self.mapped("page", partial(_page, response.body))
            if len(page) > limit:
                raise AgencyBadResponse(self.agency, f"{path} sent {len(page)} entries for limit {limit}")
            entries.extend(page)
            # An empty page ends the walk even if ``total`` promised more, so a miscount can't loop forever.
            if not page or len(entries) >= total:
                break
        return entries
