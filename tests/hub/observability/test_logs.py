"""Log lines: JSON with the request id (and trace id) on every line of a request, and no secret in any."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from oauthlib.oauth2 import WebApplicationClient

from auth import clients
from auth.clients import ClientType
from hub.observability import logs
from tests.auth.oauth.driver import PERSONA, REDIRECT, Browser, authorize, full_flow, pkce_pair, token_request
from tests.conftest import RunningHub


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('GET /login/callback?code=Zx81-qq&state=s HTTP/1.1" 302', "Zx81-qq"),
        ("Authorization: Bearer chb_abcdefABCDEF0123456789-_", "chb_abcdefABCDEF0123456789"),
        ("basic Y2xpZW50OnNlY3JldA==", "Y2xpZW50OnNlY3JldA=="),
        ("refresh chr_0123456789abcdef", "0123456789abcdef"),
        ("client secret chs_s3cr3tvalue", "s3cr3tvalue"),
        ("grant_type=refresh_token&refresh_token=opaque-value-1&x=1", "opaque-value-1"),
        ("id token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"),
        ("connecting to postgres://cardhub:pa55word@db:5432/hub", "pa55word"),
        ("pool params {'user': 'cardhub', 'password': 'pa55word', 'host': 'db'}", "pa55word"),
        ('form {"client_secret": "value-2", "scope": "card"}', "value-2"),
        ("password=hunter2&username=ann", "hunter2"),
        ("Cookie: cardhub_session=eyJjYXJkIjoi.Zm9v.YmFy", "eyJjYXJkIjoi"),
    ],
)
def test_scrub_removes_each_kind_of_secret(line: str, secret: str) -> None:
    scrubbed = logs.scrub(line)
    assert secret not in scrubbed
    assert logs.REDACTED in scrubbed


def test_scrub_keeps_ordinary_lines() -> None:
    line = "agency call failed: transit GET /cards: AGENCY_TIMEOUT status_code=504 request_id=abc"
    assert logs.scrub(line) == line


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every logger of the process in JSON at DEBUG into a buffer; the logging set-up restored afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream)
    try:
        yield stream
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])


@pytest.fixture
async def browser(hub: RunningHub) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browser(hub, http)


async def test_no_secret_or_token_reaches_a_log_line(
    hub: RunningHub, browser: Browser, captured: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    record, secret = await clients.create(
        "Log Test App", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"card", "transit"}), "Tests the logs"
    )
    client = (record.client_id, secret)
    assert secret
    # A password login, consent, a code, tokens, a refresh, a read, and refusals of each kind.
    tokens, location = await full_flow(browser, client, "card transit", allow=["card", "transit"])
    code = parse_qs(urlsplit(location).query)["code"][0]
    await browser.get(f"/login/callback?code={code}&state=st-1")
    reused = WebApplicationClient(record.client_id).prepare_request_body(
        code=code, redirect_uri=REDIRECT, code_verifier=pkce_pair()[0], include_client_id=True
    )
    status, _ = await token_request(hub, record.client_id, secret, reused)
    assert status == 400
    status, refreshed = await token_request(
        hub, record.client_id, secret, f"grant_type=refresh_token&refresh_token={tokens['refresh_token']}"
    )
    assert status == 200, refreshed
    await token_request(hub, record.client_id, "chs_" + "w" * 40, "grant_type=client_credentials")
    await hub.graphql("{ me { cardNumber transit { balance } } }", tokens["access_token"])
    await hub.graphql("{ me { cardNumber } }", "chb_" + "u" * 43)
    await hub.graphql("{ me { cardNumber } }", "not-even-a-token")
    await browser.post("/login", {"username": PERSONA.username, "password": "wrong-" + PERSONA.password})
    await authorize(browser, record.client_id, "card", allow=["card"])

    text = captured.getvalue()
    secrets = [secret, tokens["access_token"], tokens["refresh_token"], refreshed["access_token"],
               refreshed["refresh_token"], code, PERSONA.password, "u" * 43, "not-even-a-token",
               *(c.value for c in browser.http.cookie_jar)]  # fmt: skip
    assert len(text.splitlines()) > 20  # the requests above were logged: the check below means something
    for value in secrets:
        assert value not in text, f"a secret reached the log: ...{value[-6:]}"


async def test_every_line_of_a_request_is_json_with_its_request_id(hub: RunningHub, captured: io.StringIO) -> None:
    for path, method in [("/graphql", "POST"), ("/oauth/token", "POST"), ("/login", "GET"), ("/me", "GET")]:
        rid = f"log-test-{path.strip('/').replace('/', '-')}"
        body = {"query": "{ me { cardNumber } }"} if path == "/graphql" else None
        async with hub.http.request(
            method, hub.url + path, headers={"X-Request-Id": rid}, allow_redirects=False, json=body
        ) as resp:
            assert resp.headers.getall("X-Request-Id") == [rid]
        lines = [json.loads(line) for line in captured.getvalue().splitlines()]
        access = [line for line in lines if line["logger"] == "uvicorn.access" and path in line["event"]]
        assert access and all(line["request_id"] == rid for line in access), access
        assert all({"timestamp", "level", "logger", "event"} <= set(line) for line in lines)


async def test_a_traceparent_gives_the_lines_its_trace_id(hub: RunningHub, captured: io.StringIO) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    headers = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01", "X-Request-Id": "traced-1"}
    async with hub.http.get(hub.url + "/healthz", headers=headers) as resp:
        assert resp.status == 200
    lines = [json.loads(line) for line in captured.getvalue().splitlines()]
    mine = [line for line in lines if line.get("request_id") == "traced-1"]
    assert mine and all(line["trace_id"] == trace_id for line in mine)


def test_text_is_the_sandbox_default_and_json_the_production_one() -> None:
    assert logs.format_for("", sandbox=True) == "text"
    assert logs.format_for("", sandbox=False) == "json"
    assert logs.format_for("json", sandbox=True) == "json"
