"""One request id for every route (``/graphql``, ``/oauth/*``, the citizen pages, the probes).

The id is the caller's ``X-Request-Id`` when it is a plain token of up to 64 characters, else a new
one; it is answered in the ``X-Request-Id`` header, kept in ``request.state.request_id`` and bound to
the log context, so every line logged while the request runs carries it (and the trace id: of the
current span when tracing is on, else of a W3C ``traceparent`` the caller sent). Each request is
also counted and timed by its route template (telemetry/metrics.py), never by its raw path.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.requests import Request
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry import metrics

HEADER = b"x-request-id"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


def request_id(request: Request) -> str:
    """The request's id, given by ``RequestContext`` (or, for an app mounted without it, made here)."""
    found: str | None = getattr(request.state, "request_id", None)
    if found is None:
        found = _chosen(request.headers.get("x-request-id", ""))
        request.state.request_id = found
    return found


def _chosen(supplied: str) -> str:
    return supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex


class RequestContext:
    """ASGI middleware: the request id, the log context, the request's metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = _chosen(headers.get(HEADER, b"").decode("latin-1"))
        scope.setdefault("state", {})["request_id"] = rid
        # Each request runs in a task of its own, so the binding ends with it; it is not reset on the
        # way out, so that uvicorn's own line about an unhandled error still carries the id.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=rid)
        if parent := _TRACEPARENT.match(headers.get(b"traceparent", b"").decode("latin-1")):
            structlog.contextvars.bind_contextvars(trace_id=parent.group(1))
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out = list(message.get("headers", []))
                if not any(name.lower() == HEADER for name, _ in out):
                    out.append((HEADER, rid.encode()))
                message = {**message, "headers": out}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            metrics.http_request(_route(scope), method, status, time.perf_counter() - started)


def _route(scope: Scope) -> str:
    """The matched route's template (``/oauth/token``), or "unmatched": a raw path could be anything."""
    route = scope.get("route")
    return str(route.path) if isinstance(route, BaseRoute) and hasattr(route, "path") else "unmatched"
