"""/healthz, /readyz (status only, for anyone) and /readyz/details (loopback or the operator token)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from starlette.requests import Request

from connectors import versions
from connectors.domain import AGENCY_IDS
from connectors.live import LiveConnectors
from hub.readiness import readyz_details
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub, agency_stats, reset_agency_stats

DETAILS = "/readyz/details"
OPERATOR_TOKEN = "op-" + "x" * 40


async def test_healthz(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + "/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_readyz_tells_anyone_the_status_only_and_calls_no_agency(hub: RunningHub) -> None:
    for agency in AGENCY_IDS:
        reset_agency_stats(hub.sandbox, agency)
    for _ in range(3):
        async with hub.http.get(hub.url + "/readyz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ready"}
    assert sum(agency_stats(hub.sandbox, a)["count"] for a in AGENCY_IDS) == 0


async def test_readyz_details_report_database_and_every_agency(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + DETAILS) as resp:  # loopback: an operator on the machine
        body = await resp.json()
        assert resp.status == 200
    assert body["status"] == "ready"
    assert body["database"] == {"ok": True}
    assert set(body["agencies"]) == set(AGENCY_IDS)
    for report in body["agencies"].values():
        assert report["ok"] is True
        assert report["error"] is None


async def test_readyz_is_degraded_when_the_last_call_to_an_agency_failed(
    hub: RunningHub, clear_faults: Callable[..., None]
) -> None:
    clear_faults("health", error_status=503)
    token = await hub.token(PERSONAS[0].card_number)
    await hub.graphql("{ me { health { healthCardNumber } } }", token)  # the hub learns from its own calls
    async with hub.http.get(hub.url + "/readyz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "degraded"}
    async with hub.http.get(hub.url + DETAILS) as resp:
        body = await resp.json()
        # Still 200: the hub serves every other section; the load balancer should keep it.
        assert resp.status == 200
    assert body["status"] == "degraded"
    assert body["agencies"]["health"]["ok"] is False
    assert body["agencies"]["health"]["error"] == "HTTP 503"  # what its last call got
    assert all(body["agencies"][a]["ok"] for a in AGENCY_IDS if a != "health")
    assert "secret" not in str(body).lower()
    clear_faults("health")
    await hub.graphql("{ me { health { healthCardNumber } } }", token)
    async with hub.http.get(hub.url + "/readyz") as resp:
        assert await resp.json() == {"status": "ready"}


async def test_readyz_names_each_connectors_version_and_its_call_health(hub: RunningHub) -> None:
    token = await hub.token(PERSONAS[0].card_number)
    await hub.graphql("{ me { transit { balance } } }", token)
    async with hub.http.get(hub.url + DETAILS) as resp:
        body = await resp.json()
    transit = body["agencies"]["transit"]
    assert transit["section"] == "transit"
    assert transit["version"] == (await versions.ConnectorState.get(agency="transit")).version
    assert transit["calls"] >= 1
    assert 0 <= transit["errorRate"] <= 1
    assert transit["latencyP50Ms"] > 0 and transit["latencyP95Ms"] >= transit["latencyP50Ms"]
    assert body["disabled"] == []


async def test_readyz_lists_a_disabled_connector_without_calling_the_hub_degraded(hub: RunningHub) -> None:
    live: LiveConnectors = hub.app.state.connectors
    before = (await versions.ConnectorState.get(agency="library")).version
    await versions.disable("library", "tests")
    await live.refresh()
    try:
        async with hub.http.get(hub.url + DETAILS) as resp:
            body = await resp.json()
        assert body["status"] == "ready"
        assert body["disabled"] == ["library"]
        assert "library" not in body["agencies"]
    finally:
        await versions.point_to("library", before, "tests")
        await live.refresh()


async def remote_details(hub: RunningHub, authorization: str | None, operator_token: str) -> tuple[int, dict[str, Any]]:
    """/readyz/details asked from another machine (10.0.0.5), with this operator token configured."""
    app = hub.app
    saved = app.state.settings
    app.state.settings = replace(saved, operator_token=operator_token)
    headers = [(b"authorization", authorization.encode())] if authorization else []
    scope = {"type": "http", "method": "GET", "path": DETAILS, "query_string": b"", "headers": headers,
             "client": ("10.0.0.5", 41000), "app": app}  # fmt: skip
    try:
        response = await readyz_details(Request(scope))
    finally:
        app.state.settings = saved
    return response.status_code, json.loads(bytes(response.body))


async def test_readyz_details_need_the_operator_token_off_the_machine(hub: RunningHub) -> None:
    for authorization, token in [
        (None, OPERATOR_TOKEN),
        ("Bearer wrong-" + "x" * 40, OPERATOR_TOKEN),
        (f"Basic {OPERATOR_TOKEN}", OPERATOR_TOKEN),
        ("Bearer ", ""),  # no operator token configured: loopback only
    ]:
        status, body = await remote_details(hub, authorization, token)
        assert status == 401
        assert "agencies" not in body and "database" not in body
    status, body = await remote_details(hub, f"Bearer {OPERATOR_TOKEN}", OPERATOR_TOKEN)
    assert status == 200
    assert set(body["agencies"]) == set(AGENCY_IDS)
