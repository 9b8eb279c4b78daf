"""Patterns and formats an agency's manifest carries cannot stall the event loop: card_number_pattern
runs on RE2 (or is refused when it needs backtracking), strptime formats are short and refused cleanly,
and a hostile agency's largest answers are mapped while a 10 ms ticker keeps ticking."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from connectors.base import MAX_ITEMS, Connector
from connectors.domain import Health
from connectors.errors import AgencyBadResponse
from connectors.manifest import ManifestError, Problem
from connectors.manifest_parsing import from_data
from connectors.patterns import PatternRefused, linear_pattern
from connectors.registry import build_connector
from connectors.runtime import MAX_BODY_BYTES
from sandbox.runner import Sandbox
from tests.conftest import agency_stats, manifest_data, reset_agency_stats

AGENCY = "health"  # api key auth, a single record and two paged lists
TEST_CARD = "350200000001"
TICK = 0.01
MAX_STALL = 0.5  # the longest the loop may go without running the ticker
# Each of these makes Python's `re` try every way of cutting a run of n digits into groups before it
# gives up on the trailing "x": 2**(n-1) paths, about doubling the time per digit. Measured on this
# machine, `^(\d+)+$` took 0.72 s on 24 digits; 27 digits would take about 6 s, every call, on the loop.
BACKTRACKING = [r"^(\d+)+$", r"(\d|\d)*y", r"(\d*)*y"]
NEAR_MISS = "1" * 27 + "x"


# --- helpers ----------------------------------------------------------------------------------------


@dataclass
class Watched:
    outcome: object  # what the call returned, or the exception it raised
    seconds: float
    longest_stall: float  # the longest gap between two ticks of a 10 ms ticker while it ran


async def watched(call: Awaitable[object]) -> Watched:
    loop = asyncio.get_running_loop()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = loop.time()
        while not done.is_set():
            await asyncio.sleep(TICK)
            now = loop.time()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker's clock starts before the call does
    started = time.monotonic()
    outcome: object
    try:
        outcome = await call
    except Exception as exc:
        outcome = exc
    seconds = time.monotonic() - started
    done.set()
    await ticking  # its last gap covers whatever the call did after its last await
    return Watched(outcome, seconds, max(gaps))


Started = Callable[[dict[str, Any]], Awaitable[Connector]]


@pytest.fixture
async def started() -> AsyncIterator[Started]:
    """started(manifest data) -> a running connector for it, closed after the test."""
    made: list[Connector] = []

    async def _start(data: dict[str, Any]) -> Connector:
        connector = build_connector(from_data(data))
        await connector.client.start()
        made.append(connector)
        return connector

    yield _start
    for connector in made:
        await connector.client.close()


def agency_calls(sandbox: Sandbox) -> list[str]:
    return [i["path"] for i in agency_stats(sandbox, AGENCY)["intervals"]]


def refused(data: dict[str, Any]) -> list[Problem]:
    with pytest.raises(ManifestError) as caught:
        from_data(data)
    return caught.value.problems


def with_pattern(sandbox: Sandbox, pattern: str) -> dict[str, Any]:
    data = manifest_data(sandbox, AGENCY)
    data["card_number_pattern"] = pattern
    return data


# --- card_number_pattern ----------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", BACKTRACKING)
async def test_a_backtracking_pattern_runs_in_linear_time(sandbox: Sandbox, started: Started, pattern: str) -> None:
    connector = await started(with_pattern(sandbox, pattern))
    reset_agency_stats(sandbox, AGENCY)
    run = await watched(connector.fetch(NEAR_MISS))
    assert run.outcome is None  # no account here
    assert run.seconds < 1.0
    assert run.longest_stall < MAX_STALL
    assert agency_calls(sandbox) == []  # a number the pattern refuses is never sent


async def test_a_long_card_number_is_matched_in_linear_time(sandbox: Sandbox, started: Started) -> None:
    connector = await started(with_pattern(sandbox, BACKTRACKING[0]))
    run = await watched(connector.fetch("1" * 1_000_000 + "x"))
    assert run.outcome is None
    assert run.longest_stall < MAX_STALL


@pytest.mark.parametrize(
    "pattern",
    [
        r"(\d)\1",  # backreference
        r"(?P<d>\d)(?P=d)",  # named backreference
        r"(?=\d{12})\d+",  # lookahead
        r"(?<=3)\d+",  # lookbehind
        r"\d++",  # possessive
    ],
)
def test_a_pattern_needing_backtracking_is_refused(sandbox: Sandbox, pattern: str) -> None:
    problems = refused(with_pattern(sandbox, pattern))
    assert [p.path for p in problems] == ["card_number_pattern"]
    assert "must be a linear-time (RE2) regular expression" in problems[0].reason


def test_a_pattern_that_is_not_one_is_refused_as_such(sandbox: Sandbox) -> None:
    problems = refused(with_pattern(sandbox, "[0-9"))
    assert [p.path for p in problems] == ["card_number_pattern"]
    assert problems[0].reason.startswith("not a regular expression")


def test_a_pattern_too_large_for_its_memory_budget_is_refused(sandbox: Sandbox) -> None:
    # 1000 repeats of "any letter of any script": a short text, a program of megabytes.
    problems = refused(with_pattern(sandbox, r"\pL{1000}"))
    assert [p.path for p in problems] == ["card_number_pattern"]
    assert problems[0].reason.startswith("too large")


async def test_an_ordinary_pattern_keeps_working(sandbox: Sandbox, started: Started) -> None:
    connector = await started(with_pattern(sandbox, r"^[0-9]{12}$"))
    reset_agency_stats(sandbox, AGENCY)
    for other in ("35020000000X", TEST_CARD + "1", TEST_CARD + "\n", "３５０２０００００００１"):
        assert await connector.fetch(other) is None
    assert agency_calls(sandbox) == []
    section = await connector.fetch(TEST_CARD)
    assert isinstance(section, Health)
    assert agency_calls(sandbox)  # the matching number did reach the agency


def test_linear_pattern_matches_in_full() -> None:
    pattern = linear_pattern(r"[0-9]{6,32}")
    assert pattern.fullmatch(TEST_CARD)
    assert not pattern.fullmatch(TEST_CARD + "x")
    assert not pattern.fullmatch("x" + TEST_CARD)
    with pytest.raises(PatternRefused):
        linear_pattern(r"(\d)\1")


# --- strptime formats: strptime compiles them into regular expressions ---------------------------------


def test_a_date_format_naming_a_directive_twice_is_refused_cleanly(sandbox: Sandbox) -> None:
    # strptime's regex would name the group "d" twice: re.error, not ValueError, used to escape the checks.
    data = manifest_data(sandbox, AGENCY)
    data["mapping"]["lists"]["visits"]["fields"]["on"]["date"] = "%d %d"
    problems = refused(data)
    assert [p.path for p in problems] == ["mapping.lists.visits.fields.on.date"]


def test_a_reformat_format_is_short(sandbox: Sandbox) -> None:
    data = manifest_data(sandbox, "social_security")
    data["mapping"]["lists"]["contributions"]["fields"]["period"]["reformat"]["from"] = "%Y" + " a" * 30_000
    problems = refused(data)
    assert [p.path for p in problems] == ["mapping.lists.contributions.fields.period.reformat.from"]


# --- a hostile agency's answers ---------------------------------------------------------------------------


class HostileAgency:
    """Answers the health manifest's paths with bodies set by the test (prepared bytes, so that building
    them costs the loop nothing while it is watched)."""

    def __init__(self) -> None:
        self.bodies: dict[str, bytes] = {}
        self.url = ""

    def answer(self, suffix: str, body: object) -> None:
        self.bodies[suffix] = json.dumps(body).encode()
        assert len(self.bodies[suffix]) <= MAX_BODY_BYTES  # hostile, but within what the hub accepts

    async def handle(self, request: web.Request) -> web.Response:
        for suffix, body in self.bodies.items():
            if request.path.endswith(suffix):
                return web.Response(body=body, content_type="application/json")
        return web.json_response({"error": {"code": "NOT_FOUND"}}, status=404)


@pytest.fixture
async def hostile(sandbox: Sandbox) -> AsyncIterator[tuple[HostileAgency, dict[str, Any]]]:
    """A hostile agency on a free port and the health manifest pointing at it."""
    agency = HostileAgency()
    app = web.Application()
    app.router.add_get("/{tail:.*}", agency.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    agency.url = f"http://{host}:{port}"
    data = manifest_data(sandbox, AGENCY)
    data["base_url"] = agency.url
    yield agency, data
    await runner.cleanup()


def resident(health_card_no: str) -> dict[str, Any]:
    return {"card_no": TEST_CARD, "health_card_no": health_card_no, "registered_clinic": None}


VISIT = {"visit_date": "2024-03-05", "facility_name": "F", "department_name": "D", "visit_type": "outpatient"}
VACCINATION = {"vaccine_name": "V", "dose_no": 1, "vaccinated_on": "2024-03-05"}


async def test_the_largest_answers_keep_the_loop_responsive(
    hostile: tuple[HostileAgency, dict[str, Any]], started: Started
) -> None:
    agency, data = hostile
    long_text = "健" * (MAX_BODY_BYTES // 4)  # 3 bytes each in UTF-8, 6 as JSON's \uXXXX
    agency.answer(TEST_CARD, resident(long_text[: MAX_BODY_BYTES // 7]))
    # About 4 MiB a page, but no more items than the page size of 100 (more is refused): the bulk is padding.
    many_visits = {"records": [VISIT] * 100, "total_pages": 2, "padding": [VISIT] * 39_900}
    many_vaccinations = {"records": [VACCINATION] * 100, "total_pages": 2, "padding": [VACCINATION] * 59_900}
    agency.answer("/visits", many_visits)
    agency.answer("/vaccinations", many_vaccinations)
    connector = await started(data)

    run = await watched(connector.fetch(TEST_CARD))

    assert isinstance(run.outcome, Health), run.outcome
    assert len(run.outcome.visits) == len(run.outcome.vaccinations) == MAX_ITEMS
    assert run.outcome.health_card_number == long_text[: MAX_BODY_BYTES // 7]
    assert run.seconds < 5.0
    assert run.longest_stall < MAX_STALL


async def test_a_hostile_date_against_a_whitespace_format_is_refused_in_linear_time(
    hostile: tuple[HostileAgency, dict[str, Any]], started: Started
) -> None:
    # strptime turns each run of spaces in the format into \s+; an answer of megabytes of spaces
    # that almost fits makes each \s+ give back one space at a time. Linear, as long as the format is
    # short: every directive may appear once, and none matches spaces alone.
    agency, data = hostile
    data["mapping"]["lists"]["visits"]["fields"]["on"]["date"] = " %d %m %H %M %S %Y"
    spaces = " " * (MAX_BODY_BYTES // 2 - 100)
    agency.answer(TEST_CARD, resident("H1"))
    agency.answer(
        "/visits", {"records": [{**VISIT, "visit_date": spaces + "1" + spaces[:-100] + "x"}], "total_pages": 1}
    )
    agency.answer("/vaccinations", {"records": [], "total_pages": 1})
    connector = await started(data)

    run = await watched(connector.fetch(TEST_CARD))

    assert isinstance(run.outcome, AgencyBadResponse), run.outcome
    assert run.seconds < 5.0
    assert run.longest_stall < MAX_STALL
