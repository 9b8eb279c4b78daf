"""The stand-in e-tong agency's wire behaviour, over real HTTP."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from sandbox import clock, credentials
from sandbox.agencies.transit_data import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, TRIP_WINDOW_DAYS
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

MONEY = re.compile(r"^-?\d+\.\d{2}$")
PROBLEM_TYPE = "https://api.xmetong.example/problems/"
UNKNOWN_CITIZEN = "350299999999"


def with_trait(trait: str) -> list[Persona]:
    found = [p for p in PERSONAS if p.has(trait)]
    assert found, f"no persona has {trait}"
    return found


def fen(amount: str) -> int:
    return int(Decimal(amount) * 100)


@dataclass
class Reply:
    status: int
    content_type: str
    body: Any
    headers: Any


@dataclass
class Etong:
    http: aiohttp.ClientSession
    base: str
    token: str | None = None

    async def get(
        self, path: str, params: dict[str, str | int] | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.get(self.base + path, params=params or {}, headers={**auth, **(headers or {})}) as r:
            return Reply(r.status, r.content_type, await r.json(content_type=None), r.headers)

    async def card(self, persona: Persona) -> dict[str, Any]:
        reply = await self.get(f"/v1/citizens/{persona.card_number}/card")
        assert reply.status == 200, reply.body
        body: dict[str, Any] = reply.body
        return body

    async def all_trips(self, card_number: str, limit: int) -> tuple[list[dict[str, Any]], int]:
        """Every trip, walking the cursor; and how many pages that took."""
        trips: list[dict[str, Any]] = []
        params: dict[str, str | int] = {"limit": limit}
        pages = 0
        while True:
            reply = await self.get(f"/v1/cards/{card_number}/trips", params)
            assert reply.status == 200, reply.body
            pages += 1
            assert len(reply.body["items"]) <= limit
            trips.extend(reply.body["items"])
            if reply.body["nextCursor"] is None:
                return trips, pages
            params["cursor"] = reply.body["nextCursor"]


async def fetch_token(http: aiohttp.ClientSession, base: str, client_id: str, secret: str) -> tuple[int, Any]:
    async with http.post(
        base + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": aiohttp.encode_basic_auth(client_id, secret)},
    ) as r:
        return r.status, await r.json(content_type=None)


@pytest.fixture
async def anonymous(sandbox: Sandbox) -> AsyncIterator[Etong]:
    async with aiohttp.ClientSession() as http:
        yield Etong(http, sandbox.url("transit"))


@pytest.fixture
async def etong(anonymous: Etong) -> Etong:
    status, body = await fetch_token(
        anonymous.http, anonymous.base, credentials.TRANSIT_CLIENT_ID, credentials.TRANSIT_CLIENT_SECRET
    )
    assert status == 200, body
    return Etong(anonymous.http, anonymous.base, body["access_token"])


def assert_problem(reply: Reply, status: int, slug: str) -> None:
    assert reply.status == status
    assert reply.content_type == "application/problem+json"
    assert set(reply.body) == {"type", "title", "status", "detail"}
    assert reply.body["type"] == PROBLEM_TYPE + slug
    assert reply.body["status"] == status
    assert reply.body["title"] and reply.body["detail"]


# --- auth ------------------------------------------------------------------------------------


async def test_token_endpoint_issues_bearer_tokens(anonymous: Etong) -> None:
    status, body = await fetch_token(
        anonymous.http, anonymous.base, credentials.TRANSIT_CLIENT_ID, credentials.TRANSIT_CLIENT_SECRET
    )
    assert status == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert isinstance(body["access_token"], str) and body["access_token"]


async def test_token_endpoint_refuses_wrong_secret(anonymous: Etong) -> None:
    status, body = await fetch_token(anonymous.http, anonymous.base, credentials.TRANSIT_CLIENT_ID, "wrong")
    assert (status, body) == (401, {"error": "invalid_client"})


async def test_token_endpoint_refuses_other_grants(anonymous: Etong) -> None:
    async with anonymous.http.post(
        anonymous.base + "/oauth/token",
        data={"grant_type": "password"},
        headers={
            "Authorization": aiohttp.encode_basic_auth(credentials.TRANSIT_CLIENT_ID, credentials.TRANSIT_CLIENT_SECRET)
        },
    ) as r:
        assert r.status == 400
        assert await r.json() == {"error": "unsupported_grant_type"}


async def test_missing_token_is_refused_as_problem(anonymous: Etong) -> None:
    reply = await anonymous.get(f"/v1/citizens/{PERSONAS[0].card_number}/card")
    assert_problem(reply, 401, "unauthorized")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


async def test_wrong_token_is_refused_as_problem(anonymous: Etong) -> None:
    forged = Etong(anonymous.http, anonymous.base, "not-a-token-we-issued")
    assert_problem(await forged.get(f"/v1/citizens/{PERSONAS[0].card_number}/card"), 401, "unauthorized")


# --- cards -----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda p: p.username)
async def test_everyone_has_a_card_in_the_documented_format(etong: Etong, persona: Persona) -> None:
    card = await etong.card(persona)
    assert re.fullmatch(r"ET\d{12}", card["cardNumber"])
    assert card["citizenCardNumber"] == persona.card_number
    assert card["status"] == "ACTIVE"
    assert card["currency"] == "CNY"
    assert MONEY.match(card["balance"])
    expected = next(
        (c for t, c in ((SENIOR, "SENIOR"), (DISABLED, "DISABLED"), (STUDENT, "STUDENT")) if persona.has(t)), "ADULT"
    )
    assert card["concession"] == expected
    by_number = await etong.get(f"/v1/cards/{card['cardNumber']}")
    assert by_number.status == 200
    assert by_number.body == card


async def test_card_numbers_are_distinct(etong: Etong) -> None:
    numbers = {(await etong.card(p))["cardNumber"] for p in PERSONAS}
    assert len(numbers) == len(PERSONAS)


async def test_balances_follow_traits(etong: Etong) -> None:
    for persona in PERSONAS:
        balance = (await etong.card(persona))["balance"]
        if persona.has(TRANSIT_ZERO_BALANCE):
            assert balance == "0.00"
        elif persona.has(TRANSIT_NEGATIVE_BALANCE):
            assert balance.startswith("-") and fen(balance) < 0
        else:
            assert fen(balance) > 0


async def test_unknown_citizen_and_card_are_not_found(etong: Etong) -> None:
    assert_problem(await etong.get(f"/v1/citizens/{UNKNOWN_CITIZEN}/card"), 404, "card-not-found")
    assert_problem(await etong.get("/v1/cards/ET000000000000"), 404, "card-not-found")
    assert_problem(await etong.get("/v1/cards/ET000000000000/trips"), 404, "card-not-found")


async def test_unknown_path_is_a_generic_problem(etong: Etong) -> None:
    assert_problem(await etong.get("/v1/accounts"), 404, "not-found")


# --- trips -----------------------------------------------------------------------------------


async def test_many_trips_span_several_pages_newest_first(etong: Etong) -> None:
    for persona in with_trait(MANY_TRIPS):
        number = (await etong.card(persona))["cardNumber"]
        trips, pages = await etong.all_trips(number, PAGE_LIMIT_MAX)
        assert 100 < len(trips) < 200
        assert pages >= 3
        ids = [t["tripId"] for t in trips]
        assert len(set(ids)) == len(ids)
        starts = [datetime.fromisoformat(t["startedAt"]) for t in trips]
        assert starts == sorted(starts, reverse=True)
        # A different page size must walk to the very same list.
        small, small_pages = await etong.all_trips(number, 7)
        assert small == trips
        assert small_pages == -(-len(trips) // 7)


async def test_default_page_size(etong: Etong) -> None:
    number = (await etong.card(with_trait(MANY_TRIPS)[0]))["cardNumber"]
    reply = await etong.get(f"/v1/cards/{number}/trips")
    assert reply.status == 200
    assert len(reply.body["items"]) == PAGE_LIMIT_DEFAULT
    assert isinstance(reply.body["nextCursor"], str)


@pytest.mark.parametrize("limit", ["0", str(PAGE_LIMIT_MAX + 1), "-3", "ten", ""])
async def test_bad_limit_is_refused(etong: Etong, limit: str) -> None:
    number = (await etong.card(PERSONAS[0]))["cardNumber"]
    assert_problem(await etong.get(f"/v1/cards/{number}/trips", {"limit": limit}), 400, "invalid-parameter")


async def test_bad_or_foreign_cursor_is_refused(etong: Etong) -> None:
    many = (await etong.card(with_trait(MANY_TRIPS)[0]))["cardNumber"]
    other = (await etong.card(with_trait(MANY_TRIPS)[1]))["cardNumber"]
    first = await etong.get(f"/v1/cards/{many}/trips", {"limit": 5})
    cursor = first.body["nextCursor"]
    assert_problem(await etong.get(f"/v1/cards/{other}/trips", {"cursor": cursor}), 400, "invalid-cursor")
    junk = base64.urlsafe_b64encode(b"[1, 2]").decode()
    for bad in ("!!!", "bm90IGpzb24", junk):
        assert_problem(await etong.get(f"/v1/cards/{many}/trips", {"cursor": bad}), 400, "invalid-cursor")


async def test_trip_formats_and_window(etong: Etong) -> None:
    today = clock.today()
    seen_modes: set[str] = set()
    for persona in PERSONAS:
        number = (await etong.card(persona))["cardNumber"]
        trips, _ = await etong.all_trips(number, PAGE_LIMIT_MAX)
        for trip in trips:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", trip["startedAt"])
            started = datetime.fromisoformat(trip["startedAt"])
            assert today - timedelta(days=TRIP_WINDOW_DAYS) <= started.date() < today
            assert trip["mode"] in {"BUS", "BRT", "METRO", "FERRY"}
            assert trip["line"] and trip["entryStop"]
            # Only flat-fare buses have no exit tap.
            assert (trip["exitStop"] is None) == (trip["mode"] == "BUS")
            assert MONEY.match(trip["fare"]) and MONEY.match(trip["fullFare"])
            seen_modes.add(trip["mode"])
    assert seen_modes == {"BUS", "BRT", "METRO", "FERRY"}


def expected_fare(concession: str, mode: str, full: int) -> int:
    half = (full + 1) // 2
    return {
        "ADULT": full,
        "SENIOR": 0,
        "STUDENT": half,
        "DISABLED": 0 if mode in ("BUS", "BRT") else half,
    }[concession]


async def test_fares_follow_the_concession(etong: Etong) -> None:
    concessions_seen: set[str] = set()
    for persona in PERSONAS:
        card = await etong.card(persona)
        trips, _ = await etong.all_trips(card["cardNumber"], PAGE_LIMIT_MAX)
        for trip in trips:
            full = fen(trip["fullFare"])
            assert full > 0
            assert fen(trip["fare"]) == expected_fare(card["concession"], trip["mode"], full)
        if trips:
            concessions_seen.add(card["concession"])
    assert concessions_seen == {"ADULT", "SENIOR", "STUDENT", "DISABLED"}


async def test_same_persona_same_data(etong: Etong) -> None:
    persona = with_trait(MANY_TRIPS)[0]
    first = await etong.card(persona)
    again = await etong.card(persona)
    assert first == again
    assert (await etong.all_trips(first["cardNumber"], 50)) == (await etong.all_trips(again["cardNumber"], 50))


# --- framework hooks ---------------------------------------------------------------------------


async def test_injected_fault_uses_the_problem_format(etong: Etong) -> None:
    reply = await etong.get(f"/v1/citizens/{PERSONAS[0].card_number}/card", headers={"X-Sandbox-Fault": "error=503"})
    assert_problem(reply, 503, "injected-fault")


async def test_openapi_lists_paths_and_security(anonymous: Etong) -> None:
    reply = await anonymous.get("/openapi.json")
    assert reply.status == 200
    doc = reply.body
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/oauth/token",
        "/v1/citizens/{citizenCardNumber}/card",
        "/v1/cards/{cardNumber}",
        "/v1/cards/{cardNumber}/trips",
    }
    scheme = doc["components"]["securitySchemes"]["etongOAuth"]
    assert scheme["flows"]["clientCredentials"]["tokenUrl"] == "/oauth/token"
    limit = next(p for p in doc["paths"]["/v1/cards/{cardNumber}/trips"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"]["maximum"] == PAGE_LIMIT_MAX
    assert limit["schema"]["default"] == PAGE_LIMIT_DEFAULT
