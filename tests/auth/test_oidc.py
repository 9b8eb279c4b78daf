"""Citizen login at a real OpenID Provider (panva's oidc-provider), against a production hub on
PostgreSQL and Redis: the full path to an app reading the profile, each refusal, key rotation, logout."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import asyncpg
import pytest
from joserfc.jwk import RSAKey
from oauthlib.oauth2 import WebApplicationClient

from connectors.runtime import client_secret_basic
from keys.keyring import generate
from sandbox import runner
from sandbox.personas import PERSONAS
from tests.auth.oauth.driver import form_fields, pkce_pair
from tests.conftest import POSTGRES_SERVER
from tests.hub.test_cli import CARDHUB
from tests.oidc_provider import CLIENT_SECRET, TestProvider, browse_login, hub_client, unavailable
from tests.production import production_env

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=unavailable() or "")

REDIS = "redis://127.0.0.1:6379/11"
APP_REDIRECT = "http://127.0.0.1:9/callback"  # never called: the test reads the redirect itself
ALICE, BOB = PERSONAS[3], PERSONAS[4]  # linked by the operator, by card claim
STRANGER = "carol-never-linked"
ROOT = Path(__file__).parents[2]
ROWS = ", ".join(f"({p.card_number!r}, {p.name!r}, {p.username!r}, date(2020, 1, 1), False)" for p in (ALICE, BOB))
SEED = f"""
import asyncio, sys
from datetime import date
from auth import registry
from hub import database

async def seed() -> None:
    async with database.connected(sys.argv[1]):
        await registry.seed([{ROWS}])

asyncio.run(seed())
"""
OTHER_PORT = runner.free_port()  # a second hub, for the other client authentication methods
HUB_KEY = RSAKey.generate_key(2048, private=True)  # the hub's private_key_jwt key


@dataclass
class Deployment:
    provider: TestProvider
    url: str  # the hub's
    env: dict[str, str]
    log: Path
    app: tuple[str, str]  # an app's client id and secret, registered at the hub

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([CARDHUB, *args], env=self.env, capture_output=True, text=True, timeout=60, check=False)
        assert not check or done.returncode == 0, done.stderr
        return done

    def logged(self) -> str:
        return self.log.read_text()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"hub exited: {log.read_text()[-3000:]}") from None
            time.sleep(0.1)
    raise AssertionError("hub did not start")


async def _database() -> str:
    name = f"cardhub_test_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres", timeout=5)
    except (OSError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL is not running on 127.0.0.1:5432: {exc}")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(f"{POSTGRES_SERVER}/postgres", timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestProvider]:
    started = TestProvider(tmp_path_factory.mktemp("oidc") / "provider.log")
    yield started
    started.stop()


def start_hub(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        proc = subprocess.Popen([CARDHUB, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=err)
    _wait_ready(f"http://127.0.0.1:{port}", proc, log)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def hub_env(port: int, provider: TestProvider, database_url: str, **extra: str) -> dict[str, str]:
    url = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        **production_env(url),
        "CARDHUB_DATABASE_URL": database_url,
        "CARDHUB_CACHE_URL": REDIS,
        "CARDHUB_LOG_LEVEL": "INFO",
        "CARDHUB_SESSION_SECRET": generate("test-session-1"),
        "CARDHUB_OIDC_ISSUER": provider.issuer,
        "CARDHUB_OIDC_CLIENT_ID": "cardhub",
        "CARDHUB_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "CARDHUB_OIDC_TIMEOUT_SECONDS": "3",  # the provider's "slow" answer takes 5 s
        **extra,
    }


@pytest.fixture(scope="module")
async def deployment(provider: TestProvider, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Deployment]:
    name = await _database()
    database_url = f"{POSTGRES_SERVER}/{name}"
    port = runner.free_port()
    env = hub_env(port, provider, database_url)
    log = tmp_path_factory.mktemp("hub") / "hub.log"
    proc = None
    try:
        deployment = Deployment(provider, f"http://127.0.0.1:{port}", env, log, ("", ""))
        deployment.cli("db", "upgrade")
        # In a process of its own: this one's models are bound to the session hub's SQLite.
        await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", SEED, database_url], check=True, cwd=ROOT, env=env, timeout=60
        )
        deployment.cli("citizens", "link", "alice-sub", ALICE.card_number)
        created = json.loads(
            deployment.cli(
                "clients", "create", "--name", "Profile App", "--type", "confidential", "--redirect-uri", APP_REDIRECT,
                "--scope", "card", "--purpose", "Shows your name", "--json",
            ).stdout
        )  # fmt: skip
        deployment.app = (created["client_id"], created["client_secret"])
        env["CARDHUB_FREE_FORM_CLIENTS"] = created["client_id"]
        other = f"http://127.0.0.1:{OTHER_PORT}"
        clients = [
            hub_client(deployment.url),
            hub_client(other, "cardhub-post", "client_secret_post"),
            hub_client(other, "cardhub-jwt", "private_key_jwt", jwks={"keys": [HUB_KEY.as_dict(private=False)]}),
        ]
        accounts = {"alice-sub": {"name": "Alice Upstream"}, "bob-sub": {"card_number": BOB.card_number}}
        await provider.configure(clients, accounts)
        proc = await asyncio.to_thread(start_hub, env, port, log)
        yield deployment
    finally:
        if proc is not None:
            stop(proc)
        await _drop(name)


@pytest.fixture(autouse=True)
def insecure_transport_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the app's side, plain http to 127.0.0.1


def new_browser(d: Deployment) -> aiohttp.ClientSession:
    # The production hub marks its cookie Secure; loopback counts as a secure origin, as in browsers.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[d.url]))


@pytest.fixture
async def browser(deployment: Deployment) -> AsyncIterator[aiohttp.ClientSession]:
    async with new_browser(deployment) as http:
        yield http


async def login(
    http: aiohttp.ClientSession, d: Deployment, subject: str, next_path: str = "/me"
) -> aiohttp.ClientResponse:
    """Start at the hub's login, pass the provider's pages, and return the hub's answer to the callback."""
    start = f"{d.url}/login/upstream?next={quote(next_path, safe='')}"
    callback = await browse_login(http, start, subject, d.url + "/login/callback")
    return await http.get(callback, allow_redirects=False)


def session_cookie(http: aiohttp.ClientSession) -> str | None:
    return next((c.value for c in http.cookie_jar if c.key == "cardhub_session"), None)


async def assert_refused(resp: aiohttp.ClientResponse, d: Deployment, reason: str, status: int = 400) -> None:
    page = await resp.text()
    assert resp.status == status, page[:500]
    assert f'data-reason="{reason}"' in page
    assert 'href="/login/upstream?next=' in page  # the retry link
    assert f"oidc login refused: {reason}" in d.logged()


async def assert_logged_out(http: aiohttp.ClientSession, d: Deployment) -> None:
    async with http.get(d.url + "/me", allow_redirects=False) as me:
        assert me.status == 303 and me.headers["Location"].startswith("/login")


async def test_full_path_the_citizen_logs_in_upstream_consents_and_the_app_reads_the_profile(
    deployment: Deployment, browser: aiohttp.ClientSession
) -> None:
    d, (client_id, secret) = deployment, deployment.app
    verifier, challenge = pkce_pair()
    authorize = WebApplicationClient(client_id).prepare_request_uri(
        d.url + "/oauth/authorize", redirect_uri=APP_REDIRECT, scope="card", state="app-state",
        code_challenge=challenge, code_challenge_method="S256",
    )  # fmt: skip
    async with browser.get(authorize, allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"].startswith("/login?next=")
    async with browser.get(d.url + resp.headers["Location"]) as login_page:
        assert 'id="login-upstream"' in await login_page.text()
    next_path = parse_qs(urlsplit(resp.headers["Location"]).query)["next"][0]
    before = session_cookie(browser)
    async with await login(browser, d, "alice-sub", next_path) as back:
        assert back.status == 303 and back.headers["Location"] == next_path
    assert session_cookie(browser) != before
    async with browser.get(d.url + next_path, allow_redirects=False) as consent_page:
        page = await consent_page.text()
        assert consent_page.status == 200 and "Profile App" in page, page[:500]
    data = [*form_fields(page).items(), ("scope", "card"), ("decision", "allow")]
    async with browser.post(d.url + "/oauth/authorize", data=data, allow_redirects=False) as approved:
        assert approved.status == 302, await approved.text()
        code = parse_qs(urlsplit(approved.headers["Location"]).query)["code"][0]
    body = WebApplicationClient(client_id).prepare_request_body(
        code=code, redirect_uri=APP_REDIRECT, code_verifier=verifier, include_client_id=True
    )
    async with aiohttp.ClientSession() as app:
        async with app.post(
            d.url + "/oauth/token", data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Authorization": client_secret_basic(client_id, secret)},
        ) as token_resp:  # fmt: skip
            tokens = await token_resp.json()
            assert token_resp.status == 200, tokens
        async with app.post(
            d.url + "/graphql", json={"query": "{ me { cardNumber name } }"},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        ) as answer:  # fmt: skip
            result = await answer.json()
    assert result == {"data": {"me": {"cardNumber": ALICE.card_number, "name": ALICE.name}}}


@pytest.mark.parametrize(
    ("misbehaviour", "reason"),
    [
        ("nonce", "id_token_nonce"),
        ("iss", "id_token_iss"),
        ("aud", "id_token_aud"),
        ("exp", "id_token_expired"),
        ("signature", "id_token_signature"),
        ("response_iss", "response_iss_mismatch"),
    ],
)
async def test_an_id_token_or_response_that_fails_a_check_is_refused_and_no_session_is_created(
    deployment: Deployment, browser: aiohttp.ClientSession, misbehaviour: str, reason: str
) -> None:
    await deployment.provider.misbehave(misbehaviour)
    async with await login(browser, deployment, "alice-sub") as resp:
        await assert_refused(resp, deployment, reason)
    await assert_logged_out(browser, deployment)


async def test_a_replayed_state_is_refused(deployment: Deployment, browser: aiohttp.ClientSession) -> None:
    callback = await browse_login(
        browser, f"{deployment.url}/login/upstream", "alice-sub", deployment.url + "/login/callback"
    )
    async with browser.get(callback, allow_redirects=False) as first:
        assert first.status == 303
    async with browser.post(deployment.url + "/logout", data=await _csrf(browser, deployment), allow_redirects=False):
        pass
    async with browser.get(callback, allow_redirects=False) as again:
        await assert_refused(again, deployment, "state_mismatch")
    await assert_logged_out(browser, deployment)


async def test_a_callback_this_browser_did_not_start_is_refused(
    deployment: Deployment, browser: aiohttp.ClientSession
) -> None:
    async with new_browser(deployment) as victim:  # the attacker's code, delivered into another browser
        callback = await browse_login(
            victim, f"{deployment.url}/login/upstream", "alice-sub", deployment.url + "/login/callback"
        )
    async with browser.get(callback, allow_redirects=False) as resp:
        await assert_refused(resp, deployment, "state_mismatch")
    await assert_logged_out(browser, deployment)


async def test_login_still_works_after_the_provider_rotates_its_signing_key(
    deployment: Deployment, browser: aiohttp.ClientSession
) -> None:
    async with await login(browser, deployment, "alice-sub") as first:
        assert first.status == 303
    kid = await deployment.provider.rotate()
    async with new_browser(deployment) as other:
        async with await login(other, deployment, "alice-sub") as after:
            assert after.status == 303, await after.text()
        async with other.get(deployment.url + "/me", allow_redirects=False) as me:
            assert me.status == 200 and ALICE.name in await me.text()
    async with aiohttp.ClientSession() as http, http.get(deployment.provider.issuer + "/jwks") as published:
        jwks = await published.json()
    assert [k["kid"] for k in jwks["keys"]] == [kid]  # the old key is gone: the hub had to fetch the new one


async def test_an_unlinked_subject_gets_a_clear_page_and_no_one_s_session(
    deployment: Deployment, browser: aiohttp.ClientSession
) -> None:
    async with await login(browser, deployment, STRANGER) as resp:
        await assert_refused(resp, deployment, "subject_unlinked", status=403)
        assert "not linked to a citizen card" in await resp.text() or "尚未关联市民卡" in await resp.text()
    await assert_logged_out(browser, deployment)


@pytest.mark.parametrize(("misbehaviour", "reason", "status"), [
    ("garbage", "upstream_bad_response", 502),
    ("slow", "upstream_timeout", 504),
])  # fmt: skip
async def test_a_provider_answering_garbage_or_too_slowly_gets_a_retry_page(
    deployment: Deployment, browser: aiohttp.ClientSession, misbehaviour: str, reason: str, status: int
) -> None:
    await deployment.provider.misbehave(misbehaviour)
    async with await login(browser, deployment, "alice-sub") as resp:
        await assert_refused(resp, deployment, reason, status)
    await assert_logged_out(browser, deployment)
    async with await login(browser, deployment, "alice-sub") as retried:  # the retry link works
        assert retried.status == 303


async def _csrf(http: aiohttp.ClientSession, d: Deployment) -> dict[str, str]:
    async with http.get(d.url + "/me") as page:
        return form_fields(await page.text())


async def test_logout_ends_the_hub_session_and_the_provider_s(
    deployment: Deployment, browser: aiohttp.ClientSession
) -> None:
    d = deployment
    async with await login(browser, d, "alice-sub") as resp:
        assert resp.status == 303
    fields = await _csrf(browser, d)
    async with browser.post(d.url + "/logout", data=fields, allow_redirects=False) as out:
        assert out.status == 303
        end = out.headers["Location"]
    assert end.startswith(d.provider.issuer + "/session/end")
    query = parse_qs(urlsplit(end).query)
    assert query["post_logout_redirect_uri"] == [d.url + "/login"] and query["id_token_hint"]
    await assert_logged_out(browser, d)
    # The provider asks to confirm, then sends the browser back to the hub.
    back = await browse_login(browser, end, "unused", d.url + "/login")
    assert back.startswith(d.url + "/login")
    # Its session is gone too: the next login asks for the login name again.
    async with browser.get(d.url + "/login/upstream", allow_redirects=True) as page:
        assert 'name="login"' in await page.text()


async def test_a_provider_that_is_down_gets_a_retry_page(provider: TestProvider, tmp_path: Path) -> None:
    name = await _database()
    port, dead = runner.free_port(), runner.free_port()
    env = hub_env(port, provider, f"{POSTGRES_SERVER}/{name}", CARDHUB_OIDC_ISSUER=f"http://127.0.0.1:{dead}")
    await asyncio.to_thread(subprocess.run, [CARDHUB, "db", "upgrade"], env=env, check=True, capture_output=True)
    proc = await asyncio.to_thread(start_hub, env, port, tmp_path / "hub.log")
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/login/upstream?next=/me") as resp,
        ):
            page = await resp.text()
            assert resp.status == 502 and 'data-reason="upstream_unreachable"' in page
            assert 'href="/login/upstream?next=%2Fme"' in page
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/me", allow_redirects=False) as me,
        ):
            assert me.status == 303
        assert "oidc login refused: upstream_unreachable" in (tmp_path / "hub.log").read_text()
    finally:
        stop(proc)
        await _drop(name)


def test_a_link_to_a_card_not_in_the_registry_is_refused(deployment: Deployment) -> None:
    refused = deployment.cli("citizens", "link", "someone", "9999999999999999", check=False)
    assert refused.returncode == 1 and "no card" in refused.stderr
    listed = json.loads(deployment.cli("citizens", "links", "--json").stdout)
    assert [x["subject"] for x in listed["links"]] == ["alice-sub"]


@pytest.mark.parametrize(("client_id", "method", "extra"), [
    ("cardhub-post", "client_secret_post", {"CARDHUB_OIDC_CARD_CLAIM": "card_number",
                                            "CARDHUB_OIDC_SCOPES": "openid card"}),
    ("cardhub-jwt", "private_key_jwt", {}),
])  # fmt: skip
async def test_other_client_authentication_methods_and_the_card_claim(
    deployment: Deployment, tmp_path: Path, client_id: str, method: str, extra: dict[str, str]
) -> None:
    """client_secret_post with the card number in a claim (bob, never linked by the operator), and
    private_key_jwt with the operator's link (alice)."""
    key_file = tmp_path / "hub-key.pem"
    key_file.write_bytes(HUB_KEY.as_pem(private=True))
    env = {
        **deployment.env,
        **production_env(f"http://127.0.0.1:{OTHER_PORT}"),
        "CARDHUB_OIDC_CLIENT_ID": client_id,
        "CARDHUB_OIDC_CLIENT_AUTH": method,
        "CARDHUB_OIDC_PRIVATE_KEY_FILE": str(key_file) if method == "private_key_jwt" else "",
        **extra,
    }
    proc = await asyncio.to_thread(start_hub, env, OTHER_PORT, tmp_path / "other.log")
    other = Deployment(deployment.provider, f"http://127.0.0.1:{OTHER_PORT}", env, tmp_path / "other.log", ("", ""))
    try:
        subject, person = ("bob-sub", BOB) if extra else ("alice-sub", ALICE)
        async with new_browser(other) as http:
            async with await login(http, other, subject) as resp:
                assert resp.status == 303, await resp.text()
            async with http.get(other.url + "/me", allow_redirects=False) as me:
                assert me.status == 200 and person.name in await me.text()
    finally:
        stop(proc)
