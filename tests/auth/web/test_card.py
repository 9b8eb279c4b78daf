"""/me/card: the citizen's QR code per purpose, with no JavaScript and with the page's one script;
in headless Chromium, the code renews itself in place before it expires."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from playwright.async_api import Browser, Page

from auth.audit import AuditEntry
from auth.card.status import set_status
from auth.registry import CardStatus
from cardverify import PublicKeys, Verified, verify
from sandbox.personas import PERSONAS
from tests.auth.web.conftest import needs_chromium
from tests.auth.web.test_pages import Agent, log_in
from tests.conftest import RunningHub

SHOWS, LOST = PERSONAS[6], PERSONAS[9]  # no other test touches their cards


@pytest.fixture
async def agent(hub: RunningHub) -> AsyncIterator[Agent]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Agent(hub, http)


async def keys(hub: RunningHub) -> PublicKeys:
    async with hub.http.get(hub.url + "/.well-known/cardhub-card-keys") as resp:
        return PublicKeys.from_jwks(await resp.read())


def shown_text(page_html: str) -> str:
    match = re.search(r'data-text="([^"]+)"', page_html)
    assert match, "no credential on the page"
    return html.unescape(match.group(1))


async def test_the_page_needs_a_login_then_shows_a_code_that_verifies_and_renews_itself(
    agent: Agent, hub: RunningHub
) -> None:
    status, _, headers = await agent.get("/me/card?purpose=library")
    assert status == 303 and headers["Location"] == "/login?next=/me/card?purpose=library"
    assert (await agent.log_in(SHOWS, "/me/card"))[0] == 303
    status, page, headers = await agent.get("/me/card?purpose=library&lang=en")
    assert status == 200
    answer = verify(shown_text(page), await keys(hub), "library", time.time())
    assert isinstance(answer, Verified)
    assert "<svg" in page and 'aria-current="page"' in page and "Library" in page
    # Without JavaScript the page reloads itself a minute before the code expires, and says how long.
    refresh = re.search(r'<noscript><meta http-equiv="refresh" content="(\d+);url=/me/card\?purpose=library">', page)
    assert refresh and 235 <= int(refresh.group(1)) <= 240
    seconds = re.search(r'<span id="card-seconds">(\d+)</span>', page)
    assert seconds and 295 <= int(seconds.group(1)) <= 300
    # The one script is allowed by its nonce only; nothing is cached.
    nonce = re.search(r'<script nonce="([^"]+)">', page)
    assert nonce and f"script-src 'nonce-{nonce.group(1)}'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"
    status, body, _ = await agent.get("/me/card/credential?purpose=transit")
    assert status == 200
    assert '"purpose":"TRANSIT"' in body and '"refresh_in_seconds"' in body


async def test_each_code_shown_is_in_the_citizens_access_log(agent: Agent, hub: RunningHub) -> None:
    await agent.log_in(SHOWS, "/me/card")
    await agent.get("/me/card?purpose=clinic")
    entry = await AuditEntry.filter(citizen=SHOWS.card_number).order_by("-id").first()
    assert entry is not None
    assert (entry.sections, entry.outcome, entry.client_id) == ("virtual_card.clinic", "ALLOWED", "cardhub-web")


async def test_a_lost_card_shows_no_code(agent: Agent) -> None:
    await agent.log_in(LOST, "/me/card")
    await set_status(LOST.card_number, CardStatus.SUSPENDED)
    try:
        status, page, _ = await agent.get("/me/card?lang=en")
        assert status == 409 and "reported lost or cancelled" in page and "data-text" not in page
        status, body, _ = await agent.get("/me/card/credential")
        assert status == 409 and "CARD_NOT_ACTIVE" in body
    finally:
        await set_status(LOST.card_number, CardStatus.ACTIVE)


@needs_chromium
async def test_chromium_shows_the_code_and_renews_it_in_place(page: Page, hub: RunningHub) -> None:
    await page.clock.install()
    await log_in(page, SHOWS, "/me/card?purpose=transit")
    await page.wait_for_url("**/me/card?purpose=transit")
    qr = page.locator("#card-qr svg")
    await qr.wait_for()
    box = await qr.bounding_box()
    assert box is not None and box["width"] > 100
    first = await page.locator("#card-qr").get_attribute("data-text")
    assert first and isinstance(verify(first, await keys(hub), "transit", time.time()), Verified)
    await page.clock.run_for(5_000)
    assert 290 <= int(await page.locator("#card-seconds").inner_text()) <= 296  # counting down
    await page.clock.run_for(240_000)  # past the renewal point: a new code replaces the old in place
    renewed: str | None = first
    for _ in range(100):  # the page's CSP allows no evaluated script, so poll from here
        renewed = await page.locator("#card-qr").get_attribute("data-text")
        if renewed != first:
            break
        await page.wait_for_timeout(50)
    assert renewed != first
    assert renewed and isinstance(verify(renewed, await keys(hub), "transit", time.time()), Verified)
    assert page.url.endswith("/me/card?purpose=transit")  # in place, not a reload


@needs_chromium
async def test_chromium_without_javascript_shows_the_code_and_its_reload(browser: Browser, hub: RunningHub) -> None:
    context = await browser.new_context(base_url=hub.url, java_script_enabled=False, locale="en-US")
    try:
        page = await context.new_page()
        await log_in(page, SHOWS, "/me/card?purpose=identity")
        await page.locator("#card-qr svg").wait_for()
        meta = page.locator('meta[http-equiv="refresh"]')
        assert await meta.count() == 1
        assert (await meta.get_attribute("content") or "").endswith(";url=/me/card?purpose=identity")
        assert "valid for" in await page.locator("#card-validity").inner_text()
    finally:
        await context.close()
