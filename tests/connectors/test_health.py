"""HealthConnector against the running stand-in health card platform, over real HTTP (no mocks)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from connectors.base import MAX_ITEMS
from connectors.declarative import ManifestConnector
from connectors.domain import Health, Vaccination, VisitKind
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyError, AgencyTimeout, AgencyUnavailable
from sandbox import clock, credentials, personas
from sandbox.personas import Persona
from sandbox.runner import Sandbox
from tests.conftest import ConnectorFactory

AGENCY = "health"
PREFIX = "/health-card/v1/residents"
DEFAULT_PAGE_SIZE = 20  # the platform's documented default
FLU = "流感疫苗"


def with_trait(trait: str) -> list[Persona]:
    found = [p for p in personas.PERSONAS if p.has(trait)]
    assert found, trait
    return found


def raw(sandbox: Sandbox, path: str) -> Any:
    """The platform's own answer, to check the mapping against."""
    req = urllib.request.Request(sandbox.url(AGENCY) + path, headers={"X-Api-Key": credentials.HEALTH_API_KEY})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


def stats_paths(sandbox: Sandbox) -> list[dict[str, Any]]:
    with urllib.request.urlopen(sandbox.url(AGENCY) + "/_sandbox/stats", timeout=5) as resp:
        intervals: list[dict[str, Any]] = json.loads(resp.read())["intervals"]
        return intervals


def reset_stats(sandbox: Sandbox) -> None:
    req = urllib.request.Request(sandbox.url(AGENCY) + "/_sandbox/stats/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=5):
        pass


async def fetch(make_connector: ConnectorFactory, persona: Persona, **options: Any) -> Health:
    connector = await make_connector(AGENCY, **options)
    section = await connector.fetch(persona.card_number)
    assert isinstance(section, Health)
    return section


def add_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    return date(day.year + year, month + 1, min(day.day, 28))


def age(persona: Persona, today: date) -> int:
    born = persona.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def by_vaccine(shots: tuple[Vaccination, ...]) -> dict[str, list[Vaccination]]:
    grouped: dict[str, list[Vaccination]] = defaultdict(list)
    for shot in sorted(shots, key=lambda s: s.on):
        grouped[shot.vaccine].append(shot)
    return grouped


async def test_maps_the_health_card_as_the_platform_states_it(
    sandbox: Sandbox, make_connector: ConnectorFactory
) -> None:
    for persona in personas.PERSONAS:
        section = await fetch(make_connector, persona)
        wire = raw(sandbox, f"{PREFIX}/{persona.card_number}")
        assert section.health_card_number == wire["health_card_no"]
        assert section.health_card_number.startswith("HC")
        assert section.meta.source == AGENCY
        if persona.has(personas.NO_REGISTERED_CLINIC):
            assert section.registered_clinic is None
        else:
            assert section.registered_clinic == wire["registered_clinic"]["clinic_name"]
            assert str(section.registered_clinic).endswith("社区卫生服务中心")
        for items in (section.visits, section.vaccinations):
            dates = [item.on for item in items]
            assert dates == sorted(dates, reverse=True)  # newest first
            assert all(d <= clock.today() for d in dates)


async def test_many_visits_walks_every_page(sandbox: Sandbox, make_connector: ConnectorFactory) -> None:
    for persona in with_trait(personas.MANY_VISITS):
        path = f"{PREFIX}/{persona.card_number}/visits"
        first_page = raw(sandbox, path)
        total = first_page["total_count"]
        assert first_page["total_pages"] > 1  # the trait: more than one page at the default size
        reset_stats(sandbox)
        section = await fetch(make_connector, persona)
        visit_calls = [i for i in stats_paths(sandbox) if i["path"] == path]
        assert len(section.visits) == min(total, MAX_ITEMS)
        assert len(visit_calls) > 1  # more records than fit one full-size page
        newest = first_page["records"][0]
        assert (section.visits[0].on.isoformat(), section.visits[0].facility, section.visits[0].department) == (
            newest["visit_date"],
            newest["facility_name"],
            newest["department_name"],
        )
        assert section.visits[0].kind is VisitKind[newest["visit_type"].upper()]


async def test_other_residents_have_a_single_page_of_visits(make_connector: ConnectorFactory) -> None:
    for persona in personas.PERSONAS:
        if not persona.has(personas.MANY_VISITS):
            section = await fetch(make_connector, persona)
            assert len(section.visits) <= DEFAULT_PAGE_SIZE


async def test_visit_kinds_cover_outpatient_inpatient_and_emergency(make_connector: ConnectorFactory) -> None:
    kinds: set[VisitKind] = set()
    for persona in with_trait(personas.MANY_VISITS):
        kinds |= {v.kind for v in (await fetch(make_connector, persona)).visits}
    assert kinds == set(VisitKind)


async def test_list_is_capped_at_max_items_keeping_the_newest(make_connector: ConnectorFactory) -> None:
    persona = with_trait(personas.MANY_VISITS)[0]
    everything = await fetch(make_connector, persona)
    connector = await make_connector(AGENCY)
    assert isinstance(connector, ManifestConnector)
    connector.max_items = 30
    capped = await connector.fetch(persona.card_number)
    assert isinstance(capped, Health)
    assert capped.visits == everything.visits[:30]


async def test_seniors_get_a_flu_vaccination_every_year(make_connector: ConnectorFactory) -> None:
    today = clock.today()
    for persona in with_trait(personas.SENIOR):
        section = await fetch(make_connector, persona)
        flu_years = [v.on.year for v in section.vaccinations if v.vaccine == FLU]
        # Each of the last four complete seasons, exactly once; the autumn shot is one dose.
        for year in range(today.year - 4, today.year):
            assert flu_years.count(year) == 1, (persona.name, year)
        assert {v.dose for v in section.vaccinations if v.vaccine == FLU} == {1}


async def test_children_follow_the_childhood_schedule(make_connector: ConnectorFactory) -> None:
    today = clock.today()
    children = [p for p in personas.PERSONAS if p.has(personas.STUDENT) or age(p, today) < 18]
    assert children
    for persona in children:
        born = persona.birth_date
        shots = by_vaccine((await fetch(make_connector, persona)).vaccinations)
        # Hepatitis B: three doses, the first at birth; BCG at birth.
        assert [s.dose for s in shots["乙肝疫苗"]] == [1, 2, 3]
        assert shots["乙肝疫苗"][0].on == born
        assert [s.on for s in shots["卡介苗"]] == [born]
        # MMR: two doses, not before eight months of age.
        assert [s.dose for s in shots["麻腮风疫苗"]] == [1, 2]
        assert shots["麻腮风疫苗"][0].on >= add_months(born, 8)
        for vaccine, series in shots.items():
            if vaccine == FLU:
                continue  # seasonal: each season's shot is dose 1
            # Doses of every series were given in order.
            assert [s.dose for s in series] == list(range(1, len(series) + 1)), vaccine
            assert all(s.on >= born for s in series)


async def test_adults_have_no_childhood_records(make_connector: ConnectorFactory) -> None:
    today = clock.today()
    for persona in personas.PERSONAS:
        if not persona.has(personas.STUDENT) and age(persona, today) >= 18:
            vaccines = {v.vaccine for v in (await fetch(make_connector, persona)).vaccinations}
            assert not vaccines & {"乙肝疫苗", "卡介苗", "麻腮风疫苗"}, persona.name


async def test_fetches_the_three_parts_concurrently(sandbox: Sandbox, make_connector: ConnectorFactory) -> None:
    persona = next(p for p in personas.PERSONAS if not p.traits)
    reset_stats(sandbox)
    await fetch(make_connector, persona, headers={"X-Sandbox-Fault": "latency=150"})
    calls = stats_paths(sandbox)
    assert len(calls) == 3
    assert max(c["start"] for c in calls) < min(c["end"] for c in calls)  # all three were in flight at once


async def test_unknown_citizen_gives_none(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY)
    assert await connector.fetch("350299999999") is None


async def test_malformed_card_number_is_a_bad_response(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY)
    with pytest.raises(AgencyBadResponse):
        await connector.fetch("not-a-card")


@pytest.mark.parametrize(
    ("fault", "error"),
    [("error=503", AgencyUnavailable), ("drop", AgencyUnavailable), ("garbage", AgencyBadResponse)],
)
async def test_faults_become_typed_errors(
    make_connector: ConnectorFactory, fault: str, error: type[AgencyError]
) -> None:
    connector = await make_connector(AGENCY, headers={"X-Sandbox-Fault": fault})
    with pytest.raises(error):
        await connector.fetch(personas.PERSONAS[0].card_number)


async def test_a_hang_becomes_a_timeout(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY, timeout_seconds=0.5, headers={"X-Sandbox-Fault": "hang"})
    started = time.monotonic()
    with pytest.raises(AgencyTimeout):
        await connector.fetch(personas.PERSONAS[0].card_number)
    assert time.monotonic() - started < 2


async def test_process_wide_outage_is_unavailable(
    make_connector: ConnectorFactory, clear_faults: Callable[..., None]
) -> None:
    clear_faults(AGENCY, error_status=503)
    connector = await make_connector(AGENCY)
    with pytest.raises(AgencyUnavailable):
        await connector.fetch(personas.PERSONAS[0].card_number)


async def test_wrong_key_is_auth_failed(make_connector: ConnectorFactory) -> None:
    connector = await make_connector(AGENCY, secret="not-the-key")
    with pytest.raises(AgencyAuthFailed):
        await connector.fetch(personas.PERSONAS[0].card_number)


# --- a misbehaving platform, over real HTTP: shapes the stand-in never produces ---------------

CARD = "350200000001"
GOOD_RESIDENT = {"card_no": CARD, "health_card_no": "HC3502030000000001", "registered_clinic": None}
GOOD_VISIT = {
    "visit_date": "2024-05-06",
    "visit_type": "emergency",
    "facility_name": "厦门大学附属第一医院",
    "department_name": "急诊科",
}
GOOD_SHOT = {"vaccine_name": FLU, "dose_no": 1, "vaccinated_on": "2024-10-20"}


def one_page(*records: object) -> dict[str, Any]:
    return {"total_pages": 1, "records": list(records)}


BROKEN: dict[str, tuple[str, Any]] = {
    "unknown visit kind": ("visits", one_page({**GOOD_VISIT, "visit_type": "checkup"})),
    "other date format": ("visits", one_page({**GOOD_VISIT, "visit_date": "2024/05/06"})),
    "missing department": ("visits", one_page({k: v for k, v in GOOD_VISIT.items() if k != "department_name"})),
    "dose as a string": ("vaccinations", one_page({**GOOD_SHOT, "dose_no": "1"})),
    "dose zero": ("vaccinations", one_page({**GOOD_SHOT, "dose_no": 0})),
    "no records": ("vaccinations", {"total_pages": 1}),
    "total_pages as a string": ("visits", {"total_pages": "1", "records": []}),
    "record not an object": ("visits", one_page("2024-05-06")),
    "clinic without a name": ("resident", {**GOOD_RESIDENT, "registered_clinic": {"clinic_code": "CHC1"}}),
    "another resident": ("resident", {**GOOD_RESIDENT, "card_no": "350200000002"}),
    "resident is a list": ("resident", [GOOD_RESIDENT]),
    "unexpected 403": ("resident", web.HTTPForbidden),
}


@pytest.fixture
async def fake_platform() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A platform whose answers the test sets: {"resident"|"visits"|"vaccinations": body}."""
    answers: dict[str, Any] = {}

    def route(part: str, default: Any) -> web.RouteDef:
        async def handle(request: web.Request) -> web.Response:
            answer = answers.get(part, default)
            if answer is web.HTTPForbidden:
                return web.json_response({"error": {"code": "FORBIDDEN", "message": "no"}}, status=403)
            return web.json_response(answer)

        suffix = "" if part == "resident" else f"/{part}"
        return web.get(f"{PREFIX}/{{card_no}}{suffix}", handle)

    app = web.Application()
    app.add_routes(
        [
            route("resident", GOOD_RESIDENT),
            route("visits", one_page(GOOD_VISIT)),
            route("vaccinations", one_page(GOOD_SHOT)),
        ]
    )
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), answers
    finally:
        await server.close()


async def test_well_formed_answers_map(
    make_connector: ConnectorFactory, fake_platform: tuple[str, dict[str, Any]]
) -> None:
    url, _ = fake_platform
    connector = await make_connector(AGENCY, url=url)
    section = await connector.fetch(CARD)
    assert isinstance(section, Health)
    assert section.visits[0].kind is VisitKind.EMERGENCY
    assert section.vaccinations[0].on == date(2024, 10, 20)


@pytest.mark.parametrize("case", sorted(BROKEN))
async def test_shape_problems_become_bad_response(
    make_connector: ConnectorFactory, fake_platform: tuple[str, dict[str, Any]], case: str
) -> None:
    url, answers = fake_platform
    part, body = BROKEN[case]
    answers[part] = body
    connector = await make_connector(AGENCY, url=url)
    with pytest.raises(AgencyBadResponse):
        await connector.fetch(CARD)
