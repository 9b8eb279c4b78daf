"""What every stand-in agency shares: fault injection, request stats, auth, OpenAPI, control routes.

An agency module defines an ``AgencyDefinition``; ``build_app`` turns it into an aiohttp
application. Control routes under ``/_sandbox/`` are for tests and demos: they skip auth, faults and
stats. ``/openapi.json`` and any token endpoint skip auth, but not faults: an agency that is down
serves no documents either, which is what the hub's readiness check relies on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from sandbox.faults import FAULT_HEADER, HANG_SECONDS, Fault, FaultSyntaxError
from sandbox.stats import RequestStats

log = logging.getLogger("sandbox")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FaultState:
    """Process-wide fault, mutable at run time (aiohttp forbids replacing app state once started)."""

    def __init__(self, fault: Fault) -> None:
        self.current = fault


FAULT_KEY = web.AppKey("fault", FaultState)
STATS_KEY = web.AppKey("stats", RequestStats)
DEFINITION_KEY: web.AppKey[AgencyDefinition] = web.AppKey("definition")

GARBAGE_BODY = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"


class AuthChecker(Protocol):
    async def check(self, request: web.Request) -> str | None: ...


@dataclass(frozen=True)
class AgencyDefinition:
    id: str
    name: str
    # Paths the agency serves, e.g. [web.get("/api/v1/cards/{no}", handler)].
    routes: list[web.RouteDef]
    openapi: dict[str, Any]
    auth: AuthChecker
    # The agency's own error body: (status, code, message) -> response. Used for faults and auth.
    error_response: Callable[[int, str, str], web.Response]
    # Paths that need no credentials besides /openapi.json, e.g. a token endpoint.
    public_paths: frozenset[str] = field(default_factory=frozenset)


def build_app(definition: AgencyDefinition, fault: Fault | None = None) -> web.Application:
    app = web.Application(middlewares=[_stats_and_faults, _authenticate])
    app[DEFINITION_KEY] = definition
    app[FAULT_KEY] = FaultState(fault or Fault())
    app[STATS_KEY] = RequestStats()
    app.router.add_get("/openapi.json", _openapi)
    app.router.add_get("/_sandbox/fault", _get_fault)
    app.router.add_put("/_sandbox/fault", _put_fault)
    app.router.add_get("/_sandbox/stats", _get_stats)
    app.router.add_post("/_sandbox/stats/reset", _reset_stats)
    app.router.add_routes(definition.routes)
    return app


def _is_control(request: web.Request) -> bool:
    return request.path.startswith("/_sandbox/")


@web.middleware
async def _stats_and_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _is_control(request):
        return await handler(request)
    app = request.app
    definition = app[DEFINITION_KEY]
    interval = app[STATS_KEY].begin(request.path)
    try:
        try:
            fault = app[FAULT_KEY].current.plus(Fault.parse(request.headers.get(FAULT_HEADER, "")))
        except FaultSyntaxError as exc:
            return definition.error_response(400, "BAD_FAULT_HEADER", str(exc))
        arrived = asyncio.get_running_loop().time()
        if fault.hang:
            await asyncio.sleep(HANG_SECONDS)
        if fault.drop or fault.error_status is not None or fault.garbage:
            await asyncio.sleep(fault.latency_ms / 1000)
            if fault.drop:
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("sandbox fault: connection dropped")
            if fault.error_status is not None:
                return definition.error_response(fault.error_status, "INJECTED_FAULT", "injected fault")
            return web.Response(text=GARBAGE_BODY, content_type="text/html")
        response = await handler(request)
        # Latency is how long the agency takes to answer, counted from arrival: its own work happens
        # inside that time, as it would in a real system with that response time.
        remaining = fault.latency_ms / 1000 - (asyncio.get_running_loop().time() - arrived)
        if remaining > 0:
            await asyncio.sleep(remaining)
        return response
    finally:
        RequestStats.end(interval)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    definition = request.app[DEFINITION_KEY]
    if _is_control(request) or request.path == "/openapi.json" or request.path in definition.public_paths:
        return await handler(request)
    reason = await definition.auth.check(request)
    if reason is not None:
        log.info("%s refused %s %s: %s", definition.id, request.method, request.path, reason)
        return definition.error_response(401, "UNAUTHORIZED", reason)
    return await handler(request)


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[DEFINITION_KEY].openapi)


async def _get_fault(request: web.Request) -> web.Response:
    # The runner's token for this run (sandbox/runner.py): it tells our agency from another run's on the port.
    run = {"X-Sandbox-Run": os.environ.get("SANDBOX_RUN_TOKEN", "")}
    return web.json_response(request.app[FAULT_KEY].current.to_json(), headers=run)


async def _put_fault(request: web.Request) -> web.Response:
    try:
        fault = Fault.from_json(json.loads(await request.text() or "{}"))
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    request.app[FAULT_KEY].current = fault
    return web.json_response(fault.to_json())


async def _get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].to_json())


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[STATS_KEY].reset()
    return web.json_response({"count": 0})
