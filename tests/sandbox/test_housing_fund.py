"""The housing fund stand-in's wire behaviour over real HTTP: auth, formats, pagination, errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from sandbox import credentials, runner
from sandbox.agencies.housing_fund import encode_page_token
from sandbox.agencies.housing_fund_data import account_for, format_fen
from sandbox.agencies.housing_fund_openapi import MAX_PAGE_SIZE
from sandbox.clock import today
from sandbox.personas import (
    EMPLOYER_CHANGE,
    HOUSING_LOAN,
    HOUSING_NEGATIVE_BALANCE,
    NO_HOUSING_FUND,
    PERSONAS,
    UNEMPLOYED,
    Persona,
)

MONEY = re.compile(r"^-?\d+\.\d{2}$")
DAY = re.compile(r"^\d{4}/\d{2}/\d{2}$")
ACCOUNTS = "/gjj/openapi/accounts"
UNKNOWN_CARD = "350299999999"


def first(trait: str) -> Persona:
    return next(p for p in PERSONAS if p.has(trait))


def day(value: str) -> date:
    return datetime.strptime(value, "%Y/%m/%d").date()


def most_loans() -> Persona:
    card = max((p for p in PERSONAS if p.has(HOUSING_LOAN)), key=lambda p: len(_loans_of(p)))
    assert len(_loans_of(card)) >= 2, "some HOUSING_LOAN persona should also have a settled loan"
    return card


def _loans_of(persona: Persona) -> tuple[object, ...]:
    account = account_for(persona.card_number)
    return () if account is None else account.loans


@pytest.fixture
async def http(sandbox: runner.Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url("housing_fund")) as session:
        yield session


async def token_for(http: aiohttp.ClientSession, secret: str = credentials.HOUSING_FUND_CLIENT_SECRET) -> Any:
    async with http.post(
        "/connect/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": aiohttp.encode_basic_auth(credentials.HOUSING_FUND_CLIENT_ID, secret)},
    ) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def authed(http: aiohttp.ClientSession) -> dict[str, str]:
    status, body = await token_for(http)
    assert status == 200
    return {"Authorization": f"Bearer {body['access_token']}"}


async def get(http: aiohttp.ClientSession, path: str, headers: dict[str, str], **params: str | int) -> tuple[int, Any]:
    async with http.get(path, headers=headers, params=params) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


def assert_error(status: int, body: Any, expected_status: int, code: str) -> None:
    assert status == expected_status
    assert body["success"] is False
    assert body["errorCode"] == code
    assert isinstance(body["errorMsg"], str) and body["errorMsg"]


async def test_openapi_lists_paths_and_security(http: aiohttp.ClientSession) -> None:
    async with http.get("/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    assert {"/connect/token", f"{ACCOUNTS}/{{cardNo}}", f"{ACCOUNTS}/{{cardNo}}/loans"} <= set(doc["paths"])
    flow = doc["components"]["securitySchemes"]["clientCredentials"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/connect/token"


async def test_token_endpoint_issues_bearer_tokens_and_refuses_wrong_secret(
    http: aiohttp.ClientSession,
) -> None:
    status, body = await token_for(http)
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 600 and body["access_token"]
    status, body = await token_for(http, secret="wrong")
    assert (status, body) == (401, {"error": "invalid_client"})


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic Y2FyZGh1Yjp4"])
async def test_data_paths_refuse_missing_or_wrong_token(http: aiohttp.ClientSession, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for path in (f"{ACCOUNTS}/{PERSONAS[0].card_number}", f"{ACCOUNTS}/{PERSONAS[0].card_number}/loans"):
        async with http.get(path, headers=headers) as resp:
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert_error(resp.status, await resp.json(), 401, "UNAUTHORIZED")


async def test_account_format(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    persona = first(HOUSING_LOAN)
    status, body = await get(http, f"{ACCOUNTS}/{persona.card_number}", authed)
    assert status == 200 and body["success"] is True
    data = body["data"]
    assert data["cardNo"] == persona.card_number and data["holderName"] == persona.name
    assert data["accountStatus"] == "NORMAL" and data["sealedDate"] is None
    for money in (data["balance"], data["depositBase"], *data["monthlyDeposit"].values()):
        assert MONEY.match(money)
    for value in (data["openedDate"], data["lastDepositDate"], data["employer"]["since"]):
        assert DAY.match(value)
        assert day(value) <= today()
    assert data["employer"]["unitName"] == persona.employer
    # Both halves are base x rate (bases are whole hundreds of yuan, rates whole percents).
    part = (Decimal(data["depositBase"]) * Decimal(data["depositRate"])).quantize(Decimal("0.01"))
    assert data["monthlyDeposit"] == {"personal": str(part), "employer": str(part)}
    assert part > 0


async def test_rare_name_survives_the_wire(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    persona = next(p for p in PERSONAS if any(ord(c) > 0xFFFF for c in p.name) and not p.has(NO_HOUSING_FUND))
    status, body = await get(http, f"{ACCOUNTS}/{persona.card_number}", authed)
    assert status == 200 and body["data"]["holderName"] == persona.name


async def test_traits_on_the_wire(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    _, negative = await get(http, f"{ACCOUNTS}/{first(HOUSING_NEGATIVE_BALANCE).card_number}", authed)
    assert negative["data"]["balance"].startswith("-") and MONEY.match(negative["data"]["balance"])

    _, sealed = await get(http, f"{ACCOUNTS}/{first(UNEMPLOYED).card_number}", authed)
    data = sealed["data"]
    assert data["accountStatus"] == "SEALED" and data["employer"] is None
    assert data["monthlyDeposit"] == {"personal": "0.00", "employer": "0.00"}
    assert day(data["lastDepositDate"]) < day(data["sealedDate"]) <= today()

    changer = first(EMPLOYER_CHANGE)
    _, moved = await get(http, f"{ACCOUNTS}/{changer.card_number}", authed)
    employer = moved["data"]["employer"]
    assert employer["unitName"] == changer.employer != changer.previous_employer
    assert (today() - day(employer["since"])).days < 366  # changed this year, not when the account opened
    assert day(employer["since"]) > day(moved["data"]["openedDate"])


@pytest.mark.parametrize("card", [first(NO_HOUSING_FUND).card_number, UNKNOWN_CARD])
async def test_no_account_is_account_not_found(http: aiohttp.ClientSession, authed: dict[str, str], card: str) -> None:
    for path in (f"{ACCOUNTS}/{card}", f"{ACCOUNTS}/{card}/loans"):
        status, body = await get(http, path, authed)
        assert_error(status, body, 404, "ACCOUNT_NOT_FOUND")


async def test_malformed_card_and_unknown_path(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    status, body = await get(http, f"{ACCOUNTS}/12ab", authed)
    assert_error(status, body, 400, "INVALID_PARAMETER")
    status, body = await get(http, "/gjj/openapi/nothing-here", authed)
    assert_error(status, body, 404, "RESOURCE_NOT_FOUND")


async def test_loans_format_and_token_pagination(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    persona = most_loans()
    path = f"{ACCOUNTS}/{persona.card_number}/loans"
    status, whole = await get(http, path, authed)
    assert status == 200 and whole["data"]["nextPageToken"] is None
    everything = whole["data"]["loans"]
    assert len(everything) == len(_loans_of(persona))
    starts = [day(loan["startDate"]) for loan in everything]
    assert starts == sorted(starts, reverse=True)
    for loan in everything:
        assert loan["loanStatus"] in {"REPAYING", "SETTLED", "IN_ARREARS"}
        for key in ("loanAmount", "outstandingPrincipal", "monthlyRepayment"):
            assert MONEY.match(loan[key])
        assert DAY.match(loan["startDate"]) and DAY.match(loan["endDate"])

    walked: list[Any] = []
    token: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"pageSize": 1, **({"pageToken": token} if token else {})}
        status, body = await get(http, path, authed, **params)
        assert status == 200 and len(body["data"]["loans"]) == 1
        walked += body["data"]["loans"]
        pages += 1
        token = body["data"]["nextPageToken"]
        if token is None:
            break
    assert pages == len(everything) and walked == everything


@pytest.mark.parametrize("page_size", ["0", str(MAX_PAGE_SIZE + 1), "abc", "-1"])
async def test_bad_page_size(http: aiohttp.ClientSession, authed: dict[str, str], page_size: str) -> None:
    path = f"{ACCOUNTS}/{most_loans().card_number}/loans"
    status, body = await get(http, path, authed, pageSize=page_size)
    assert_error(status, body, 400, "INVALID_PARAMETER")


async def test_bad_page_token(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    persona = most_loans()
    other = next(p for p in PERSONAS if p.has(HOUSING_LOAN) and p is not persona)
    path = f"{ACCOUNTS}/{persona.card_number}/loans"
    for token in (
        "garbage!",
        encode_page_token(other.card_number, 1),
        encode_page_token(persona.card_number, 99),
    ):
        status, body = await get(http, path, authed, pageToken=token)
        assert_error(status, body, 400, "INVALID_PAGE_TOKEN")


async def test_no_loans_is_an_empty_page(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    persona = next(p for p in PERSONAS if not p.has(HOUSING_LOAN) and not p.has(NO_HOUSING_FUND))
    status, body = await get(http, f"{ACCOUNTS}/{persona.card_number}/loans", authed)
    assert status == 200 and body == {"success": True, "data": {"loans": [], "nextPageToken": None}}


async def test_injected_fault_uses_the_centre_error_format(http: aiohttp.ClientSession, authed: dict[str, str]) -> None:
    status, body = await get(http, f"{ACCOUNTS}/{PERSONAS[0].card_number}", {**authed, "X-Sandbox-Fault": "error=503"})
    assert_error(status, body, 503, "INJECTED_FAULT")


def test_format_fen() -> None:
    assert [format_fen(v) for v in (0, 5, 12345, -120000, -7)] == [
        "0.00",
        "0.05",
        "123.45",
        "-1200.00",
        "-0.07",
    ]
