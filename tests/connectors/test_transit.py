"""TransitConnector against the running stand-in e-tong agency, over real HTTP (no mocks)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from connectors.base import MAX_ITEMS
from connectors.domain import Concession, Transit, TripMode
from connectors.errors import (
    AgencyAuthFailed,
    AgencyBadResponse,
    AgencyError,
    AgencyTimeout,
    AgencyUnavailable,
)
from sandbox import credentials
from sandbox.personas import (
    DISABLED,
    MANY_TRIPS,
    PERSONAS,
    SENIOR,
    STUDENT,
    TRANSIT_NEGATIVE_BALANCE,
    TRANSIT_ZERO_BALANCE,
    Persona,
)
from sandbox.runner import Sandbox
from tests.conftest import ConnectorFactory

AGENCY = "transit"
UNKNOWN_CITIZEN = "350299999999"
FAST_TIMEOUT = 0.5


def with_trait(trait: str) -> list[Persona]:
    found = [p for p in PERSONAS if p.has(trait)]
    assert found, f"no persona has {trait}"
    return found


def expected_concession(persona: Persona) -> Concession:
    for trait, concession in (
        (SENIOR, Concession.SENIOR),
        (DISABLED, Concession.DISABLED),
        (STUDENT, Concession.STUDENT),
    ):
        if persona.has(trait):
            return concession
    return Concession.NONE


async def fetch(make_connector: ConnectorFactory, persona: Persona) -> Transit:
    connector = await make_connector(AGENCY)
    result = await connector.fetch(persona.card_number)
    assert isinstance(result, Transit)
    return result


async def wire(sandbox: Sandbox, persona: Persona) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The agency's own answer for a persona (card, every trip), read straight off the wire."""
    base = sandbox.url(AGENCY)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            base + "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={
                "Authorization": aiohttp.encode_basic_auth(
                    credentials.TRANSIT_CLIENT_ID, credentials.TRANSIT_CLIENT_SECRET
                )
            },
        ) as r:
            headers = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        async with http.get(f"{base}/v1/citizens/{persona.card_number}/card", headers=headers) as r:
            card: dict[str, Any] = await r.json()
        trips: list[dict[str, Any]] = []
        params = {"limit": "50"}
        while True:
            async with http.get(f"{base}/v1/cards/{card['cardNumber']}/trips", params=params, headers=headers) as r:
                page = await r.json()
            trips.extend(page["items"])
            if page["nextCursor"] is None:
                return card, trips
            params["cursor"] = page["nextCursor"]


def trip_requests(sandbox: Sandbox, reset: bool = False) -> int:
    if reset:
        urllib.request.urlopen(urllib.request.Request(sandbox.url(AGENCY) + "/_sandbox/stats/reset", method="POST"))
        return 0
    with urllib.request.urlopen(sandbox.url(AGENCY) + "/_sandbox/stats") as resp:
        stats = json.load(resp)
    return sum(1 for i in stats["intervals"] if i["path"].endswith("/trips"))


# --- mapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.username)
async def test_maps_what_the_agency_says(make_connector: ConnectorFactory, sandbox: Sandbox, persona: Persona) -> None:
    result = await fetch(make_connector, persona)
    card, trips = await wire(sandbox, persona)
    assert result.card_number == card["cardNumber"] != persona.card_number
    assert result.balance == Decimal(card["balance"])
    assert result.concession is expected_concession(persona)
    assert result.meta.source == AGENCY
    assert len(result.trips) == len(trips)
    for got, raw in zip(result.trips, trips, strict=True):
        assert got.at == datetime.fromisoformat(raw["startedAt"])
        assert got.at.utcoffset() is not None
        assert got.mode is (TripMode.BUS if raw["mode"] == "BRT" else TripMode(raw["mode"]))
        assert (got.line, got.entry_stop, got.exit_stop) == (raw["line"], raw["entryStop"], raw["exitStop"])
        assert got.fare == Decimal(raw["fare"])
        assert got.fare.as_tuple().exponent == -2
    assert [t.at for t in result.trips] == sorted((t.at for t in result.trips), reverse=True)


async def test_balances_follow_traits(make_connector: ConnectorFactory) -> None:
    for persona in PERSONAS:
        balance = (await fetch(make_connector, persona)).balance
        assert isinstance(balance, Decimal)
        if persona.has(TRANSIT_ZERO_BALANCE):
            assert balance == 0 and str(balance) == "0.00"
        elif persona.has(TRANSIT_NEGATIVE_BALANCE):
            assert balance < 0
        else:
            assert balance > 0


async def test_seniors_ride_free(make_connector: ConnectorFactory) -> None:
    for persona in with_trait(SENIOR):
        result = await fetch(make_connector, persona)
        assert result.concession is Concession.SENIOR
        assert result.trips, "a senior with no trips proves nothing"
        assert all(t.fare == 0 for t in result.trips)


async def test_students_pay_reduced_not_zero(make_connector: ConnectorFactory, sandbox: Sandbox) -> None:
    for persona in with_trait(STUDENT):
        result = await fetch(make_connector, persona)
        _, trips = await wire(sandbox, persona)
        assert result.concession is Concession.STUDENT
        for got, raw in zip(result.trips, trips, strict=True):
            assert 0 < got.fare < Decimal(raw["fullFare"])


async def test_disabled_ride_buses_free(make_connector: ConnectorFactory) -> None:
    for persona in with_trait(DISABLED):
        result = await fetch(make_connector, persona)
        assert result.concession is Concession.DISABLED
        assert all(t.fare == 0 for t in result.trips if t.mode is TripMode.BUS)


async def test_brt_becomes_bus(make_connector: ConnectorFactory, sandbox: Sandbox) -> None:
    persona = with_trait(MANY_TRIPS)[0]
    _, trips = await wire(sandbox, persona)
    brt_times = {datetime.fromisoformat(t["startedAt"]) for t in trips if t["mode"] == "BRT"}
    assert brt_times, "persona has no BRT trips to map"
    result = await fetch(make_connector, persona)
    assert {t.mode for t in result.trips if t.at in brt_times} == {TripMode.BUS}


async def test_walks_every_page(make_connector: ConnectorFactory, sandbox: Sandbox) -> None:
    for persona in with_trait(MANY_TRIPS):
        _, trips = await wire(sandbox, persona)
        trip_requests(sandbox, reset=True)
        result = await fetch(make_connector, persona)
        assert 100 < len(result.trips) == len(trips) < MAX_ITEMS
        # One request per page of the agency's maximum 50: no page skipped, none fetched twice.
        assert trip_requests(sandbox) == -(-len(trips) // 50) >= 3


async def test_citizen_without_card_is_none(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY)
    assert await connector.fetch(UNKNOWN_CITIZEN) is None


# --- faults ----------------------------------------------------------------------------------

HEADER_FAULTS = [
    ("error=503", AgencyUnavailable),
    ("drop", AgencyUnavailable),
    ("hang", AgencyTimeout),
    ("garbage", AgencyBadResponse),
]


@pytest.mark.parametrize(("fault", "error"), HEADER_FAULTS, ids=[f for f, _ in HEADER_FAULTS])
async def test_faults_become_typed_errors(
    make_connector: ConnectorFactory, fault: str, error: type[AgencyError]
) -> None:
    # The header reaches every call, the token request included.
    connector = await make_connector(AGENCY, timeout_seconds=FAST_TIMEOUT, headers={"X-Sandbox-Fault": fault})
    with pytest.raises(error):
        await connector.fetch(PERSONAS[0].card_number)


PROCESS_FAULTS: list[tuple[dict[str, Any], type[AgencyError]]] = [
    ({"error_status": 503}, AgencyUnavailable),
    ({"drop": True}, AgencyUnavailable),
    ({"hang": True}, AgencyTimeout),
    ({"garbage": True}, AgencyBadResponse),
]


@pytest.mark.parametrize(("fault", "error"), PROCESS_FAULTS, ids=[next(iter(f)) for f, _ in PROCESS_FAULTS])
async def test_faults_on_data_calls_become_typed_errors(
    make_connector: ConnectorFactory,
    clear_faults: Callable[..., None],
    fault: dict[str, Any],
    error: type[AgencyError],
) -> None:
    # A first fetch caches the token, so the fault hits the card and trips calls themselves.
    connector = await make_connector(AGENCY, timeout_seconds=FAST_TIMEOUT)
    assert await connector.fetch(PERSONAS[0].card_number) is not None
    clear_faults(AGENCY, **fault)
    with pytest.raises(error):
        await connector.fetch(PERSONAS[0].card_number)


async def test_wrong_credentials_fail_auth(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY, secret="not-the-secret")
    with pytest.raises(AgencyAuthFailed):
        await connector.fetch(PERSONAS[0].card_number)
