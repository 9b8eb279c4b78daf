"""A real OpenID Provider for tests: panva's oidc-provider, run by ``provider.mjs`` under Node.

``make test`` installs it (``npm ci`` here, from the committed lockfile). Without Node, or before the
install, the tests that need it skip and say why. ``browse_login`` plays the citizen at the provider's
own login and consent pages, over plain HTTP as a browser would.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import aiohttp

HERE = Path(__file__).parent
SCRIPT = HERE / "provider.mjs"
CLIENT_SECRET = "cardhub-test-client-secret-0123456789"


def unavailable() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed: the OpenID Provider tests need it (https://nodejs.org, or apt install nodejs)"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return f"oidc-provider is not installed: run `npm ci` in {HERE} (`make test` does)"
    return None


class TestProvider:
    """``provider.mjs`` in a process of its own; ``issuer`` once it listens."""

    __test__ = False  # not a pytest test class

    def __init__(self, log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            ["node", str(SCRIPT), "0"], cwd=HERE, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise AssertionError(f"the test provider did not start: {log.read_text()[-2000:]}")
        self.issuer: str = json.loads(line)["issuer"]

    async def admin(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with aiohttp.ClientSession() as http, http.post(f"{self.issuer}/admin/{path}", json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            result: dict[str, Any] = await resp.json()
            return result

    async def configure(self, clients: list[dict[str, Any]], accounts: dict[str, dict[str, Any]]) -> None:
        await self.admin("configure", {"clients": clients, "accounts": accounts})

    async def misbehave(self, what: str) -> None:
        """The next token response (or authorization response, for ``response_iss``) goes wrong this way."""
        await self.admin("misbehave", {"next": what})

    async def rotate(self) -> str:
        """A new signing key; the old one leaves the JWKS. Returns the new kid."""
        return str((await self.admin("rotate"))["kid"])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def hub_client(
    hub_url: str, client_id: str = "cardhub", auth: str = "client_secret_basic", **extra: Any
) -> dict[str, Any]:
    """The hub's registration at the provider."""
    client = {
        "client_id": client_id,
        "redirect_uris": [hub_url + "/login/callback"],
        "post_logout_redirect_uris": [hub_url + "/login"],
        "token_endpoint_auth_method": auth,
        **extra,
    }
    if auth.startswith("client_secret"):
        client["client_secret"] = CLIENT_SECRET
    return client


_FORM = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S)
_INPUT = re.compile(r"<input[^>]*>")


def _fields(form: str) -> dict[str, str]:
    found = {}
    for tag in _INPUT.findall(form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name:
            found[name.group(1)] = html.unescape(value.group(1) if value else "")
    return found


async def browse_login(http: aiohttp.ClientSession, start: str, subject: str, stop_at: str) -> str:
    """Follow redirects from ``start``, logging in as ``subject`` and consenting at the provider's pages,
    until a redirect leads to a URL starting with ``stop_at``; returns that URL (not fetched)."""
    url = start
    for _ in range(20):
        if url.startswith(stop_at):
            return url
        async with http.get(url, allow_redirects=False) as resp:
            if resp.status in (302, 303):
                url = urljoin(url, resp.headers["Location"])
                continue
            page = await resp.text()
        assert resp.status == 200, (resp.status, page[:500])
        match = _FORM.search(page)
        assert match, page[:1000]
        action, fields = urljoin(url, html.unescape(match[1])), _fields(match[2])
        if "login" in fields:
            fields.update(login=subject, password="any")
        if 'name="logout"' in page:  # the provider's logout confirmation: "Yes, sign me out"
            fields["logout"] = "yes"
        async with http.post(action, data=fields, allow_redirects=False) as resp:
            assert resp.status in (302, 303), (resp.status, (await resp.text())[:500])
            url = urljoin(action, resp.headers["Location"])
    raise AssertionError(f"no redirect to {stop_at} after 20 steps (last: {url})")
