"""``/graphql`` and ``/oauth/token`` dispatched past the pages' middleware: they keep what every route has
(request id, metrics route, a coded 503 on a database outage, a 500 without a traceback) and nothing more."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx2
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send
from tortoise.exceptions import OperationalError

from auth import clients
from auth.clients import ClientType
from connectors.runtime import client_secret_basic
from hub.direct import HubApp, direct_routes
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

ME = {"query": "{ me { cardNumber } }"}
ALICE = PERSONAS[0].card_number


async def test_graphql_and_the_token_endpoint_set_no_session_cookie_and_other_methods_get_405(hub: RunningHub) -> None:
    agency, secret = await clients.create("Direct Agency", ClientType.AGENCY, [], frozenset({"transit"}), "ops")
    assert secret is not None
    agency_credentials = (agency.client_id, secret)
    token = await hub.token(ALICE)
    async with hub.http.post(hub.url + "/graphql", json=ME, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["data"]["me"]["cardNumber"] == ALICE
        assert "Set-Cookie" not in resp.headers
        assert len(resp.headers.getall("X-Request-Id")) == 1
    async with hub.http.put(hub.url + "/graphql", json=ME) as resp:
        assert resp.status == 405
        assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    async with hub.http.post(
        hub.url + "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": client_secret_basic(*agency_credentials)},
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["token_type"] == "Bearer"
        assert "Set-Cookie" not in resp.headers
        assert len(resp.headers.getall("X-Request-Id")) == 1
    async with hub.http.get(hub.url + "/oauth/token") as resp:
        assert resp.status == 405


def _app(endpoint: Callable[[Scope, Receive, Send], Awaitable[None]]) -> HubApp:
    async def fallback(request: Request) -> Response:
        return JSONResponse({"via": "router"})

    app = HubApp(routes=[Route("/graphql", fallback, methods=["GET", "POST"])])
    app.direct = direct_routes([Route("/graphql", _Asgi(endpoint), methods=["GET", "POST"])])
    return app


class _Asgi:
    """An ASGI app as an object: Route calls a plain function with a Request instead."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _client(app: HubApp, root_path: str = "") -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app, raise_app_exceptions=False, root_path=root_path),
        base_url="http://hub.test",
    )


async def test_a_database_outage_is_a_coded_503_with_the_request_id() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["route"].path == "/graphql"  # named for the metrics
        raise OperationalError("connection refused: postgres://hub:secret@db/hub")

    async with _client(_app(endpoint)) as client:
        answer = await client.post("/graphql", json=ME, headers={"X-Request-Id": "outage-1"})
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert answer.headers.get_list("X-Request-Id") == ["outage-1"]
    assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "secret" not in answer.text and "Traceback" not in answer.text


async def test_an_unexpected_error_is_a_plain_500_without_a_traceback() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("internal detail: key=abc123")

    async with _client(_app(endpoint)) as client:
        answer = await client.post("/graphql", json=ME)
    assert answer.status_code == 500
    assert "abc123" not in answer.text and "Traceback" not in answer.text
    assert answer.headers.get("X-Request-Id")


async def test_a_failure_after_the_answer_started_is_not_answered_twice() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise OperationalError("gone mid-answer")

    sent = _Sent()
    with pytest.raises(OperationalError):
        await _app(endpoint)(
            {"type": "http", "method": "POST", "path": "/graphql", "headers": [], "query_string": b""},
            _no_body,
            sent,
        )
    assert [m["status"] for m in sent.messages if m["type"] == "http.response.start"] == [200]


async def test_only_graphql_gets_and_posts_go_direct_and_a_mount_prefix_is_honoured() -> None:
    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await JSONResponse({"via": "direct"})(scope, receive, send)

    app = _app(endpoint)
    async with _client(app) as client:
        assert (await client.post("/graphql", json=ME)).json() == {"via": "direct"}
        assert (await client.get("/graphql")).json() == {"via": "direct"}
        assert (await client.put("/graphql")).status_code == 405
        assert (await client.post("/graphql/x")).status_code == 404
    async with _client(app, root_path="/hub") as client:
        assert (await client.post("/hub/graphql", json=ME)).json() == {"via": "direct"}
    app.direct = None  # with tracing on, create_app leaves it unset: the router answers
    async with _client(app) as client:
        assert (await client.post("/graphql", json=ME)).json() == {"via": "router"}


async def _no_body() -> dict[str, object]:
    return {"type": "http.request", "body": b"", "more_body": False}


class _Sent:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)
