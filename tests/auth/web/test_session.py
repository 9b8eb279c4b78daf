"""The session cookie: keys rotate without logging anyone out, the id is new at each login, and a
session ends after its idle time as well as its absolute lifetime."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth.web import session

POLICY = session.SessionPolicy(lifetime_seconds=3600, idle_seconds=600)


def app(keys: Sequence[bytes]) -> Starlette:
    async def log_in(request: Request) -> Response:
        session.login(request, request.path_params["card"])
        return JSONResponse({"sid": session.session_id(request)})

    async def who(request: Request) -> Response:
        return JSONResponse({"card": session.current_citizen(request), "sid": session.session_id(request)})

    async def plant(request: Request) -> Response:  # what a visitor's session held before logging in
        request.session["planted"] = "by-an-attacker"
        return JSONResponse({})

    return Starlette(
        routes=[Route("/login/{card}", log_in), Route("/who", who), Route("/plant", plant)],
        middleware=[session.middleware(keys, https_only=False, policy=POLICY)],
    )


def client(keys: Sequence[bytes]) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app(keys)), base_url="http://hub.test")


OLD, NEW, OTHER = (secrets.token_bytes(32) for _ in range(3))


async def test_a_cookie_signed_with_the_old_key_still_verifies_after_a_new_key_goes_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = time.time()
    async with client([OLD]) as before:
        await before.get("/login/3501")
        cookie = before.cookies[session.COOKIE_NAME]
    async with client([NEW, OLD]) as after:
        after.cookies.set(session.COOKIE_NAME, cookie, domain="hub.test")
        monkeypatch.setattr(time, "time", lambda: start + 5)  # a later page: the cookie is written again
        answer = await after.get("/who")
        assert answer.json()["card"] == "3501"
        resigned = answer.headers["set-cookie"].split(";")[0].removeprefix(session.COOKIE_NAME + "=")
        assert resigned != cookie
    # What the hub sends back is signed with the new key: it verifies once the old key is dropped.
    async with client([NEW]) as later:
        later.cookies.set(session.COOKIE_NAME, resigned, domain="hub.test")
        assert (await later.get("/who")).json()["card"] == "3501"
    async with client([OTHER]) as stranger:
        stranger.cookies.set(session.COOKIE_NAME, cookie, domain="hub.test")
        assert (await stranger.get("/who")).json()["card"] is None


async def test_the_session_id_is_new_at_every_login_and_nothing_from_before_survives() -> None:
    async with client([NEW]) as http:
        await http.get("/plant")
        first = (await http.get("/login/3501")).json()["sid"]
        second = (await http.get("/login/3501")).json()["sid"]
        assert first and second and first != second
        assert (await http.get("/who")).json() == {"card": "3501", "sid": second}
        assert "planted" not in session_contents(http)


def session_contents(http: httpx2.AsyncClient) -> str:
    import base64

    payload = http.cookies[session.COOKIE_NAME].split(".")[0]
    return base64.b64decode(payload + "=" * (-len(payload) % 4)).decode()


@pytest.mark.parametrize(("idle", "since_login", "logged_in"), [
    (POLICY.idle_seconds - 5, POLICY.idle_seconds - 5, True),
    (POLICY.idle_seconds + 5, POLICY.idle_seconds + 5, False),  # idle too long
    (60, POLICY.lifetime_seconds + 5, False),  # active all along, but past the absolute lifetime
])  # fmt: skip
async def test_a_session_ends_after_its_idle_time_and_after_its_lifetime(
    monkeypatch: pytest.MonkeyPatch, idle: int, since_login: int, logged_in: bool
) -> None:
    async with client([NEW]) as http:
        start = time.time()
        await http.get("/login/3501")
        # Active every 500 s until `idle` seconds ago, logged in `since_login` seconds ago.
        for at in range(500, since_login - idle + 1, 500):
            monkeypatch.setattr(time, "time", lambda at=at: start + at)
            assert (await http.get("/who")).json()["card"] == "3501"
        monkeypatch.setattr(time, "time", lambda: start + since_login)
        assert ((await http.get("/who")).json()["card"] == "3501") is logged_in
