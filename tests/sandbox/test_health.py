"""The health card platform's wire behaviour, over real HTTP against the running stand-in."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aiohttp
import pytest

from sandbox import clock, credentials, personas
from sandbox.runner import Sandbox

PREFIX = "/health-card/v1/residents"
KEY = {"X-Api-Key": credentials.HEALTH_API_KEY}
UNKNOWN_CARD = "350299999999"
SNAKE = re.compile(r"[a-z][a-z0-9_]*")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
MANY = next(p for p in personas.PERSONAS if p.has(personas.MANY_VISITS))
PLAIN = next(p for p in personas.PERSONAS if not p.traits)


@pytest.fixture
async def http(sandbox: Sandbox) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=sandbox.url("health")) as session:
        yield session


async def get(
    http: aiohttp.ClientSession,
    path: str,
    params: dict[str, str] | None = None,
    headers: dict[str, str] = KEY,
) -> tuple[int, Any]:
    async with http.get(path, params=params, headers=headers) as resp:
        assert resp.content_type == "application/json"
        return resp.status, await resp.json()


def assert_error(body: Any, code: str) -> None:
    assert body == {"error": {"code": code, "message": body["error"]["message"]}}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


@pytest.mark.parametrize("headers", [{}, {"X-Api-Key": "wrong-key"}, {"Authorization": KEY["X-Api-Key"]}])
@pytest.mark.parametrize("suffix", ["", "/visits", "/vaccinations"])
async def test_refuses_missing_or_wrong_key(http: aiohttp.ClientSession, headers: dict[str, str], suffix: str) -> None:
    status, body = await get(http, f"{PREFIX}/{PLAIN.card_number}{suffix}", headers=headers)
    assert status == 401
    assert_error(body, "UNAUTHORIZED")


async def test_openapi_is_public_and_lists_every_path(http: aiohttp.ClientSession) -> None:
    status, doc = await get(http, "/openapi.json", headers={})
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        f"{PREFIX}/{{card_no}}",
        f"{PREFIX}/{{card_no}}/visits",
        f"{PREFIX}/{{card_no}}/vaccinations",
    }
    assert doc["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Api-Key",
    }
    for path in doc["paths"]:
        # Every documented path is really served.
        served, _ = await get(http, path.replace("{card_no}", PLAIN.card_number))
        assert served == 200, path


async def test_every_persona_has_a_health_card(http: aiohttp.ClientSession) -> None:
    for persona in personas.PERSONAS:
        status, body = await get(http, f"{PREFIX}/{persona.card_number}")
        assert status == 200, persona.card_number
        assert body["card_no"] == persona.card_number
        assert re.fullmatch(r"HC\d{16}", body["health_card_no"])
        clinic = body["registered_clinic"]
        if persona.has(personas.NO_REGISTERED_CLINIC):
            assert clinic is None
        else:
            assert clinic["clinic_name"].endswith("社区卫生服务中心")
            assert date.fromisoformat(clinic["signed_on"]) <= clock.today()


@pytest.mark.parametrize("suffix", ["", "/visits", "/vaccinations"])
async def test_unknown_resident_is_not_found(http: aiohttp.ClientSession, suffix: str) -> None:
    status, body = await get(http, f"{PREFIX}/{UNKNOWN_CARD}{suffix}")
    assert status == 404
    assert_error(body, "NOT_FOUND")


async def test_malformed_card_number_is_a_bad_request(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, f"{PREFIX}/3502-abc")
    assert status == 400
    assert_error(body, "INVALID_PARAMETER")


async def test_pages_cover_every_record_once_newest_first(http: aiohttp.ClientSession) -> None:
    path = f"{PREFIX}/{MANY.card_number}/visits"
    status, first = await get(http, path)
    assert status == 200
    assert (first["page_no"], first["page_size"]) == (1, 20)  # the documented defaults
    total = first["total_count"]
    assert first["total_pages"] == math.ceil(total / 20) > 1  # MANY_VISITS: more than one page
    records: list[dict[str, Any]] = []
    for page_no in range(1, first["total_pages"] + 1):
        _, page = await get(http, path, {"page_no": str(page_no), "page_size": "20"})
        assert page["page_no"] == page_no and page["total_count"] == total
        assert 0 < len(page["records"]) <= 20
        records += page["records"]
    assert len(records) == total
    assert len({r["visit_no"] for r in records}) == total
    dates = [r["visit_date"] for r in records]
    assert dates == sorted(dates, reverse=True)
    _, past_end = await get(http, path, {"page_no": str(first["total_pages"] + 1)})
    assert past_end["records"] == [] and past_end["total_count"] == total
    _, largest = await get(http, path, {"page_size": "100"})
    assert largest["records"] == records[:100]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page_size", "0"),
        ("page_size", "101"),
        ("page_size", "abc"),
        ("page_size", "-5"),
        ("page_size", "2.5"),
        ("page_no", "0"),
        ("page_no", "first"),
        ("page_no", ""),
    ],
)
async def test_bad_paging_parameters_are_refused(http: aiohttp.ClientSession, name: str, value: str) -> None:
    status, body = await get(http, f"{PREFIX}/{MANY.card_number}/visits", {name: value})
    assert status == 400
    assert_error(body, "INVALID_PARAMETER")
    assert name in body["error"]["message"]


def walk(value: Any, found: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            found.append((key, item))
            walk(item, found)
    elif isinstance(value, list):
        for item in value:
            walk(item, found)
    return found


async def test_formats_are_as_documented(http: aiohttp.ClientSession) -> None:
    child = next(p for p in personas.PERSONAS if p.has(personas.STUDENT))
    for persona in (MANY, child):
        for suffix in ("", "/visits", "/vaccinations"):
            _, body = await get(
                http, f"{PREFIX}/{persona.card_number}{suffix}", {"page_size": "100"} if suffix else None
            )
            for key, value in walk(body, []):
                assert SNAKE.fullmatch(key), key
                if key.endswith(("_date", "_on")) and value is not None:
                    assert ISO_DATE.fullmatch(value), (key, value)
                    date.fromisoformat(value)
    _, visits = await get(http, f"{PREFIX}/{MANY.card_number}/visits", {"page_size": "100"})
    assert {v["visit_type"] for v in visits["records"]} <= {"outpatient", "inpatient", "emergency"}
    for visit in visits["records"]:
        if visit["visit_type"] != "inpatient":
            assert visit["discharge_date"] is None
    _, shots = await get(http, f"{PREFIX}/{child.card_number}/vaccinations", {"page_size": "100"})
    assert all(type(s["dose_no"]) is int and s["dose_no"] >= 1 for s in shots["records"])


async def test_injected_fault_answers_in_the_platform_error_format(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, f"{PREFIX}/{PLAIN.card_number}", headers={**KEY, "X-Sandbox-Fault": "error=503"})
    assert status == 503
    assert_error(body, "INJECTED_FAULT")


async def test_answers_are_deterministic(http: aiohttp.ClientSession) -> None:
    path = f"{PREFIX}/{MANY.card_number}/vaccinations"
    assert await get(http, path) == await get(http, path)
