"""The library stand-in's wire behaviour, over real HTTP against the running sandbox process."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from sandbox import clock, credentials, personas
from sandbox.runner import Sandbox

KEY = {"X-Library-Key": credentials.LIBRARY_API_KEY}
CST = timezone(timedelta(hours=8))
PREFIX = "/opac/api"

REGISTERED = [p for p in personas.PERSONAS if not p.has(personas.NO_LIBRARY)]
OVERDUE = [p for p in REGISTERED if p.has(personas.OVERDUE_LOANS)]
RESERVING = [p for p in REGISTERED if p.has(personas.RESERVATIONS)]


async def get(
    sandbox: Sandbox, path: str, headers: dict[str, str] | None = None, params: dict[str, str] | None = None
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(sandbox.url("library") + path, headers=KEY if headers is None else headers, params=params) as r,
    ):
        return r.status, await r.json(content_type=None)


async def patron(sandbox: Sandbox, persona: personas.Persona) -> dict[str, Any]:
    status, body = await get(sandbox, f"{PREFIX}/patrons/by-citizen-card/{persona.card_number}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


async def entries(sandbox: Sandbox, patron_id: int, kind: str) -> list[dict[str, Any]]:
    status, body = await get(sandbox, f"{PREFIX}/patrons/{patron_id}/{kind}", params={"limit": "100"})
    assert status == 200, body
    assert body["total"] == len(body["entries"])
    result: list[dict[str, Any]] = body["entries"]
    return result


def assert_error(body: Any, code: int) -> None:
    assert body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]


def china_date_of(millis: int) -> Any:
    return datetime.fromtimestamp(millis / 1000, tz=UTC).astimezone(CST).date()


async def test_openapi_is_served_without_a_key_and_lists_the_paths(sandbox: Sandbox) -> None:
    status, doc = await get(sandbox, "/openapi.json", headers={})
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        f"{PREFIX}/patrons/by-citizen-card/{{cardNo}}",
        f"{PREFIX}/patrons/{{patronId}}/loans",
        f"{PREFIX}/patrons/{{patronId}}/holds",
    }
    scheme = doc["components"]["securitySchemes"]["libraryKey"]
    assert scheme == {"type": "apiKey", "in": "header", "name": "X-Library-Key"}
    loans = doc["paths"][f"{PREFIX}/patrons/{{patronId}}/loans"]["get"]
    assert {p["name"] for p in loans["parameters"]} == {"patronId", "offset", "limit"}


@pytest.mark.parametrize("headers", [{}, {"X-Library-Key": "not-the-key"}, {"X-Api-Key": credentials.LIBRARY_API_KEY}])
async def test_refuses_missing_or_wrong_key_in_its_own_error_format(sandbox: Sandbox, headers: dict[str, str]) -> None:
    status, body = await get(sandbox, f"{PREFIX}/patrons/by-citizen-card/{REGISTERED[0].card_number}", headers=headers)
    assert status == 401
    assert_error(body, 40101)


async def test_patron_record_is_camel_case_with_fines_in_fen(sandbox: Sandbox) -> None:
    persona = next(p for p in REGISTERED if not p.has(personas.OVERDUE_LOANS))
    body = await patron(sandbox, persona)
    assert isinstance(body["patronId"], int)
    assert re.fullmatch(r"LIB\d+", body["cardNumber"])
    assert body["citizenCardNo"] == persona.card_number
    assert body["name"] == persona.name
    assert body["fineBalance"] == 0
    assert isinstance(body["registeredAt"], int)
    assert china_date_of(body["registeredAt"]) <= clock.today()


async def test_rare_names_survive_the_wire(sandbox: Sandbox) -> None:
    for persona in (p for p in REGISTERED if p.has(personas.RARE_NAME)):
        assert (await patron(sandbox, persona))["name"] == persona.name


@pytest.mark.parametrize(
    "card",
    [p.card_number for p in personas.PERSONAS if p.has(personas.NO_LIBRARY)] + ["350299999999"],
)
async def test_no_patron_is_404_in_its_own_error_format(sandbox: Sandbox, card: str) -> None:
    status, body = await get(sandbox, f"{PREFIX}/patrons/by-citizen-card/{card}")
    assert status == 404
    assert_error(body, 40401)


async def test_malformed_card_number_is_400(sandbox: Sandbox) -> None:
    status, body = await get(sandbox, f"{PREFIX}/patrons/by-citizen-card/3502-abc")
    assert status == 400
    assert_error(body, 40003)


@pytest.mark.parametrize("patron_id", ["1", "abc"])
async def test_unknown_patron_id_is_404(sandbox: Sandbox, patron_id: str) -> None:
    status, body = await get(sandbox, f"{PREFIX}/patrons/{patron_id}/loans")
    assert status == 404
    assert_error(body, 40402)


async def test_unknown_endpoint_is_404_in_its_own_error_format(sandbox: Sandbox) -> None:
    status, body = await get(sandbox, f"{PREFIX}/patrons")
    assert status == 404
    assert_error(body, 40404)


async def test_pages_concatenate_to_the_whole_list(sandbox: Sandbox) -> None:
    patron_id = (await patron(sandbox, RESERVING[0]))["patronId"]
    whole = await entries(sandbox, patron_id, "holds")
    assert len(whole) >= 2
    walked: list[dict[str, Any]] = []
    for offset in range(len(whole) + 1):
        status, page = await get(
            sandbox, f"{PREFIX}/patrons/{patron_id}/holds", params={"offset": str(offset), "limit": "1"}
        )
        assert status == 200
        assert (page["offset"], page["limit"], page["total"]) == (offset, 1, len(whole))
        walked.extend(page["entries"])
    assert walked == whole  # the page past the end is empty


async def test_default_page_is_25(sandbox: Sandbox) -> None:
    patron_id = (await patron(sandbox, REGISTERED[0]))["patronId"]
    status, page = await get(sandbox, f"{PREFIX}/patrons/{patron_id}/loans")
    assert status == 200
    assert (page["offset"], page["limit"]) == (0, 25)


@pytest.mark.parametrize(
    "params",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"offset": "-1"}, {"offset": "1.5"}, {"limit": ""}],
)
async def test_bad_paging_parameters_are_400(sandbox: Sandbox, params: dict[str, str]) -> None:
    patron_id = (await patron(sandbox, REGISTERED[0]))["patronId"]
    for kind in ("loans", "holds"):
        status, body = await get(sandbox, f"{PREFIX}/patrons/{patron_id}/{kind}", params=params)
        assert status == 400
        assert_error(body, 40001)


@pytest.mark.parametrize("persona", OVERDUE, ids=lambda p: p.username)
async def test_overdue_loans_carry_fines_of_ten_fen_a_day(sandbox: Sandbox, persona: personas.Persona) -> None:
    today = clock.today()
    record = await patron(sandbox, persona)
    loans = await entries(sandbox, record["patronId"], "loans")
    for loan in loans:
        assert isinstance(loan["borrowedAt"], int)
        assert isinstance(loan["dueAt"], int)
        due = datetime.fromtimestamp(loan["dueAt"] / 1000, tz=UTC).astimezone(CST)
        assert due.time() == time(23, 59, 59)  # due at the end of the day, China time
        days_late = max(0, (today - due.date()).days)
        assert loan["overdue"] is (days_late > 0)
        assert loan["fineAccrued"] == days_late * 10
        assert china_date_of(loan["borrowedAt"]) < due.date()
    assert any(loan["overdue"] for loan in loans)
    assert not all(loan["overdue"] for loan in loans)
    assert record["fineBalance"] == sum(loan["fineAccrued"] for loan in loans) > 0
    assert record["loanCount"] == len(loans)
    borrowed = [loan["borrowedAt"] for loan in loans]
    assert borrowed == sorted(borrowed, reverse=True)


@pytest.mark.parametrize("persona", REGISTERED, ids=lambda p: p.username)
async def test_holds_only_for_reserving_patrons_and_some_ready(sandbox: Sandbox, persona: personas.Persona) -> None:
    holds = await entries(sandbox, (await patron(sandbox, persona))["patronId"], "holds")
    if not persona.has(personas.RESERVATIONS):
        assert holds == []
        return
    statuses = {h["status"] for h in holds}
    assert "READY_FOR_PICKUP" in statuses
    assert statuses - {"READY_FOR_PICKUP"}
    for hold in holds:
        assert hold["status"] in {"READY_FOR_PICKUP", "WAITING", "IN_TRANSIT"}
        assert china_date_of(hold["reservedAt"]) <= clock.today()
        ready = hold["status"] == "READY_FOR_PICKUP"
        assert (hold["pickupBy"] is not None) is ready
        assert (hold["queuePosition"] is not None) is (hold["status"] == "WAITING")


async def test_some_instants_fall_on_the_previous_utc_day(sandbox: Sandbox) -> None:
    """Kiosk loans and online holds before 08:00 China time: what catches a connector ignoring UTC+8."""
    instants: list[int] = []
    for persona in REGISTERED:
        patron_id = (await patron(sandbox, persona))["patronId"]
        instants += [loan["borrowedAt"] for loan in await entries(sandbox, patron_id, "loans")]
        instants += [hold["reservedAt"] for hold in await entries(sandbox, patron_id, "holds")]
    utc_dates = [datetime.fromtimestamp(ms / 1000, tz=UTC).date() for ms in instants]
    assert any(utc != china_date_of(ms) for utc, ms in zip(utc_dates, instants, strict=True))


async def test_injected_fault_answers_in_its_own_error_format(sandbox: Sandbox) -> None:
    status, body = await get(
        sandbox,
        f"{PREFIX}/patrons/by-citizen-card/{REGISTERED[0].card_number}",
        headers={**KEY, "X-Sandbox-Fault": "error=503"},
    )
    assert status == 503
    assert_error(body, 50300)
