"""Fixtures for the authorization server tests: a cookie-keeping browser and a registered app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from auth import clients
from auth.clients import ClientType
from tests.auth.oauth.driver import REDIRECT, Browser
from tests.conftest import RunningHub


@pytest.fixture
async def browser(hub: RunningHub) -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browser(hub, http)


@pytest.fixture
async def app_client(hub: RunningHub) -> tuple[str, str | None]:
    record, secret = await clients.create(
        "Test Clinic App", ClientType.CONFIDENTIAL, [REDIRECT], frozenset({"card", "transit", "health"}),
        "Shows your appointments and transit balance",
    )  # fmt: skip
    return record.client_id, secret


@pytest.fixture(autouse=True)
def insecure_transport_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # plain http, but only to 127.0.0.1
