"""/healthz (the process is alive), /readyz (may it take traffic) and /readyz/details (why, for operators).

/readyz calls no agency: it reads how the hub's own recent calls to each agency went (the call
statistics in ``connectors.runtime``, summed up by ``connectors.health``), and pings only the hub's
database. Anyone may ask it, and learns the status and nothing else. The details (each agency's
health, connector versions, the database's error) go to loopback callers and to callers presenting
the operator token (``operator_token``), compared in constant time.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise import connections

from auth.audit.sequencer import Sequencer
from connectors.base import Connector
from connectors.health import call_health
from connectors.live import LiveConnectors

PING_TIMEOUT_SECONDS = 2.0
LOOPBACK = frozenset({"127.0.0.1", "::1"})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    body, code = await _readiness(request.app.state.connectors, getattr(request.app.state, "audit_sequencer", None))
    return JSONResponse({"status": body["status"]}, status_code=code)


async def readyz_details(request: Request) -> JSONResponse:
    if not is_operator(request):
        return JSONResponse(
            {"error": "operator token required", "status": None},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="cardhub-operator"'},
        )
    body, code = await _readiness(request.app.state.connectors, getattr(request.app.state, "audit_sequencer", None))
    return JSONResponse(body, status_code=code)


def is_operator(request: Request) -> bool:
    """A loopback caller, or one presenting the operator token (also the rule of /metrics)."""
    if request.client is not None and request.client.host in LOOPBACK:
        return True
    expected: str = request.app.state.settings.operator_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


async def _readiness(live: LiveConnectors, audit: Sequencer | None = None) -> tuple[dict[str, Any], int]:
    database = await _database()
    # The access log's sequencer, as it last looked (no query here): behind, it makes the hub degraded:
    # reads are still recorded before they answer, but wait longer to be in a signed checkpoint.
    audit_log = audit.status.as_json() if audit is not None else None
    agencies = {
        agency: {"section": c.section, "version": live.version_of(agency)} | _agency(c)
        for agency, c in live.by_agency().items()
    }
    if not database["ok"]:
        status, code = "unavailable", 503
    elif all(a["ok"] for a in agencies.values()) and (audit_log is None or audit_log["ok"]):
        status, code = "ready", 200
    else:
        # The hub still serves: sections of the agencies that are down come back null with an error.
        status, code = "degraded", 200
    # A disabled connector was turned off on purpose: listed, but not a reason to call the hub degraded.
    body = {"status": status, "database": database, "agencies": agencies, "disabled": live.disabled()}
    return body | ({"audit_log": audit_log} if audit_log is not None else {}), code


async def _database() -> dict[str, Any]:
    try:
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), PING_TIMEOUT_SECONDS)
    except Exception as exc:  # any driver failure means "not ready"; the reason is logged, not leaked
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True}


def _agency(connector: Connector) -> dict[str, Any]:
    """Down when the hub's most recent call to it failed; up when it succeeded or none was made yet."""
    stats = connector.client.stats
    failed = bool(stats.outcomes) and stats.outcomes[-1]
    return {"ok": not failed, "error": stats.last_error if failed else None} | call_health(connector).as_json()
