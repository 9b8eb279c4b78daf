"""Drives the authorization server as a browser and an oauthlib client would (used by the flow tests)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
from oauthlib.oauth2 import WebApplicationClient

from auth.oauth import grants
from connectors.runtime import client_secret_basic
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

PERSONA = PERSONAS[16]  # 曾𡈼: no other test touches this citizen's consents
REDIRECT = "http://127.0.0.1:9/callback"  # never called: the test reads the redirect itself


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def form_fields(page: str) -> dict[str, str]:
    """Hidden inputs of the first form on a page."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = html.unescape(value.group(1) if value else "")
    return fields


@dataclass
class Browser:
    """A cookie-keeping HTTP client standing in for the citizen's browser (no JavaScript needed)."""

    hub: RunningHub
    http: aiohttp.ClientSession

    async def get(self, path: str) -> aiohttp.ClientResponse:
        return await self.http.get(self._url(path), allow_redirects=False)

    async def post(self, path: str, data: Any) -> aiohttp.ClientResponse:
        return await self.http.post(self._url(path), data=data, allow_redirects=False)

    def _url(self, path: str) -> str:
        return path if path.startswith("http") else self.hub.url + path

    async def login(self, username: str, password: str) -> None:
        page = await (await self.get("/login")).text()
        resp = await self.post("/login", {"username": username, "password": password, **form_fields(page)})
        assert resp.status == 303, await resp.text()


async def authorize(browser: Browser, client_id: str, scope: str, *, allow: list[str] | None, **extra: str) -> str:
    """Run the front channel; return the final redirect's Location."""
    oauth = WebApplicationClient(client_id)
    url = oauth.prepare_request_uri(
        browser.hub.url + "/oauth/authorize", redirect_uri=REDIRECT, scope=scope, state="st-1", **extra
    )
    resp = await browser.get(url)
    if resp.status == 303 and "/login" in resp.headers["Location"]:
        await browser.login(PERSONA.username, PERSONA.password)
        resp = await browser.get(url)
    if resp.status == 200:  # the consent page
        page = await resp.text()
        data: list[tuple[str, str]] = list(form_fields(page).items())
        data += [("scope", s) for s in (allow or [])]
        data.append(("decision", "allow" if allow is not None else "deny"))
        resp = await browser.post("/oauth/authorize", data)
    assert resp.status == 302, (resp.status, await resp.text())
    return resp.headers["Location"]


async def token_request(hub: RunningHub, client_id: str, secret: str | None, body: str) -> tuple[int, dict[str, Any]]:
    return await post_form(hub, "/oauth/token", client_id, secret, body)


async def post_form(
    hub: RunningHub, path: str, client_id: str, secret: str | None, body: str
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if secret:
        headers["Authorization"] = client_secret_basic(client_id, secret)
    async with hub.http.post(hub.url + path, data=body, headers=headers) as resp:
        text = await resp.text()
        return resp.status, json.loads(text) if text else {}


def code_from(location: str, state: str = "st-1") -> str:
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]
    return params["code"][0]


async def full_flow(
    browser: Browser, client: tuple[str, str | None], scope: str, allow: list[str]
) -> tuple[dict[str, Any], str]:
    client_id, secret = client
    verifier, challenge = pkce_pair()
    location = await authorize(
        browser, client_id, scope, allow=allow, code_challenge=challenge, code_challenge_method="S256"
    )
    code = code_from(location)
    body = WebApplicationClient(client_id).prepare_request_body(
        code=code, redirect_uri=REDIRECT, code_verifier=verifier, include_client_id=True
    )
    status, tokens = await token_request(browser.hub, client_id, secret, body)
    assert status == 200, tokens
    return tokens, location


async def refresh(hub: RunningHub, client: tuple[str, str | None], refresh_token: str) -> tuple[int, dict[str, Any]]:
    public = {"client_id": client[0]} if client[1] is None else {}
    body = WebApplicationClient(client[0]).prepare_refresh_body(refresh_token=refresh_token, **public)
    return await token_request(hub, client[0], client[1], body)


async def past_the_grace_interval(refresh_token: str, grace_seconds: float = 10.0) -> None:
    """Move a rotated refresh token's rotation back past the grace interval (as if time had passed)."""
    record = await refresh_record(refresh_token)
    assert record.used_at is not None
    moved = record.used_at - timedelta(seconds=grace_seconds + 1)
    await grants.RefreshToken.filter(id=record.id).update(used_at=moved)


async def refresh_record(refresh_token: str) -> grants.RefreshToken:
    return await grants.RefreshToken.get(token_hash=grants.hash_token(refresh_token))
