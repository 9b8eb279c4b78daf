"""GraphiQL from the hub itself: the page loads nothing from outside, and runs a query in Chromium with
every address but the hub's blocked."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, async_playwright

from hub import graphiql
from hub.settings import Settings
from sandbox.personas import PERSONAS
from tests.auth.web.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.conftest import RunningHub

HTML = {"Accept": "text/html"}


async def test_the_page_names_only_the_hubs_own_files(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + "/graphql", headers=HTML) as resp:
        assert resp.status == 200
        page = await resp.text()
    assert "GraphiQL" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "the page must load nothing from another host"
    names = re.findall(r'(?:src|href)="graphiql/([^"]+)" integrity="([^"]+)"', page)
    assert sorted(n for n, _ in names) == sorted([*graphiql.SCRIPTS, *graphiql.STYLES])
    for name, integrity in names:
        async with hub.http.get(f"{hub.url}/graphiql/{name}") as resp:
            assert resp.status == 200
            assert resp.content_type in ("text/javascript", "text/css")
            body = await resp.read()
        assert integrity == "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


@pytest.mark.parametrize("name", ["package.json", "..%2Fgraphiql.py", "%2E%2E%2F%2E%2E%2Fsettings.py", "x.js"])
async def test_only_the_pages_files_are_served(hub: RunningHub, name: str) -> None:
    async with hub.http.get(f"{hub.url}/graphiql/{name}") as resp:
        assert resp.status == 404


def test_production_serves_no_graphiql() -> None:
    assert Settings(mode="production").graphiql_enabled is False
    assert graphiql.routes(Settings(mode="production").graphiql_enabled) == []
    assert graphiql.routes(Settings(mode="production", graphiql=True).graphiql_enabled) != []


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@needs_chromium
async def test_graphiql_runs_a_query_with_no_network_but_the_hub(hub: RunningHub, browser: Browser) -> None:
    token = await hub.token(PERSONAS[0].card_number)
    blocked: list[str] = []
    hub_origin = urlsplit(hub.url).netloc

    async def only_the_hub(route: Route) -> None:
        if urlsplit(route.request.url).netloc == hub_origin:
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort("internetdisconnected")

    context = await browser.new_context(base_url=hub.url)
    try:
        await context.route("**/*", only_the_hub)
        page = await context.new_page()
        await page.goto("/graphql")
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        await editor.wait_for(timeout=15_000)
        await page.evaluate(
            """([query, headers]) => {
                document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
                const tools = document.querySelectorAll('.graphiql-editor-tool .CodeMirror');
                tools[tools.length - 1].CodeMirror.setValue(headers);
            }""",
            ["{ me { cardNumber name } }", f'{{"Authorization": "Bearer {token}"}}'],
        )
        await page.locator(".graphiql-execute-button").click()
        result = page.locator(".graphiql-response .CodeMirror")
        await result.filter(has_text=PERSONAS[0].card_number).wait_for(timeout=15_000)
        assert PERSONAS[0].name in await result.inner_text()
    finally:
        await context.close()
    assert blocked == []
