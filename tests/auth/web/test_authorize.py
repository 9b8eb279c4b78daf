"""The real /oauth/authorize in Chromium: login page, consent page, allow, and the code redirect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from oauthlib.oauth2 import WebApplicationClient
from playwright.async_api import Page, Route

from auth import clients, consent
from auth.clients import ClientType
from sandbox.personas import PERSONAS
from tests.auth.oauth.driver import REDIRECT, pkce_pair, token_request
from tests.auth.web.conftest import needs_chromium
from tests.conftest import RunningHub

pytestmark = needs_chromium

CITIZEN = PERSONAS[8]  # 蔡淑芬: no other test touches her consents


async def test_citizen_logs_in_allows_part_and_the_app_gets_a_code_for_that_part(
    page: Page, hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http, but only to 127.0.0.1
    client, secret = await clients.create(
        "Clinic Booking", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"card", "transit", "health"}),
        "Books appointments at your registered clinic",
    )  # fmt: skip
    verifier, challenge = pkce_pair()
    url = WebApplicationClient(client.client_id).prepare_request_uri(
        hub.url + "/oauth/authorize", redirect_uri=REDIRECT, scope="card transit health", state="s-9",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    arrived: list[str] = []

    async def catch_redirect(route: Route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(status=200, body="back in the app")

    await page.route(REDIRECT + "*", catch_redirect)
    await page.goto(url)
    await page.fill("input[name=username]", CITIZEN.username)
    await page.fill("input[name=password]", CITIZEN.password)
    await page.click("#login-submit")

    await page.wait_for_selector("input[name=scope][value=health]")
    assert "Clinic Booking" in await page.content()
    assert "Books appointments at your registered clinic" in await page.content()
    assert await page.is_checked("input[name=scope][value=transit]")
    assert not await page.is_checked("input[name=scope][value=health]")  # sensitive: unchecked by default
    await page.uncheck("input[name=scope][value=transit]")
    await page.click("button[name=decision][value=allow]")
    await page.wait_for_url(REDIRECT + "*")

    [landing] = arrived
    params = parse_qs(urlsplit(landing).query)
    assert params["state"] == ["s-9"] and params["iss"] == [hub.url]
    body = WebApplicationClient(client.client_id).prepare_request_body(
        code=params["code"][0], redirect_uri=REDIRECT, code_verifier=verifier
    )
    status, tokens = await token_request(hub, client.client_id, secret, body)
    assert status == 200
    assert tokens["scope"] == "card"
    standing = await consent.standing(CITIZEN.card_number, client.client_id)
    assert standing.scopes == {"card"}
