"""``/graphql`` and ``/oauth/token`` taken straight to their endpoints, past the layers only the pages need.

Every other route goes through Starlette's whole stack: the session cookie middleware (the citizen
pages), the router, the exception handlers. These two need none of them: ``/graphql`` authenticates
by bearer token, the token endpoint by client credentials or a code, neither reads a session, and both
answer their own errors. What they keep is what every route has: the request id, the log context and
the request's metrics (``RequestContext``), a 503 with a code when the hub's database is unavailable,
and a plain 500 with no traceback for anything unexpected (Starlette's ``ServerErrorMiddleware``, the
same one the other routes have, inside ``RequestContext`` here so that the 500 carries the id too).

When tracing is on they go the whole way too, so that their spans wrap them like any route's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.observability.requests import RequestContext
from hub.outage import STORE_ERRORS, store_unavailable

log = logging.getLogger("cardhub")
PATHS = frozenset({"/graphql", "/oauth/token"})  # no session, no page handler: see above

Direct = dict[str, tuple[frozenset[str], ASGIApp]]


class HubApp(Starlette):
    """Starlette, with the ``direct`` paths dispatched before the middleware the pages need."""

    direct: Direct | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.direct and scope["type"] == "http":
            found = self.direct.get(_route_path(scope))
            if found is not None and scope["method"] in found[0]:  # other methods: the router's 405
                scope["app"] = self
                await found[1](scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _route_path(scope: Scope) -> str:
    """The path the router matches: the request's, less the prefix the hub is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def direct_routes(routes: Iterable[BaseRoute], paths: frozenset[str] = PATHS) -> Direct:
    """The routes of ``paths``, each with the request context, the outage answer and the last-resort 500."""
    return {
        route.path: (frozenset(route.methods or ()), RequestContext(ServerErrorMiddleware(_Endpoint(route.app, route))))
        for route in routes
        if isinstance(route, Route) and route.path in paths
    }


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
            path = _route_path(scope)
            log.error("the hub's database is unavailable (%s): %s %s", type(exc).__name__, scope["method"], path)
            await store_unavailable(scope.get("state", {}).get("request_id"))(scope, receive, send)
