from __future__ import annotations

from collections.abc import Callable

from connectors import versions
from connectors.domain import AGENCY_IDS
from connectors.live import LiveConnectors
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub


async def test_healthz(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + "/healthz") as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok"}


async def test_readyz_reports_database_and_every_agency(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + "/readyz") as resp:
        body = await resp.json()
        assert resp.status == 200
    assert body["status"] == "ready"
    assert body["database"] == {"ok": True}
    assert set(body["agencies"]) == set(AGENCY_IDS)
    for report in body["agencies"].values():
        assert report["ok"] is True
        assert report["error"] is None
        assert report["lastSuccessAt"] is not None


async def test_readyz_is_degraded_when_an_agency_is_down(hub: RunningHub, clear_faults: Callable[..., None]) -> None:
    clear_faults("health", error_status=503)
    async with hub.http.get(hub.url + "/readyz") as resp:
        body = await resp.json()
        # Still 200: the hub serves every other section; the load balancer should keep it.
        assert resp.status == 200
    assert body["status"] == "degraded"
    assert body["agencies"]["health"]["ok"] is False
    assert body["agencies"]["health"]["error"] == "AGENCY_UNAVAILABLE"
    assert all(body["agencies"][a]["ok"] for a in AGENCY_IDS if a != "health")
    assert "secret" not in str(body).lower()


async def test_readyz_names_each_connectors_version_and_its_call_health(hub: RunningHub) -> None:
    token = await hub.token(PERSONAS[0].card_number)
    await hub.graphql("{ me { transit { balance } } }", token)
    async with hub.http.get(hub.url + "/readyz") as resp:
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
        async with hub.http.get(hub.url + "/readyz") as resp:
            body = await resp.json()
        assert body["status"] == "ready"
        assert body["disabled"] == ["library"]
        assert "library" not in body["agencies"]
    finally:
        await versions.point_to("library", before, "tests")
        await live.refresh()
