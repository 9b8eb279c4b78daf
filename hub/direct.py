"""``/graphql`` taken straight to its endpoint, past the layers only the pages need.

Every other route goes through Starlette's whole stack: the session cookie middleware (the citizen
pages), the router, the exception handlers. ``/graphql`` needs none of them: it authenticates by
bearer token and never reads a session, and it answers its own errors. What it keeps is what every
route has: the request id, the log context and the request's metrics (``RequestContext``), a 503
with a code when the hub's database is unavailable, and a plain 500 with no traceback for anything
unexpected (Starlette's ``ServerErrorMiddleware``, the same one the other routes have).

When tracing is on, ``/graphql`` goes the whole way too, so that its span wraps it like any route.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.observability.requests import RequestContext
from hub.outage import STORE_ERRORS, store_unavailable

log = logging.getLogger("cardhub")
PATH = "/graphql"
METHODS = frozenset({"GET", "POST"})  # others go the whole way: the router answers 405 with Allow


class HubApp(Starlette):
    """Starlette, with ``/graphql`` dispatched before the middleware the pages need (``direct``)."""

    direct: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.direct is not None
            and scope["type"] == "http"
            and scope["method"] in METHODS
            and _route_path(scope) == PATH
        ):
            scope["app"] = self
            await self.direct(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the router matches: the request's, less the prefix the hub is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def direct_stack(endpoint: ASGIApp, route: BaseRoute) -> ASGIApp:
    """``endpoint`` with the request context, the database-outage answer and the last-resort 500."""
    return RequestContext(ServerErrorMiddleware(_Endpoint(endpoint, route)))  # the 500 carries the id too


class _Endpoint:
    """The route's part: names the route for the metrics, and answers a database outage with 503."""

    def __init__(self, endpoint: ASGIApp, route: BaseRoute) -> None:
        self.endpoint = endpoint
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self.route
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.endpoint(scope, receive, watched)
        except STORE_ERRORS as exc:
            if started:
                raise
            log.error("the hub's database is unavailable (%s): %s %s", type(exc).__name__, scope["method"], PATH)
            await store_unavailable(scope.get("state", {}).get("request_id"))(scope, receive, send)
