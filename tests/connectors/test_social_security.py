"""SocialSecurityConnector against the running stand-in bureau, over real HTTP (no mocks).

Expected values come from the personas' traits and the bureau's documented rules
(docs/agencies/social_security.md), not from the sandbox's own derivation code.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connectors.base import Connector
from connectors.declarative import ManifestConnector as SocialSecurityConnector
from connectors.domain import InsuranceType, SocialSecurity
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyTimeout, AgencyUnavailable
from sandbox import clock
from sandbox.personas import (
    EMPLOYER_CHANGE,
    MEDICAL_ZERO_BALANCE,
    NO_SOCIAL_SECURITY,
    PERSONAS,
    SENIOR,
    STUDENT,
    UNEMPLOYED,
    Persona,
)
from sandbox.runner import Sandbox

AGENCY = "social_security"
CONTRIBUTIONS_PATH = "/contributions"
# Documented contribution rates: personal 8% pension + 2% medical + 0.5% unemployment;
# employer 16% + 8% + 0.5% + 0.2% work injury + 0.7% maternity.
PERSONAL_RATE, EMPLOYER_RATE = Decimal("0.105"), Decimal("0.254")
CENT = Decimal("0.01")
ALL_TYPES = tuple(InsuranceType)

MakeConnector = Callable[..., Awaitable[Connector]]


def with_trait(trait: str) -> list[Persona]:
    return [p for p in PERSONAS if p.has(trait) and not p.has(NO_SOCIAL_SECURITY)]


EMPLOYED = next(p for p in PERSONAS if p.employer and not p.traits)


def period(months_ago: int) -> str:
    today = clock.today()
    year, month = divmod(today.year * 12 + today.month - 1 - months_ago, 12)
    return f"{year:04d}-{month + 1:02d}"


LATEST = period(1)  # the newest period the bureau has closed: last month


async def connect(make_connector: MakeConnector, **kwargs: Any) -> SocialSecurityConnector:
    connector = await make_connector(AGENCY, **kwargs)
    assert isinstance(connector, SocialSecurityConnector)
    return connector


async def fetch(connector: Connector, persona: Persona) -> SocialSecurity:
    section = await connector.fetch(persona.card_number)
    assert isinstance(section, SocialSecurity)
    return section


def stats(sandbox: Sandbox, reset: bool = False) -> list[dict[str, Any]]:
    url = sandbox.url(AGENCY) + ("/_sandbox/stats/reset" if reset else "/_sandbox/stats")
    with urllib.request.urlopen(urllib.request.Request(url, method="POST" if reset else "GET"), timeout=5) as resp:
        body = json.load(resp)
    return [] if reset else list(body["intervals"])


async def test_employed_citizen(make_connector: MakeConnector) -> None:
    section = await fetch(await connect(make_connector), EMPLOYED)
    assert section.insurance_types == ALL_TYPES
    assert section.medical_account_balance > 0 and section.medical_account_balance.as_tuple().exponent == -2
    assert [c.period for c in section.contributions] == [period(n) for n in range(1, 25)]
    for c in section.contributions:
        assert c.employer == EMPLOYED.employer
        assert c.personal_amount == (c.base * PERSONAL_RATE).quantize(CENT)
        assert c.employer_amount == (c.base * EMPLOYER_RATE).quantize(CENT)
        assert all(isinstance(v, Decimal) for v in (c.base, c.personal_amount, c.employer_amount))
    assert section.meta.source == AGENCY


@pytest.mark.parametrize("persona", with_trait(EMPLOYER_CHANGE), ids=lambda p: p.username)
async def test_employer_change_in_june(make_connector: MakeConnector, persona: Persona) -> None:
    section = await fetch(await connect(make_connector), persona)
    latest = date.fromisoformat(LATEST + "-01")
    switch = f"{latest.year if latest.month >= 6 else latest.year - 1}-06"
    assert len(section.contributions) == 24
    for c in section.contributions:
        assert c.employer == (persona.employer if c.period >= switch else persona.previous_employer), c.period
    assert {c.employer for c in section.contributions} == {persona.employer, persona.previous_employer}
    assert section.insurance_types == ALL_TYPES


@pytest.mark.parametrize("persona", with_trait(UNEMPLOYED), ids=lambda p: p.username)
async def test_unemployed_contributions_stop(make_connector: MakeConnector, persona: Persona) -> None:
    section = await fetch(await connect(make_connector), persona)
    periods = [c.period for c in section.contributions]
    # Documented: the last contribution is 3-6 months before the latest period, then nothing.
    stopped = next(n for n in range(4, 8) if periods[0] == period(n))
    assert periods == [period(n) for n in range(stopped, 25)]
    assert {c.employer for c in section.contributions} == {persona.previous_employer}
    # Pension and medical suspended, unemployment benefit being paid; no employer-only insurances.
    assert section.insurance_types == (InsuranceType.PENSION, InsuranceType.MEDICAL, InsuranceType.UNEMPLOYMENT)


@pytest.mark.parametrize("persona", with_trait(SENIOR), ids=lambda p: p.username)
async def test_retired_senior(make_connector: MakeConnector, persona: Persona) -> None:
    section = await fetch(await connect(make_connector), persona)
    assert section.insurance_types == (InsuranceType.PENSION, InsuranceType.MEDICAL)
    assert section.contributions == ()
    assert (section.medical_account_balance == 0) == persona.has(MEDICAL_ZERO_BALANCE)


@pytest.mark.parametrize("persona", with_trait(MEDICAL_ZERO_BALANCE), ids=lambda p: p.username)
async def test_medical_zero_balance(make_connector: MakeConnector, persona: Persona) -> None:
    section = await fetch(await connect(make_connector), persona)
    assert section.medical_account_balance == Decimal("0.00")


@pytest.mark.parametrize("persona", with_trait(STUDENT), ids=lambda p: p.username)
async def test_student_has_resident_medical_only(make_connector: MakeConnector, persona: Persona) -> None:
    section = await fetch(await connect(make_connector), persona)
    assert section.insurance_types == (InsuranceType.MEDICAL,)
    assert section.contributions == ()
    assert section.medical_account_balance == 0  # resident insurance has no personal account


@pytest.mark.parametrize(
    "card_number",
    [*(p.card_number for p in PERSONAS if p.has(NO_SOCIAL_SECURITY)), "350299999999", "../../openapi.json"],
)
async def test_no_account_gives_none(make_connector: MakeConnector, card_number: str) -> None:
    assert await (await connect(make_connector)).fetch(card_number) is None


async def test_walks_every_page(make_connector: MakeConnector, sandbox: Sandbox) -> None:
    whole = await fetch(await connect(make_connector), EMPLOYED)
    connector = await connect(make_connector, page_size=5)
    stats(sandbox, reset=True)
    paged = await fetch(connector, EMPLOYED)
    assert paged.contributions == whole.contributions
    calls = [i["path"] for i in stats(sandbox)]
    assert sum(p.endswith(CONTRIBUTIONS_PATH) for p in calls) == 5  # 24 records in pages of 5
    assert len(calls) == 6


async def test_stops_at_max_items(make_connector: MakeConnector, sandbox: Sandbox) -> None:
    connector = await connect(make_connector, page_size=5)
    connector.max_items = 7
    stats(sandbox, reset=True)
    section = await fetch(connector, EMPLOYED)
    assert [c.period for c in section.contributions] == [period(n) for n in range(1, 8)]
    assert sum(i["path"].endswith(CONTRIBUTIONS_PATH) for i in stats(sandbox)) == 2


async def test_record_and_contributions_are_fetched_concurrently(
    make_connector: MakeConnector, sandbox: Sandbox
) -> None:
    connector = await connect(make_connector, headers={"X-Sandbox-Fault": "latency=150"})
    stats(sandbox, reset=True)
    await fetch(connector, EMPLOYED)
    record, page = sorted(stats(sandbox), key=lambda i: str(i["path"]).endswith(CONTRIBUTIONS_PATH))
    assert record["start"] < page["end"] and page["start"] < record["end"]


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("error=503", AgencyUnavailable),
        ("error=500", AgencyUnavailable),
        ("drop", AgencyUnavailable),
        ("garbage", AgencyBadResponse),
    ],
)
async def test_faults_become_typed_errors(make_connector: MakeConnector, fault: str, error: type[Exception]) -> None:
    connector = await connect(make_connector, headers={"X-Sandbox-Fault": fault})
    with pytest.raises(error):
        await connector.fetch(EMPLOYED.card_number)


async def test_hang_becomes_timeout(make_connector: MakeConnector) -> None:
    connector = await connect(make_connector, timeout_seconds=0.5, headers={"X-Sandbox-Fault": "hang"})
    with pytest.raises(AgencyTimeout):
        await connector.fetch(EMPLOYED.card_number)


async def test_agency_down_process_wide(make_connector: MakeConnector, clear_faults: Callable[..., None]) -> None:
    clear_faults(AGENCY, error_status=503)
    with pytest.raises(AgencyUnavailable):
        await (await connect(make_connector)).fetch(EMPLOYED.card_number)


@pytest.mark.parametrize("override", [{"secret": "not-the-secret"}, {"app_id": "someone-else"}])
async def test_wrong_credentials(make_connector: MakeConnector, override: dict[str, str]) -> None:
    connector = await connect(make_connector, **override)
    with pytest.raises(AgencyAuthFailed):
        await connector.fetch(EMPLOYED.card_number)


async def test_refused_parameters_become_bad_response(make_connector: MakeConnector) -> None:
    connector = await connect(make_connector, page_size=51)  # over the bureau's maximum: HTTP 400, errcode 40001
    with pytest.raises(AgencyBadResponse, match="40001"):
        await connector.fetch(EMPLOYED.card_number)
