"""LibraryConnector against the running library stand-in over real HTTP: mapping, paging, faults."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from connectors.base import Connector
from connectors.declarative import ManifestConnector as LibraryConnector
from connectors.domain import Library, LibraryLoan, Reservation
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyTimeout, AgencyUnavailable
from sandbox import clock, personas
from sandbox.agencies import library_data
from sandbox.runner import Sandbox

ConnectorFactory = Callable[..., Awaitable[Connector]]  # the make_connector fixture
FINE_PER_DAY = Decimal("0.10")  # the library's published rate per overdue book

REGISTERED = [p for p in personas.PERSONAS if not p.has(personas.NO_LIBRARY)]
UNREGISTERED = [p for p in personas.PERSONAS if p.has(personas.NO_LIBRARY)]
OVERDUE = [p for p in REGISTERED if p.has(personas.OVERDUE_LOANS)]
ON_TIME = [p for p in REGISTERED if not p.has(personas.OVERDUE_LOANS)]
RESERVING = [p for p in REGISTERED if p.has(personas.RESERVATIONS)]


def by_name(persona: personas.Persona) -> str:
    return persona.username


async def library(make_connector: ConnectorFactory, **kwargs: Any) -> LibraryConnector:
    connector = await make_connector("library", **kwargs)
    assert isinstance(connector, LibraryConnector)
    return connector


async def fetch(connector: LibraryConnector, persona: personas.Persona) -> Library:
    section = await connector.fetch(persona.card_number)
    assert isinstance(section, Library)
    return section


async def control(sandbox: Sandbox, method: str, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.request(method, sandbox.url("library") + path) as r:
        assert r.status == 200
        return await r.json()


@pytest.mark.parametrize("persona", REGISTERED, ids=by_name)
async def test_maps_every_patron(make_connector: ConnectorFactory, persona: personas.Persona) -> None:
    section = await fetch(await library(make_connector), persona)
    today = clock.today()
    assert re.fullmatch(r"LIB\d+", section.card_number)
    assert section.meta.source == "library"
    assert isinstance(section.fines, Decimal)
    for loan in section.loans:
        assert loan.title
        assert loan.borrowed_on <= today
        assert loan.borrowed_on < loan.due_date
        assert loan.overdue is (loan.due_date < today)
    for hold in section.reservations:
        assert hold.title
        assert hold.reserved_on <= today
    # Newest first, whatever order the agency sends.
    assert [loan.borrowed_on for loan in section.loans] == sorted((x.borrowed_on for x in section.loans), reverse=True)
    reserved = [h.reserved_on for h in section.reservations]
    assert reserved == sorted(reserved, reverse=True)


@pytest.mark.parametrize("persona", REGISTERED, ids=by_name)
async def test_matches_the_library_records(make_connector: ConnectorFactory, persona: personas.Persona) -> None:
    """Field by field against the stand-in's own records: dates are China dates, fen become yuan."""
    section = await fetch(await library(make_connector), persona)
    record = library_data.patron_for_card(persona.card_number)
    assert record is not None
    today = record.today
    assert section.card_number == record.card_number
    assert section.fines == Decimal(record.fine_fen) / 100
    newest_loans = sorted(record.loans, key=lambda loan: loan.borrowed_at, reverse=True)
    assert section.loans == tuple(
        LibraryLoan(loan.title, loan.borrowed_at.date(), loan.due_on, loan.overdue(today)) for loan in newest_loans
    )
    newest_holds = sorted(record.holds, key=lambda hold: hold.reserved_at, reverse=True)
    assert section.reservations == tuple(
        Reservation(hold.title, hold.reserved_at.date(), hold.status == library_data.HOLD_READY)
        for hold in newest_holds
    )


@pytest.mark.parametrize("persona", ON_TIME, ids=by_name)
async def test_patron_without_overdue_trait_owes_nothing(
    make_connector: ConnectorFactory, persona: personas.Persona
) -> None:
    section = await fetch(await library(make_connector), persona)
    assert section.fines == Decimal("0.00")
    assert len(section.loans) <= 4
    assert not any(loan.overdue for loan in section.loans)
    assert all(loan.due_date >= clock.today() for loan in section.loans)


@pytest.mark.parametrize("persona", OVERDUE, ids=by_name)
async def test_overdue_loans_and_fines_match_days_late(
    make_connector: ConnectorFactory, persona: personas.Persona
) -> None:
    section = await fetch(await library(make_connector), persona)
    today = clock.today()
    late = [loan for loan in section.loans if loan.overdue]
    assert late, "an overdue_loans persona has books past due"
    assert len(late) < len(section.loans), "only some loans are late"
    expected = sum(((today - loan.due_date).days * FINE_PER_DAY for loan in late), Decimal("0"))
    assert section.fines == expected > 0
    assert section.fines.as_tuple().exponent == -2


@pytest.mark.parametrize("persona", REGISTERED, ids=by_name)
async def test_reservations_follow_the_trait(make_connector: ConnectorFactory, persona: personas.Persona) -> None:
    section = await fetch(await library(make_connector), persona)
    ready = [h.ready_for_pickup for h in section.reservations]
    if persona.has(personas.RESERVATIONS):
        assert any(ready), "some holds wait on the pickup shelf"
        assert not all(ready), "and some are still on their way"
    else:
        assert ready == []


@pytest.mark.parametrize("card", [p.card_number for p in UNREGISTERED] + ["350299999999"])
async def test_citizen_without_account_gives_none(make_connector: ConnectorFactory, card: str) -> None:
    assert await (await library(make_connector)).fetch(card) is None


# Holds for a reserving patron and loans for a late one both run to two or more items.
@pytest.mark.parametrize("persona", [RESERVING[0], OVERDUE[0]], ids=by_name)
async def test_walks_every_page(make_connector: ConnectorFactory, sandbox: Sandbox, persona: personas.Persona) -> None:
    whole = await fetch(await library(make_connector), persona)
    paging = await library(make_connector, page_size=1)
    await control(sandbox, "POST", "/_sandbox/stats/reset")
    walked = await fetch(paging, persona)
    assert dataclasses.replace(walked, meta=whole.meta) == whole
    paths = [i["path"] for i in (await control(sandbox, "GET", "/_sandbox/stats"))["intervals"]]
    # One call per item (an empty list still takes one), plus the patron lookup.
    assert sum(p.endswith("/loans") for p in paths) == max(1, len(whole.loans))
    assert sum(p.endswith("/holds") for p in paths) == max(1, len(whole.reservations))
    assert max(len(whole.loans), len(whole.reservations)) >= 2, "some list must span pages"


async def test_loans_and_holds_are_fetched_concurrently(make_connector: ConnectorFactory, sandbox: Sandbox) -> None:
    connector = await library(make_connector, headers={"X-Sandbox-Fault": "latency=150"})
    await control(sandbox, "POST", "/_sandbox/stats/reset")
    await fetch(connector, RESERVING[0])
    intervals = (await control(sandbox, "GET", "/_sandbox/stats"))["intervals"]
    (loans,) = [i for i in intervals if i["path"].endswith("/loans")]
    (holds,) = [i for i in intervals if i["path"].endswith("/holds")]
    assert loans["start"] < holds["end"]
    assert holds["start"] < loans["end"]


async def test_refused_page_size_is_a_bad_response(make_connector: ConnectorFactory) -> None:
    connector = await library(make_connector, page_size=101)  # over the agency's maximum: it answers 400
    with pytest.raises(AgencyBadResponse):
        await connector.fetch(REGISTERED[0].card_number)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("error=503", AgencyUnavailable),
        ("drop", AgencyUnavailable),
        ("hang", AgencyTimeout),
        ("garbage", AgencyBadResponse),
        ("error=404", AgencyBadResponse),  # a 404 that is not "no such patron" must not read as "no account"
    ],
)
async def test_faults_become_typed_errors(make_connector: ConnectorFactory, fault: str, error: type[Exception]) -> None:
    connector = await library(make_connector, timeout_seconds=0.5, headers={"X-Sandbox-Fault": fault})
    with pytest.raises(error):
        await connector.fetch(REGISTERED[0].card_number)


async def test_agency_wide_outage_is_unavailable(
    make_connector: ConnectorFactory, clear_faults: Callable[..., None]
) -> None:
    clear_faults("library", error_status=503)
    with pytest.raises(AgencyUnavailable):
        await (await library(make_connector)).fetch(REGISTERED[0].card_number)


async def test_wrong_key_is_auth_failure(make_connector: ConnectorFactory) -> None:
    connector = await library(make_connector, secret="not-the-library-key")
    with pytest.raises(AgencyAuthFailed):
        await connector.fetch(REGISTERED[0].card_number)
