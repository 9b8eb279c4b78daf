"""The stand-in Social Security Bureau's wire behaviour, over real HTTP with hand-signed requests.

The signer here is written from docs/agencies/social_security.md, not borrowed from the hub, so
these tests also check that the documented scheme is the one the gateway enforces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest

from sandbox import clock, credentials
from sandbox.personas import NO_SOCIAL_SECURITY, PERSONAS, SENIOR, STUDENT
from sandbox.runner import Sandbox

AGENCY = "social_security"
PREFIX = "/si/api/v2/insured"
CODES = {"YL", "YB", "SY", "GS", "SYU"}
# Documented rates in basis points of the base: personal 8% + 2% + 0.5%, employer 16+8+0.5+0.2+0.7%.
PERSONAL_BP, EMPLOYER_BP = 1050, 2540

EMPLOYED = next(p for p in PERSONAS if p.employer and not p.traits)
NO_SS = next(p for p in PERSONAS if p.has(NO_SOCIAL_SECURITY))


def sign(
    path: str,
    query: str = "",
    *,
    app_id: str = credentials.SOCIAL_SECURITY_APP_ID,
    secret: str = credentials.SOCIAL_SECURITY_HMAC_SECRET,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16)
    canonical_query = urlencode(sorted(parse_qsl(query, keep_blank_values=True)))
    to_sign = "\n".join(["GET", path, canonical_query, ts, nonce, hashlib.sha256(b"").hexdigest()])
    signature = base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).digest()).decode()
    return {"X-Ca-Key": app_id, "X-Ca-Timestamp": ts, "X-Ca-Nonce": nonce, "X-Ca-Signature": signature}


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url(AGENCY)) as session:
        yield session


async def get(
    http: aiohttp.ClientSession, path: str, query: str = "", headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    url = path + (f"?{query}" if query else "")
    async with http.get(url, headers=sign(path, query) if headers is None else headers) as resp:
        return resp.status, await resp.json()


def months_back(n: int) -> str:
    today = clock.today()
    year, month = divmod(today.year * 12 + today.month - 1 - n, 12)
    return f"{year:04d}{month + 1:02d}"


async def test_openapi_is_public_and_lists_the_paths(http: aiohttp.ClientSession) -> None:
    async with http.get("/openapi.json") as resp:
        assert resp.status == 200
        doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {f"{PREFIX}/{{card_no}}", f"{PREFIX}/{{card_no}}/contributions"}
    assert set(doc["components"]["securitySchemes"]) == {"X-Ca-Key", "X-Ca-Timestamp", "X-Ca-Nonce", "X-Ca-Signature"}


async def test_insured_record_formats(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, f"{PREFIX}/{EMPLOYED.card_number}")
    assert status == 200
    assert body["errcode"] == 0 and body["errmsg"] == "ok"
    data = body["data"]
    assert data["card_no"] == EMPLOYED.card_number
    assert data["insured_status"] == "1" and data["employer_name"] == EMPLOYED.employer
    assert data["medical_scheme"] == "ZG"
    balance = data["medical_account_balance"]
    assert isinstance(balance, int) and not isinstance(balance, bool) and balance > 0
    assert {i["insurance_code"] for i in data["insurance_list"]} == CODES
    assert all(i["status"] == "1" and re.fullmatch(r"\d{8}", i["start_date"]) for i in data["insurance_list"])
    assert re.fullmatch(r"\d{8}", data["first_insured_date"])
    assert data["retire_date"] is None
    assert data["query_date"] == clock.today().strftime("%Y%m%d")


async def test_retiree_and_resident_statuses(http: aiohttp.ClientSession) -> None:
    senior = next(p for p in PERSONAS if p.has(SENIOR))
    student = next(p for p in PERSONAS if p.has(STUDENT) and not p.has(NO_SOCIAL_SECURITY))
    _, retired = await get(http, f"{PREFIX}/{senior.card_number}")
    assert retired["data"]["insured_status"] == "3"
    assert retired["data"]["retire_date"] == senior.birth_date.replace(year=senior.birth_date.year + 60).strftime(
        "%Y%m%d"
    )
    assert {(i["insurance_code"], i["status"]) for i in retired["data"]["insurance_list"]} == {("YL", "3"), ("YB", "3")}
    _, resident = await get(http, f"{PREFIX}/{student.card_number}")
    assert resident["data"]["medical_scheme"] == "JM"
    assert [i["insurance_code"] for i in resident["data"]["insurance_list"]] == ["YB"]
    assert resident["data"]["medical_account_balance"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-signature"),
        pytest.param(sign(f"{PREFIX}/{EMPLOYED.card_number}", secret="wrong-secret"), id="wrong-secret"),
        pytest.param(sign(f"{PREFIX}/{EMPLOYED.card_number}", app_id="someone-else"), id="unknown-app"),
        pytest.param(sign(f"{PREFIX}/{EMPLOYED.card_number}", timestamp=int(time.time()) - 3600), id="stale"),
        pytest.param(sign(f"{PREFIX}/{EMPLOYED.card_number}/contributions"), id="signed-for-another-path"),
    ],
)
async def test_auth_refusals_use_the_bureau_error_body(http: aiohttp.ClientSession, headers: dict[str, str]) -> None:
    status, body = await get(http, f"{PREFIX}/{EMPLOYED.card_number}", headers=headers)
    assert status == 401
    assert body["errcode"] == 40101 and isinstance(body["errmsg"], str) and "data" not in body


async def test_signature_covers_the_query(http: aiohttp.ClientSession) -> None:
    path = f"{PREFIX}/{EMPLOYED.card_number}/contributions"
    status, body = await get(http, path, "page=2&size=5", headers=sign(path, "page=1&size=5"))
    assert (status, body["errcode"]) == (401, 40101)
    # Order does not matter: the string to sign uses the sorted query.
    status, body = await get(http, path, "size=5&page=2", headers=sign(path, "page=2&size=5"))
    assert (status, body["errcode"]) == (200, 0)


async def test_nonce_is_single_use(http: aiohttp.ClientSession) -> None:
    path = f"{PREFIX}/{EMPLOYED.card_number}"
    nonce = secrets.token_hex(16)
    first, _ = await get(http, path, headers=sign(path, nonce=nonce))
    replay, body = await get(http, path, headers=sign(path, nonce=nonce))
    assert (first, replay, body["errcode"]) == (200, 401, 40101)


@pytest.mark.parametrize("card_no", [NO_SS.card_number, "350299999999", "abc"])
@pytest.mark.parametrize("suffix", ["", "/contributions"])
async def test_not_found_is_http_200_with_errcode(http: aiohttp.ClientSession, card_no: str, suffix: str) -> None:
    status, body = await get(http, f"{PREFIX}/{card_no}{suffix}")
    assert status == 200
    assert body["errcode"] == 40401 and body["errmsg"] and "data" not in body


async def test_pages_concatenate_to_the_whole_history(http: aiohttp.ClientSession) -> None:
    path = f"{PREFIX}/{EMPLOYED.card_number}/contributions"
    _, whole = await get(http, path, "page=1&size=50")
    assert whole["data"]["total"] == 24 == len(whole["data"]["records"])
    walked: list[Any] = []
    for page in range(1, 6):
        _, body = await get(http, path, f"page={page}&size=5")
        assert (body["data"]["page"], body["data"]["size"], body["data"]["total"]) == (page, 5, 24)
        walked += body["data"]["records"]
    assert walked == whole["data"]["records"]
    assert [r["period"] for r in walked] == [months_back(n) for n in range(1, 25)]
    _, past_the_end = await get(http, path, "page=6&size=5")
    assert past_the_end["data"]["records"] == [] and past_the_end["data"]["total"] == 24


async def test_default_page_is_first_twelve(http: aiohttp.ClientSession) -> None:
    _, body = await get(http, f"{PREFIX}/{EMPLOYED.card_number}/contributions")
    assert (body["data"]["page"], body["data"]["size"], len(body["data"]["records"])) == (1, 12, 12)
    assert body["data"]["records"][0]["period"] == months_back(1)


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=x", "size=0", "size=51", "size=1.5", "page=%C2%B2"])
async def test_bad_paging_parameters_are_400(http: aiohttp.ClientSession, query: str) -> None:
    status, body = await get(http, f"{PREFIX}/{EMPLOYED.card_number}/contributions", query)
    assert (status, body["errcode"]) == (400, 40001)


async def test_contribution_amounts_are_exact_fen(http: aiohttp.ClientSession) -> None:
    _, body = await get(http, f"{PREFIX}/{EMPLOYED.card_number}/contributions", "size=50")
    for r in body["data"]["records"]:
        assert all(type(r[k]) is int for k in ("base", "personal_amount", "employer_amount"))
        assert r["base"] % 100_00 == 0  # whole hundreds of yuan, so no rounding anywhere
        assert r["personal_amount"] * 10_000 == r["base"] * PERSONAL_BP
        assert r["employer_amount"] * 10_000 == r["base"] * EMPLOYER_BP
        assert sum(i["personal_amount"] for i in r["items"]) == r["personal_amount"]
        assert sum(i["employer_amount"] for i in r["items"]) == r["employer_amount"]
        assert {i["insurance_code"] for i in r["items"]} == CODES
        assert r["paid_date"] == r["period"] + "15"
        assert r["employer_name"] == EMPLOYED.employer


@pytest.mark.parametrize("status", [500, 503])
async def test_injected_fault_uses_the_bureau_error_body(http: aiohttp.ClientSession, status: int) -> None:
    path = f"{PREFIX}/{EMPLOYED.card_number}"
    code, body = await get(http, path, headers={**sign(path), "X-Sandbox-Fault": f"error={status}"})
    assert (code, body["errcode"]) == (status, status * 100 + 1)
