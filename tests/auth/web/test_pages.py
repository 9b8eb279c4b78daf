"""The citizen pages in a real browser (Debian's Chromium driven by Playwright) against the running hub.

Login, the consent screen, "My data" with revocation by clicking, the access log, CSRF refusals,
the open-redirect guard and the language switch. Screenshots of each page go to /tmp/web-*.png.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth import clients, consent
from auth.clients import Client, ClientType
from auth.consent import Consent, ConsentStatus
from auth.login import PasswordTable, hash_password, verify_password
from auth.scopes import CATALOGUE
from auth.web import i18n
from auth.web import session as web_session
from auth.web.csrf import check_csrf
from auth.web.pages import CHINA_TIME, EXCEPTION_HANDLERS, render_consent, safe_next
from hub.app import citizen_login
from hub.sandbox_login import SandboxLogin
from hub.server import EmbeddedServer, start_in_background
from hub.settings import Settings, SettingsError, load
from keys.keyring import Keyring, generate
from sandbox import runner
from sandbox.personas import PERSONAS, Persona
from tests.auth.web.conftest import needs_chromium
from tests.conftest import RunningHub

pytestmark = needs_chromium

# Citizens no other test touches (the OAuth tests use PERSONAS[16], the GraphQL consent tests 18-21).
LOGIN, MINE, GUARDED, OTHER = PERSONAS[10], PERSONAS[13], PERSONAS[15], PERSONAS[12]


async def log_in(page: Page, persona: Persona, next_path: str = "/me") -> None:
    await page.goto(f"/login?next={next_path}")
    await page.fill("input[name=username]", persona.username)
    await page.fill("input[name=password]", persona.password)
    await page.click("#login-submit")


async def make_client(name: str, purpose: str, client_type: ClientType = ClientType.CONFIDENTIAL) -> Client:
    client, _ = await clients.create(
        name, client_type, ["http://127.0.0.1:9/cb"], frozenset(s.name for s in CATALOGUE), purpose,
        client_id=f"web-test-{secrets.token_hex(4)}",
    )  # fmt: skip
    return client


# --- a cookie-keeping HTTP client, for what a browser would not send ----------------------------


def hidden_field(page_html: str, name: str) -> str:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page_html)
    assert match, f"no hidden {name} field"
    return html.unescape(match.group(1))


class Agent:
    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession) -> None:
        self.hub, self.http = hub, http

    async def get(self, path: str, **kw: Any) -> tuple[int, str, Any]:
        async with self.http.get(self.hub.url + path, allow_redirects=False, **kw) as resp:
            return resp.status, await resp.text(), resp.headers

    async def post(self, path: str, data: dict[str, str]) -> tuple[int, str, Any]:
        async with self.http.post(self.hub.url + path, data=data, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers

    async def csrf(self, path: str = "/login") -> str:
        status, text, _ = await self.get(path)
        assert status == 200, text
        return hidden_field(text, "csrf_token")

    async def log_in(self, persona: Persona, next_path: str = "/me") -> tuple[int, Any]:
        token = await self.csrf(f"/login?next={next_path}")
        status, _, headers = await self.post(
            "/login",
            {"csrf_token": token, "username": persona.username, "password": persona.password, "next": next_path},
        )
        return status, headers


@pytest.fixture
async def agent(hub: RunningHub) -> AsyncIterator[Agent]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:  # unsafe: 127.0.0.1
        yield Agent(hub, http)


# --- login ---------------------------------------------------------------------------------------


async def test_login_refuses_a_wrong_password_then_goes_to_next(page: Page, context: BrowserContext) -> None:
    await page.goto("/login?next=/me%3Flang%3Den")
    assert await page.input_value("input[name=next]") == "/me?lang=en"
    await page.fill("input[name=username]", LOGIN.username)
    await page.fill("input[name=password]", "not-the-password")
    async with page.expect_response(lambda r: r.request.method == "POST") as wrong:
        await page.click("#login-submit")
    assert (await wrong.value).status == 401
    wrong_text = await page.inner_text("#login-error")
    assert wrong_text == i18n.MESSAGES[i18n.ZH]["login_failed"]
    assert await page.input_value("input[name=username]") == LOGIN.username  # kept, the password not
    assert await page.input_value("input[name=password]") == ""

    # An unknown user gets exactly the same answer: the page does not tell which usernames exist.
    await page.fill("input[name=username]", "nobody-by-this-name")
    await page.fill("input[name=password]", "whatever")
    async with page.expect_response(lambda r: r.request.method == "POST") as unknown:
        await page.click("#login-submit")
    assert (await unknown.value).status == 401
    assert await page.inner_text("#login-error") == wrong_text

    await page.fill("input[name=username]", LOGIN.username)
    await page.fill("input[name=password]", LOGIN.password)
    await page.click("#login-submit")
    await page.wait_for_url("**/me?lang=en")
    assert await page.inner_text("h1") == f"Hello, {LOGIN.name}"
    assert LOGIN.card_number in await page.inner_text("main")
    await page.screenshot(path="/tmp/web-me-en.png", full_page=True)

    cookie = next(c for c in await context.cookies() if c["name"] == web_session.COOKIE_NAME)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"


async def test_login_page_screenshot_and_headers(page: Page) -> None:
    response = await page.goto("/login")
    assert response is not None and response.status == 200
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none': no script runs
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert await page.locator("script").count() == 0
    assert await page.get_attribute("html", "lang") == "zh-CN"
    assert await page.locator("form input[type=hidden][name=csrf_token]").count() == 1
    await page.screenshot(path="/tmp/web-login.png", full_page=True)


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "https://evil.example/", "/\t/evil.example", "javascript:alert(1)"]
)
async def test_login_never_redirects_off_site(agent: Agent, target: str) -> None:
    status, headers = await agent.log_in(LOGIN, target)
    assert status == 303
    assert headers["Location"] == "/me"


async def test_open_redirect_is_not_followed_in_the_browser(page: Page, hub: RunningHub) -> None:
    await log_in(page, LOGIN, "//evil.example")
    await page.wait_for_url("**/me")
    assert page.url == hub.url + "/me"


def test_safe_next_keeps_paths_on_this_site() -> None:
    assert safe_next("/oauth/authorize?client_id=a&scope=transit%20card") == (
        "/oauth/authorize?client_id=a&scope=transit%20card"
    )
    for bad in ("//evil.example/x", "/\\evil", "http://evil", "evil", "", "/\n/evil", "/ space", None, 7):
        assert safe_next(bad) == "/me", bad


async def test_me_needs_a_login_and_logout_ends_it(agent: Agent, page: Page) -> None:
    status, _, headers = await agent.get("/me")
    assert status == 303
    assert headers["Location"] == "/login?next=/me"
    async with agent.http.head(agent.hub.url + "/login") as head:
        assert head.status == 200

    await log_in(page, LOGIN)
    await page.wait_for_url("**/me")
    await page.click("#logout")
    await page.wait_for_url("**/login")
    assert await page.inner_text("#notice") == i18n.MESSAGES[i18n.ZH]["logged_out"]
    await page.goto("/me")
    assert page.url.endswith("/login?next=/me")


# --- /me: consents and the access log ------------------------------------------------------------


async def test_me_lists_consents_and_the_access_log(page: Page, hub: RunningHub) -> None:
    app = await make_client("鹭岛公交", "显示您的乘车记录和余额")
    granted = await consent.grant(
        MINE.card_number, app.client_id, frozenset({"library", "transit", "health"}), app.purpose
    )
    # Reads through the sandbox console: one allowed (transit), one refused (library: no consent).
    token = await hub.token(MINE.card_number, scopes=["transit"])
    request_id = f"web-{secrets.token_hex(6)}"
    status, _ = await hub.graphql(
        "{ me { transit { balance } library { fines } } }", token, headers={"X-Request-Id": request_id}
    )
    assert status == 200

    await log_in(page, MINE)
    await page.wait_for_url("**/me")
    card = page.locator(f"#consent-{granted.id}")
    assert await card.get_attribute("data-status") == "ACTIVE"
    assert "鹭岛公交" in await card.locator("h3").inner_text()
    card_text = await card.inner_text()
    assert app.purpose in card_text
    assert granted.expires_at.astimezone(CHINA_TIME).strftime("%Y-%m-%d") in card_text
    # Catalogue order, each with its own revoke button.
    assert await card.locator("li[data-scope]").evaluate_all("els => els.map(e => e.dataset.scope)") == [
        "transit", "health", "library",
    ]  # fmt: skip
    assert await card.locator("form[id^=revoke-] button").count() == 4  # three scopes + the whole consent

    rows = page.locator(f'#access-log tr[data-request-id="{request_id}"]')
    assert await rows.count() == 2
    outcomes = {
        await rows.nth(i).get_attribute("data-sections"): await rows.nth(i).get_attribute("data-outcome")
        for i in range(2)
    }
    assert outcomes == {"transit": "ALLOWED", "library": "DENIED"}
    denied = page.locator(f'#access-log tr[data-request-id="{request_id}"][data-outcome="DENIED"]')
    assert "未经授权" in await denied.inner_text()  # the reason, CONSENT_REQUIRED, in words
    # Newest first: this request's rows come before any older read.
    first_ids = await page.locator("#access-log tbody tr").evaluate_all("rs => rs.map(r => r.dataset.requestId)")
    assert first_ids[:2] == [request_id, request_id]
    await page.screenshot(path="/tmp/web-me.png", full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path="/tmp/web-me-mobile.png", full_page=True)


async def test_revoke_one_scope_then_the_whole_consent_by_clicking(page: Page) -> None:
    app = await make_client("厦门图书馆 App", "借阅提醒")
    granted = await consent.grant(MINE.card_number, app.client_id, frozenset({"library", "transit"}), "借阅提醒")
    await log_in(page, MINE)
    await page.wait_for_url("**/me")

    await page.click(f"#revoke-{granted.id}-library button")
    await page.wait_for_url("**/me")
    assert await page.inner_text("#notice") == "已撤回“厦门图书馆 App”读取“图书馆”的授权。"
    standing = await consent.standing(MINE.card_number, app.client_id)
    assert standing.status is ConsentStatus.ACTIVE
    assert standing.scopes == {"transit"} and standing.revoked == {"library"}
    card = page.locator(f"#consent-{granted.id}")
    assert await card.locator("li[data-scope]").count() == 1
    assert await card.locator(".revoked").get_attribute("data-scopes") == "library"

    await page.click(f"#revoke-{granted.id} button")
    await page.wait_for_url("**/me")
    assert "全部授权" in await page.inner_text("#notice")
    standing = await consent.standing(MINE.card_number, app.client_id)
    assert standing.status is ConsentStatus.REVOKED and not standing.scopes
    assert await card.get_attribute("data-status") == "REVOKED"
    assert await card.locator("button").count() == 0  # nothing left to withdraw
    await card.locator("summary").click()
    assert await card.locator("ol.history li").count() == 3  # granted, narrowed, revoked
    await card.screenshot(path="/tmp/web-me-revoked.png")


async def test_pause_resume_and_a_receipt_by_clicking(page: Page) -> None:
    app = await make_client("厦门公交 App", "乘车提醒")
    granted = await consent.grant(GUARDED.card_number, app.client_id, frozenset({"transit"}), "乘车提醒")
    await log_in(page, GUARDED)
    await page.wait_for_url("**/me")

    await page.click(f"#pause-{granted.id} button")
    await page.wait_for_url("**/me")
    assert (await consent.standing(GUARDED.card_number, app.client_id)).status is ConsentStatus.PAUSED
    card = page.locator(f"#consent-{granted.id}")
    assert await card.get_attribute("data-status") == "PAUSED"
    assert await card.locator(".paused").count() == 1

    await page.click(f"#resume-{granted.id} button")
    await page.wait_for_url("**/me")
    assert (await consent.standing(GUARDED.card_number, app.client_id)).status is ConsentStatus.ACTIVE

    # Each change of the consent has its signed receipt, downloadable from its history.
    await card.locator("summary").click()
    receipts = card.locator("a.receipt")
    assert await receipts.count() == 3  # granted, paused, resumed
    href = await receipts.first.get_attribute("href")
    assert href is not None
    answer = await page.request.get(href)
    assert answer.status == 200
    token = (await answer.text()).strip()
    assert token.count(".") == 2  # a compact JWS: header.payload.signature


async def test_a_stale_revoke_button_shows_an_error_page(page: Page) -> None:
    app = await make_client("旧页面测试", "p")
    granted = await consent.grant(MINE.card_number, app.client_id, frozenset({"transit"}), "p")
    await log_in(page, MINE, "/me%3Flang%3Den")
    await page.wait_for_url("**/me?lang=en")
    await consent.revoke(MINE.card_number, granted.id)  # meanwhile, in another tab
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.click(f"#revoke-{granted.id}-transit button")
    assert (await answer.value).status == 409
    assert await page.inner_text("#error-message") == (
        "This consent is no longer active (Revoked): there is nothing left to withdraw."
    )
    assert "Traceback" not in await page.content()
    # The switch cannot reload a POST's answer: it goes to a page that a link can load.
    assert await page.get_attribute("#lang-zh-CN", "href") == "/me?lang=zh-CN"
    await page.screenshot(path="/tmp/web-error.png", full_page=True)


# --- CSRF and other citizens' consents, over plain HTTP --------------------------------------------


async def test_posts_without_the_sessions_csrf_token_are_refused_and_change_nothing(
    agent: Agent, hub: RunningHub
) -> None:
    app = await make_client("CSRF 测试", "p")
    granted = await consent.grant(GUARDED.card_number, app.client_id, frozenset({"library", "transit"}), "p")
    # Logging in needs the token too.
    status, text, _ = await agent.post("/login", {"username": GUARDED.username, "password": GUARDED.password})
    assert status == 403
    assert "Traceback" not in text and i18n.MESSAGES[i18n.ZH]["error_csrf"] in text
    assert (await agent.get("/me"))[0] == 303  # not logged in

    assert (await agent.log_in(GUARDED))[0] == 303
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other_http:
        someone_elses = await Agent(hub, other_http).csrf()  # a valid token, of another session
    path = f"/me/consents/{granted.id}/revoke"
    for form in ({"scope": "library"}, {"scope": "library", "csrf_token": "wrong"}, {"csrf_token": someone_elses}):
        status, text, _ = await agent.post(path, form)
        assert status == 403, form
        assert "Traceback" not in text
    status, _, _ = await agent.post("/logout", {})
    assert status == 403
    assert (await agent.get("/me"))[0] == 200  # still logged in
    standing = await consent.standing(GUARDED.card_number, app.client_id)
    assert standing.status is ConsentStatus.ACTIVE and standing.scopes == {"library", "transit"}

    # The same request with the session's token goes through: the refusals above were about the token.
    status, _, headers = await agent.post(path, {"scope": "library", "csrf_token": await agent.csrf("/me")})
    assert (status, headers["Location"]) == (303, "/me")
    assert (await consent.standing(GUARDED.card_number, app.client_id)).scopes == {"transit"}


async def test_a_citizen_cannot_revoke_another_citizens_consent(agent: Agent) -> None:
    app = await make_client("他人授权测试", "p")
    theirs = await consent.grant(OTHER.card_number, app.client_id, frozenset({"transit"}), "p")
    mine = await consent.grant(GUARDED.card_number, app.client_id, frozenset({"transit"}), "p")
    await agent.log_in(GUARDED)
    token = await agent.csrf("/me")
    for consent_id in (theirs.id, 999_999, 2**70):
        status, text, _ = await agent.post(f"/me/consents/{consent_id}/revoke", {"csrf_token": token})
        assert status == 404
        assert i18n.MESSAGES[i18n.ZH]["error_consent_not_found"] in text
    assert (await consent.standing(OTHER.card_number, app.client_id)).scopes == {"transit"}

    status, text, _ = await agent.post(f"/me/consents/{mine.id}/revoke", {"csrf_token": token, "scope": "health"})
    assert status == 409
    assert "这项授权不包括“健康医疗”" in text
    assert (await Consent.get(id=mine.id)).scopes == {"transit"}


# --- the consent screen ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def consent_site(hub: RunningHub) -> AsyncIterator[tuple[str, Client]]:
    """render_consent behind a stand-in /oauth/authorize: GET shows it, POST echoes the form."""
    client = await make_client("鹭岛健康", "预约挂号并查看就诊记录", ClientType.PUBLIC)
    hidden = {"client_id": client.client_id, "state": "s<\"'&>1", "redirect_uri": "http://127.0.0.1:9/cb"}

    async def show(request: Request) -> Response:
        return render_consent(
            request,
            client=client,
            requested=frozenset({"card", "transit", "health", "housing_fund", "library", "no_such_scope"}),
            already=frozenset({"card"}),
            hidden=hidden,
            action="/authorize",
        )

    async def decide(request: Request) -> Response:
        form = await request.form()
        check_csrf(request, form)
        return JSONResponse({k: form.getlist(k) for k in form})

    app = Starlette(
        routes=[Route("/authorize", show, methods=["GET"]), Route("/authorize", decide, methods=["POST"])],
        middleware=[web_session.middleware([secrets.token_bytes(32)], https_only=False)],
        exception_handlers=EXCEPTION_HANDLERS,
    )
    port = runner.free_port()
    server = EmbeddedServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))
    task = await start_in_background(server)
    yield f"http://127.0.0.1:{port}", client
    server.should_exit = True
    await task


async def test_consent_screen_asks_sensitive_scopes_separately_and_unticked(
    browser: Browser, consent_site: tuple[str, Client]
) -> None:
    url, client = consent_site
    ctx = await browser.new_context(locale="zh-CN", viewport={"width": 900, "height": 900})
    page = await ctx.new_page()
    try:
        await page.goto(url + "/authorize?client_id=x")
        assert client.name in await page.inner_text("h1")
        assert await page.inner_text("#consent-purpose") == client.purpose
        boxes = page.locator("input[type=checkbox][name=scope]")
        state = {await boxes.nth(i).get_attribute("value"): await boxes.nth(i).is_checked() for i in range(4)}
        assert await boxes.count() == 4  # card is granted already; the unknown scope is not offered
        assert state == {"transit": True, "library": True, "health": False, "housing_fund": False}
        sensitive = page.locator("#group-sensitive input[name=scope]")
        assert await sensitive.evaluate_all("els => els.map(e => e.value)") == ["health", "housing_fund"]
        assert "个人信息保护法" in await page.inner_text("#group-sensitive")
        assert await page.locator("#group-already li").get_attribute("data-scope") == "card"
        assert "公共交通" in await page.inner_text("#group-regular")  # names and sources in Chinese
        assert "e通卡公司" in await page.inner_text("#group-regular")
        await page.screenshot(path="/tmp/web-consent.png", full_page=True)

        await page.check("#scope-health")
        await page.uncheck("#scope-library")
        await page.click("#allow")
        echoed = await page.evaluate("JSON.parse((document.querySelector('pre') || document.body).innerText)")
        assert echoed["scope"] == ["transit", "health"]
        assert echoed["decision"] == ["allow"]
        assert echoed["state"] == ["s<\"'&>1"]  # hidden fields round-trip exactly
        assert echoed["client_id"] == [client.client_id]
        assert len(echoed["csrf_token"]) == 1  # and check_csrf accepted it

        await page.goto(url + "/authorize?client_id=x")
        await page.click("#lang-en")
        assert await page.get_attribute("html", "lang") == "en"
        assert page.url.endswith("/authorize?client_id=x&lang=en")  # the request parameters are kept
        assert "Sensitive personal information" in await page.inner_text("#group-sensitive")
        await page.click("#deny")
        assert (await page.evaluate("JSON.parse((document.querySelector('pre') || document.body).innerText)"))[
            "decision"
        ] == ["deny"]
    finally:
        await ctx.close()


async def test_render_consent_refuses_hidden_fields_that_clash_with_its_own(consent_site: tuple[str, Client]) -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []})
    for name in ("csrf_token", "scope", "decision"):
        with pytest.raises(ValueError, match="confused"):
            render_consent(
                request, client=consent_site[1], requested=frozenset({"transit"}), already=frozenset(),
                hidden={name: "x"}, action="/a",
            )  # fmt: skip


# --- language ------------------------------------------------------------------------------------


async def test_language_switch_shows_english_and_chinese_and_is_remembered(browser: Browser, hub: RunningHub) -> None:
    ctx = await browser.new_context(base_url=hub.url, locale="en-US")
    page = await ctx.new_page()
    try:
        await page.goto("/login?next=/me")
        assert await page.get_attribute("html", "lang") == "en"  # from Accept-Language
        assert await page.inner_text("h1") == "Log in to your citizen card"
        await page.click("#lang-zh-CN")
        assert await page.get_attribute("html", "lang") == "zh-CN"
        assert await page.inner_text("h1") == "登录市民卡"
        assert await page.input_value("input[name=next]") == "/me"  # the switch keeps the page's parameters
        await page.goto("/login")
        assert await page.inner_text("h1") == "登录市民卡"  # remembered in the session
        await page.click("#lang-en")
        await log_in(page, LOGIN)
        await page.wait_for_url("**/me")
        assert await page.inner_text("h1") == f"Hello, {LOGIN.name}"  # kept across login
    finally:
        await ctx.close()


async def test_language_without_a_choice_follows_accept_language_else_chinese(agent: Agent) -> None:
    for header, expected in (
        ({}, "登录市民卡"),
        ({"Accept-Language": "fr-FR, en;q=0.5"}, "Log in to your citizen card"),
        ({"Accept-Language": "en;q=0.4, zh-TW;q=0.8"}, "登录市民卡"),
        ({"Accept-Language": "de"}, "登录市民卡"),
    ):
        # A fresh client each time: no session cookie, so no remembered choice.
        async with aiohttp.ClientSession() as fresh, fresh.get(agent.hub.url + "/login", headers=header) as resp:
            assert f"<h1>{expected}</h1>" in await resp.text(), header


def test_every_message_and_scope_is_translated() -> None:
    assert i18n.MESSAGES[i18n.ZH].keys() == i18n.MESSAGES[i18n.EN].keys()
    for lang in i18n.LANGUAGES:
        t = i18n.Translator(lang)
        for scope in CATALOGUE:
            assert t.scope(scope.name) != scope.name
            assert t.reveals(scope.name)
            assert t.source(scope.source) != scope.source
    zh = i18n.Translator(i18n.ZH)
    assert all(re.search(r"[\u4e00-\u9fff]", zh.reveals(s.name)) for s in CATALOGUE)


# --- the authenticator and the wiring --------------------------------------------------------------


async def test_password_table_hashes_with_salt_and_says_nothing_about_which_part_was_wrong() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert stored != hash_password("correct horse")  # salted
    assert verify_password("correct horse", stored)
    assert not verify_password("Correct horse", stored)
    assert not verify_password("correct horse", "scrypt$16384$8$1$bad$hash")
    assert not verify_password("correct horse", "md5$x")
    table = PasswordTable({"amy": (stored, "350299990001")})
    assert await table.authenticate("amy", "correct horse") == "350299990001"
    assert await table.authenticate("amy", "wrong") is None
    assert await table.authenticate("bob", "correct horse") is None
    assert await table.authenticate("amy", "x" * 5000) is None


def test_citizen_login_in_sandbox_is_the_personas_and_in_production_the_provider_or_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox = Settings(mode="sandbox")
    login_in_sandbox = citizen_login(sandbox, sandbox.keyring())
    assert isinstance(login_in_sandbox.authenticator, SandboxLogin) and login_in_sandbox.upstream is None
    production = Settings(mode="production")
    assert citizen_login(production, Keyring.ephemeral()).authenticator is None
    assert citizen_login(production, Keyring.ephemeral()).upstream is None
    assert "oidc_issuer is not set" in caplog.text
    first, second = generate("s-new"), generate("s-old")
    settings = load({"CARDHUB_MODE": "sandbox", "CARDHUB_SESSION_SECRET": f"{first},{second}"})
    assert len(citizen_login(settings, settings.keyring()).session_keys) == 2  # the first signs, both verify
    assert first not in repr(settings)
    with pytest.raises(SettingsError, match="CARDHUB_SESSION_SECRET"):
        load({"CARDHUB_MODE": "sandbox", "CARDHUB_SESSION_SECRET": "not-a-keyring-entry"})
