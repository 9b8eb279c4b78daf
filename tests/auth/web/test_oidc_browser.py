"""Once, as a person would: Chromium logs in at the city's identity provider (panva's oidc-provider),
comes back to the hub's "My data" page, and logs out of both."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext

from sandbox.personas import PERSONAS
from tests.auth.test_oidc import Deployment, deployment, provider
from tests.auth.web.conftest import needs_chromium
from tests.oidc_provider import unavailable

__all__ = ["deployment", "provider"]  # the fixtures, shared with the HTTP-driven tests

pytestmark = [needs_chromium, pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")]
ALICE = PERSONAS[3]


@pytest.fixture
async def oidc_context(browser: Browser, deployment: Deployment) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(base_url=deployment.url, locale="en-GB")
    yield ctx
    await ctx.close()


async def test_a_citizen_logs_in_at_the_provider_and_out_of_both(
    oidc_context: BrowserContext, deployment: Deployment
) -> None:
    page = await oidc_context.new_page()
    await page.goto("/me")  # not logged in: the login page offers the city's identity service
    await page.click("#login-upstream")
    await page.wait_for_url(deployment.provider.issuer + "/interaction/**")
    await page.fill("input[name=login]", "alice-sub")
    await page.fill("input[name=password]", "whatever the provider asks")
    await page.click("button[type=submit]")
    await page.click("button[type=submit]")  # the provider's consent: share openid and profile with the hub
    await page.wait_for_url(deployment.url + "/me")
    assert ALICE.name in await page.inner_text("main")
    await page.click("form[action='/logout'] button")
    await page.wait_for_url(deployment.provider.issuer + "/session/end**")
    await page.click("button[name=logout]")  # the provider asks before ending its own session
    await page.wait_for_url(deployment.url + "/login?*")  # the provider adds the state the hub sent
    assert "logged out" in await page.inner_text("main")
    await page.goto("/me")
    assert page.url.startswith(deployment.url + "/login")
