"""/healthz (the process is alive) and /readyz (the database and each agency, checked now)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from connectors.base import Connector
from connectors.errors import AgencyError
from connectors.health import call_health
from connectors.live import LiveConnectors

PING_TIMEOUT_SECONDS = 2.0


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    live: LiveConnectors = request.app.state.connectors
    database, agencies = await asyncio.gather(_database(), _agencies(live))
    if not database["ok"]:
        status, code = "unavailable", 503
    elif all(a["ok"] for a in agencies.values()):
        status, code = "ready", 200
    else:
        # The hub still serves: sections of the agencies that are down come back null with an error.
        status, code = "degraded", 200
    # A disabled connector was turned off on purpose: listed, but not a reason to call the hub degraded.
    body = {"status": status, "database": database, "agencies": agencies, "disabled": live.disabled()}
    return JSONResponse(body, status_code=code)


async def _database() -> dict[str, Any]:
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), PING_TIMEOUT_SECONDS)
    except Exception as exc:  # any driver failure means "not ready"; the reason is logged, not leaked
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


async def _agencies(live: LiveConnectors) -> dict[str, dict[str, Any]]:
    running = live.by_agency()
    results = await asyncio.gather(*(_agency(c) for c in running.values()))
    reports = {
        agency: {"section": c.section, "version": live.version_of(agency)} | report
        for (agency, c), report in zip(running.items(), results, strict=True)
    }
    return reports


async def _agency(connector: Connector) -> dict[str, Any]:
    """Reachable now (a ping), and how its recent calls went (connectors.health)."""
    started = time.monotonic()
    error: str | None = None
    try:
        await asyncio.wait_for(connector.ping(), PING_TIMEOUT_SECONDS)
    except AgencyError as exc:
        error = exc.code
    except TimeoutError:
        error = "AGENCY_TIMEOUT"
    return {"ok": error is None, "error": error, "pingMs": round((time.monotonic() - started) * 1000, 1)} | (
        call_health(connector).as_json()
    )
