"""The shared HTTP runtime against a small misbehaving agency (an aiohttp server on loopback)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from connectors.agency_auth import ApiKeyAuth, HmacAuth, string_to_sign
from connectors.errors import AgencyAuthFailed, AgencyBadResponse, AgencyRateLimited, AgencyTimeout, AgencyUnavailable
from connectors.runtime import MAX_BODY_BYTES, AgencyClient, AgencyEndpoint, RetryPolicy
from sandbox.runner import free_port

SEEN_COOKIES: list[str | None] = []
CALLS: list[str] = []


async def set_cookie(request: web.Request) -> web.Response:
    SEEN_COOKIES.append(request.headers.get("Cookie"))
    response = web.json_response({"ok": True})
    response.set_cookie("session", "citizen-a")
    return response


async def huge(request: web.Request) -> web.Response:
    return web.Response(body=b"[" + b"1," * MAX_BODY_BYTES + b"1]", content_type="application/json")


async def big(request: web.Request) -> web.Response:
    return web.json_response(list(range(200_000)))  # about 1.3 MB


async def huge_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(b"[")
    for _ in range(MAX_BODY_BYTES // 65536 + 2):
        await response.write(b"1," * 32768)
    await response.write(b"1]")
    return response


async def maintenance(request: web.Request) -> web.Response:
    return web.Response(status=502, text="<html>Bad Gateway</html>", content_type="text/html")


FLAKY: list[int] = []


async def flaky(request: web.Request) -> web.Response:
    """Fails with 503 until it has failed ``?times=N`` times."""
    FLAKY.append(1)
    if len(FLAKY) <= int(request.query.get("times", "1")):
        return web.Response(status=503, text="busy")
    return web.json_response({"ok": True})


async def refuse(request: web.Request) -> web.Response:
    CALLS.append(request.headers.get("X-Key", ""))
    return web.json_response({"error": "no"}, status=401)


@pytest.fixture
async def agency() -> AsyncIterator[AgencyClient]:
    app = web.Application()
    app.router.add_get("/cookie", set_cookie)
    app.router.add_get("/huge", huge)
    app.router.add_get("/maintenance", maintenance)
    app.router.add_get("/big", big)
    app.router.add_get("/huge-stream", huge_stream)
    app.router.add_get("/refuse", refuse)
    app.router.add_get("/flaky", flaky)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    AGENCY_URL[:] = [f"http://127.0.0.1:{port}"]
    client = AgencyClient(AgencyEndpoint("test", AGENCY_URL[0], ApiKeyAuth("X-Key", "k")))
    await client.start()
    yield client
    await client.close()
    await runner.cleanup()


AGENCY_URL: list[str] = []


async def client_with(**options: Any) -> AgencyClient:
    client = AgencyClient(AgencyEndpoint("test", AGENCY_URL[0], ApiKeyAuth("X-Key", "k"), **options))
    await client.start()
    return client


async def test_cookies_from_one_call_never_ride_along_on_the_next(agency: AgencyClient) -> None:
    SEEN_COOKIES.clear()
    await agency.get("/cookie")
    await agency.get("/cookie")
    assert SEEN_COOKIES == [None, None]


async def test_oversized_answers_are_refused(agency: AgencyClient) -> None:
    with pytest.raises(AgencyBadResponse, match="larger"):
        await agency.get("/huge")


async def test_a_gateway_error_page_is_unavailability(agency: AgencyClient) -> None:
    with pytest.raises(AgencyUnavailable, match="502"):
        await agency.get("/maintenance")
    assert agency.stats.failures == 1
    assert agency.stats.last_error == "HTTP 502"


async def test_a_refusal_is_retried_once_then_reported(agency: AgencyClient) -> None:
    CALLS.clear()
    with pytest.raises(AgencyAuthFailed):
        await agency.get("/refuse")
    assert CALLS == ["k", "k"]


async def test_large_answers_within_the_limit_arrive_whole(agency: AgencyClient) -> None:
    # Bodies come in chunks: a single read would return only the first and break the JSON.
    response = await agency.get("/big")
    assert response.body == list(range(200_000))


async def test_oversized_answers_without_content_length_are_refused(agency: AgencyClient) -> None:
    with pytest.raises(AgencyBadResponse, match="larger"):
        await agency.get("/huge-stream")


@pytest.mark.usefixtures("agency")
async def test_idempotent_reads_are_retried_as_the_policy_says() -> None:
    FLAKY.clear()
    patient = await client_with(retry=RetryPolicy(attempts=3, backoff_seconds=0.01))
    try:
        response = await patient.get("/flaky", {"times": 2})
    finally:
        await patient.close()
    assert response.body == {"ok": True}
    assert len(FLAKY) == 3  # two failures, then the answer

    FLAKY.clear()
    once = await client_with(retry=RetryPolicy(attempts=1))
    try:
        with pytest.raises(AgencyUnavailable, match="503"):
            await once.get("/flaky", {"times": 1})
    finally:
        await once.close()
    assert len(FLAKY) == 1


@pytest.mark.usefixtures("agency")
async def test_a_timeout_is_retried_only_when_the_policy_names_it() -> None:
    policy = RetryPolicy(attempts=2, backoff_seconds=0.0, on=frozenset({"unavailable"}))
    assert not policy.allows(AgencyTimeout("test", "slow"), 0)
    assert policy.allows(AgencyUnavailable("test", "down"), 0)
    assert not policy.allows(AgencyUnavailable("test", "down"), 1)  # that was the last attempt
    assert not policy.allows(AgencyAuthFailed("test", "refused"), 0)  # credentials do not heal by retrying
    assert RetryPolicy(attempts=2, on=frozenset({"timeout"})).allows(AgencyTimeout("test", "slow"), 0)


@pytest.mark.usefixtures("agency")
async def test_the_rate_limit_refuses_what_would_wait_past_the_timeout() -> None:
    FLAKY.clear()
    # One call now, the next in 2 s; a retry policy must not turn the refusal into more calls.
    limited = await client_with(rate_limit=(0.5, 1), timeout_seconds=1.0, retry=RetryPolicy(attempts=3))
    try:
        await limited.get("/flaky", {"times": 0})
        with pytest.raises(AgencyRateLimited, match="rate limit") as refused:
            await limited.get("/flaky", {"times": 0})
    finally:
        await limited.close()
    assert refused.value.code == "AGENCY_UNAVAILABLE"
    assert len(FLAKY) == 1  # the refused call never reached the agency
    # ...but operators see it: it counts as a failed call in the connector's health.
    assert (limited.stats.calls, limited.stats.failures, limited.stats.last_error) == (2, 1, "RATE_LIMITED")


async def test_hmac_signs_the_path_as_sent_including_the_base_urls_own_path() -> None:
    """A gateway base URL such as https://gw.example/si: the agency sees /si/..., so that is signed."""
    verdicts: list[bool] = []

    async def verify(request: web.Request) -> web.Response:
        h = request.headers
        expected = string_to_sign("GET", request.path, request.query_string, h["X-Ca-Timestamp"], h["X-Ca-Nonce"], b"")
        digest = hmac.new(b"s3cret", expected.encode(), hashlib.sha256).digest()
        verdicts.append(base64.b64encode(digest).decode() == h["X-Ca-Signature"])
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/gateway/si/insured", verify)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = AgencyClient(AgencyEndpoint("test", f"http://127.0.0.1:{port}/gateway", HmacAuth("app", "s3cret")))
    await client.start()
    try:
        await client.get("/si/insured", {"page": 1})
    finally:
        await client.close()
        await runner.cleanup()
    assert verdicts == [True]
