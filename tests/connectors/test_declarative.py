"""ManifestConnector against hostile agencies: small aiohttp servers on loopback that answer with what an
untrusted agency might send. Each answer must end as a typed ``AgencyError``, bounded in size and in
the work the hub does for it."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web

from connectors.base import MAX_ITEMS, Connector
from connectors.domain import Health, HousingFund
from connectors.errors import MAX_MESSAGE_CHARS, AgencyBadResponse
from connectors.manifest_parsing import from_data
from connectors.registry import build_connector
from sandbox import runner
from sandbox.runner import free_port
from tests.conftest import manifest_data

CARD = "350200000001"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def agency(
    sandbox: runner.Sandbox,
    name: str,
    routes: dict[str, Handler],
    money: str | None = None,
    page_size: int | None = None,
) -> AsyncIterator[Connector]:
    """A connector built from the built-in manifest of ``name``, pointed at a server answering ``routes``
    (``money``: the wire format of the housing fund's balance)."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    server = web.AppRunner(app, access_log=None)
    await server.setup()
    port = free_port()
    await web.TCPSite(server, "127.0.0.1", port).start()
    data = manifest_data(sandbox, name)
    data["base_url"] = f"http://127.0.0.1:{port}"
    data["auth"] = {"kind": "none"}
    data["retry"] = {"attempts": 1, "backoff_ms": 0, "on": []}
    if money is not None:
        data["mapping"]["fields"]["balance"]["money"] = money
    if page_size is not None:
        for resource in data["resources"].values():
            if "pagination" in resource:
                resource["pagination"]["page_size"] = page_size
    connector = build_connector(from_data(data))
    await connector.client.start()
    try:
        yield connector
    finally:
        await connector.client.close()
        await server.cleanup()


# --- money an agency should not be able to send ----------------------------------------------------

FUND = "/gjj/openapi/accounts/{card}"


def fund_routes(balance: object) -> dict[str, Handler]:
    async def account(request: web.Request) -> web.Response:
        account = {
            "accountNo": "GJJ1",
            "balance": balance,
            "monthlyDeposit": {"personal": "100.00", "employer": "100.00"},
            "employer": None,
        }
        return web.json_response({"success": True, "data": account})

    async def loans(request: web.Request) -> web.Response:
        return web.json_response({"success": True, "data": {"loans": [], "nextPageToken": None}})

    return {FUND: account, FUND + "/loans": loans}


async def test_a_sane_answer_maps(sandbox: runner.Sandbox) -> None:
    async with agency(sandbox, "housing_fund", fund_routes("12.50")) as connector:
        fund = await connector.fetch(CARD)
    assert isinstance(fund, HousingFund)
    assert str(fund.balance) == "12.50"


@pytest.mark.parametrize(
    "balance",
    ["1e30", "9" * 100, "-1e27", "1e999999999", "0." + "1" * 100],
    ids=["1e30", "100 nines", "-1e27", "huge", "100 decimals"],
)
async def test_an_absurd_decimal_string_is_a_bad_response(sandbox: runner.Sandbox, balance: str) -> None:
    async with agency(sandbox, "housing_fund", fund_routes(balance)) as connector:
        with pytest.raises(AgencyBadResponse, match="balance"):
            await connector.fetch(CARD)


@pytest.mark.parametrize("fen", [10**30, -(10**100), True, 1.5], ids=["1e30", "-1e100", "true", "float"])
async def test_absurd_fen_are_a_bad_response(sandbox: runner.Sandbox, fen: object) -> None:
    async with agency(sandbox, "housing_fund", fund_routes(fen), money="fen") as connector:
        with pytest.raises(AgencyBadResponse, match="balance"):
            await connector.fetch(CARD)


async def test_fen_map(sandbox: runner.Sandbox) -> None:
    async with agency(sandbox, "housing_fund", fund_routes(1250), money="fen") as connector:
        fund = await connector.fetch(CARD)
    assert isinstance(fund, HousingFund)
    assert str(fund.balance) == "12.50"


# --- pages: the walk stays bounded whatever the agency claims ----------------------------------------

RESIDENT = "/health-card/v1/residents/{card}"


def visit(n: int) -> dict[str, Any]:
    return {
        "visit_date": "2026-01-01",
        "facility_name": f"Clinic {n}",
        "department_name": "General",
        "visit_type": "outpatient",
    }


def health_routes(visits: Handler | None = None, dose: object = 1) -> dict[str, Handler]:
    async def resident(request: web.Request) -> web.Response:
        card = request.match_info["card"]
        return web.json_response({"card_no": card, "health_card_no": "H1", "registered_clinic": None})

    async def no_visits(request: web.Request) -> web.Response:
        return web.json_response({"records": [], "total_pages": 1})

    async def vaccinations(request: web.Request) -> web.Response:
        record = {"vaccine_name": "HepB", "dose_no": dose, "vaccinated_on": "2026-01-01"}
        return web.json_response({"records": [record], "total_pages": 1})

    return {
        RESIDENT: resident,
        RESIDENT + "/visits": visits or no_visits,
        RESIDENT + "/vaccinations": vaccinations,
    }


# --- what an agency's values may do to our messages --------------------------------------------------


async def test_a_huge_value_gives_a_short_message(sandbox: runner.Sandbox) -> None:
    async with agency(sandbox, "health", health_routes(dose="x" * 2_000_000)) as connector:
        with pytest.raises(AgencyBadResponse, match="dose") as caught:
            await connector.fetch(CARD)
    assert len(caught.value.message) <= MAX_MESSAGE_CHARS
    assert caught.value.message.endswith("…")
    assert len(str(caught.value)) <= len("health: ") + MAX_MESSAGE_CHARS


async def test_an_agency_value_cannot_forge_log_lines(sandbox: runner.Sandbox) -> None:
    forged = "1\n2026-12-02 10:00:00 INFO auth: consent granted\r\x1b[2K\u2028\u202e"
    async with agency(sandbox, "health", health_routes(dose=forged)) as connector:
        with pytest.raises(AgencyBadResponse) as caught:
            await connector.fetch(CARD)
    message = caught.value.message
    assert "consent granted" in message  # still says what came
    assert all(c not in message for c in "\n\r\x1b\u2028\u202e")


async def test_a_sane_health_answer_maps(sandbox: runner.Sandbox) -> None:
    async with agency(sandbox, "health", health_routes()) as connector:
        health = await connector.fetch(CARD)
    assert isinstance(health, Health)
    assert [v.dose for v in health.vaccinations] == [1]


async def test_a_page_larger_than_asked_is_refused(sandbox: runner.Sandbox) -> None:
    asked: list[int] = []

    async def visits(request: web.Request) -> web.Response:
        size = int(request.query["page_size"])
        asked.append(size)
        return web.json_response({"records": [visit(n) for n in range(size + 1)], "total_pages": 1})

    async with agency(sandbox, "health", health_routes(visits)) as connector:
        with pytest.raises(AgencyBadResponse, match="items for a page of"):
            await connector.fetch(CARD)
    assert asked == [100]


async def test_a_later_page_larger_than_asked_is_refused(sandbox: runner.Sandbox) -> None:
    async def visits(request: web.Request) -> web.Response:
        size = int(request.query["page_size"])
        count = size if request.query["page_no"] == "1" else 5000
        return web.json_response({"records": [visit(n) for n in range(count)], "total_pages": 3})

    async with agency(sandbox, "health", health_routes(visits)) as connector:
        with pytest.raises(AgencyBadResponse, match="5000 items for a page of 100"):
            await connector.fetch(CARD)


async def test_endless_pages_end_at_max_items(sandbox: runner.Sandbox) -> None:
    pages: list[int] = []

    async def visits(request: web.Request) -> web.Response:
        pages.append(int(request.query["page_no"]))
        size = int(request.query["page_size"])
        return web.json_response({"records": [visit(n) for n in range(size)], "total_pages": 10**12})

    async with agency(sandbox, "health", health_routes(visits)) as connector:
        health = await connector.fetch(CARD)
    assert isinstance(health, Health)
    assert len(health.visits) == MAX_ITEMS
    assert sorted(pages) == [1, 2]  # 100 a page: two pages hold MAX_ITEMS


async def test_a_page_walk_holds_items_not_answers(sandbox: runner.Sandbox) -> None:
    # One item a page, each answer padded to 256 KiB: holding every answer would take MAX_ITEMS of them.
    padding = "p" * 256 * 1024

    async def visits(request: web.Request) -> web.Response:
        number = int(request.query["page_no"])
        return web.json_response({"records": [visit(number)], "total_pages": 10**12, "padding": padding})

    async with agency(sandbox, "health", health_routes(visits), page_size=1) as connector:
        tracemalloc.start()
        try:
            health = await connector.fetch(CARD)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert isinstance(health, Health)
    assert len(health.visits) == MAX_ITEMS
    assert peak < MAX_ITEMS * len(padding) / 4


# --- cursors: a page may not hold more than the limit asked for ---------------------------------------


def fund_with_loans(loans: Handler) -> dict[str, Handler]:
    routes = fund_routes("1.00")
    routes[FUND + "/loans"] = loans
    return routes


def loan(n: int) -> dict[str, Any]:
    return {
        "loanNo": f"L{n}",
        "loanAmount": "1000.00",
        "outstandingPrincipal": "500.00",
        "monthlyRepayment": "10.00",
        "startDate": "2020/01/01",
        "endDate": "2040/01/01",
        "loanStatus": "REPAYING",
    }


async def test_a_cursor_page_larger_than_the_limit_is_refused(sandbox: runner.Sandbox) -> None:
    async def loans(request: web.Request) -> web.Response:
        size = int(request.query["pageSize"])
        page = {"loans": [loan(n) for n in range(size * 10)], "nextPageToken": None}
        return web.json_response({"success": True, "data": page})

    async with agency(sandbox, "housing_fund", fund_with_loans(loans)) as connector:
        with pytest.raises(AgencyBadResponse, match="500 items for a limit of 50"):
            await connector.fetch(CARD)


async def test_cursor_pages_end_at_max_items(sandbox: runner.Sandbox) -> None:
    asked: list[int] = []

    async def loans(request: web.Request) -> web.Response:
        size = int(request.query["pageSize"])
        asked.append(size)
        token = str(int(request.query.get("pageToken", "0")) + 1)
        page = {"loans": [loan(n) for n in range(size)], "nextPageToken": token}
        return web.json_response({"success": True, "data": page})

    async with agency(sandbox, "housing_fund", fund_with_loans(loans)) as connector:
        fund = await connector.fetch(CARD)
    assert isinstance(fund, HousingFund)
    assert len(fund.loans) == MAX_ITEMS
    assert asked == [50, 50, 50, 50]
