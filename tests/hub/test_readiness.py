from __future__ import annotations

from collections.abc import Callable

from connectors.domain import AGENCY_IDS
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
