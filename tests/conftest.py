"""Shared fixtures: the five sandbox agencies run once per session, on free loopback ports."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import uvicorn
from starlette.applications import Starlette

from auth import consent, tokens
from auth.clients import ClientType
from auth.scopes import READ_SCOPES
from connectors.base import Connector
from connectors.domain import AGENCY_IDS
from connectors.registry import builtin_connector, builtin_manifest, with_overrides
from hub import sandbox_access
from hub.app import create_app
from hub.server import EmbeddedServer, start_in_background
from hub.settings import Settings
from sandbox import runner

# The hub runs in production mode unless told otherwise. The suite runs the sandbox (stand-in agencies,
# personas, public keys) except where a test asks for production itself (tests/production.py), or
# checks the default (tests/hub/test_cli.py drops this to run the console script as shipped).
os.environ["CARDHUB_MODE"] = "sandbox"


def _statement_cache_per_dialect() -> None:
    """Tortoise caches each table's INSERT and DELETE statements by connection name only ("default" on
    SQLite and PostgreSQL alike). A hub runs on one database, but this test process runs the session's
    SQLite hub (and its background jobs) beside tests that open PostgreSQL: one dialect's placeholders
    would reach the other's server. Give each dialect a cache of its own."""
    from tortoise.backends.base import executor

    caches: dict[str, dict[Any, Any]] = {}
    original = executor.BaseExecutor.__init__

    def init(self: executor.BaseExecutor, model: Any, db: Any, *args: Any, **kwargs: Any) -> None:
        executor.EXECUTOR_CACHE = caches.setdefault(db.capabilities.dialect, {})  # read in __init__, no await
        original(self, model, db, *args, **kwargs)

    executor.BaseExecutor.__init__ = init  # type: ignore[method-assign]


_statement_cache_per_dialect()


def _same_conversions_on_every_dialect() -> None:
    """Tortoise decides, when a model is finalised for a database, which columns come back native and
    skip conversion, and keeps that on the model class: after a test opens PostgreSQL in this process
    (where dates, datetimes, decimals and booleans are native), the session hub's SQLite rows came back
    as strings. Let PostgreSQL treat as native only what SQLite does, so conversion always runs (a
    no-op for values already of their type). Tests only: a hub process uses one database."""
    from tortoise.backends.base_postgres.executor import BasePostgresExecutor
    from tortoise.backends.sqlite.executor import SqliteExecutor

    BasePostgresExecutor.DB_NATIVE = set(SqliteExecutor.DB_NATIVE)


_same_conversions_on_every_dialect()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[runner.Sandbox]:
    # SANDBOX_AGENCIES=transit,library starts only some agencies (handy while working on one).
    chosen = [a for a in os.environ.get("SANDBOX_AGENCIES", ",".join(AGENCY_IDS)).split(",") if a]
    with runner.start(chosen, ephemeral=True) as running:
        yield running


def set_fault(sandbox: runner.Sandbox, agency: str, **fault: Any) -> None:
    """Set the process-wide fault of one agency (empty: clear it)."""
    req = urllib.request.Request(sandbox.url(agency) + "/_sandbox/fault", data=json.dumps(fault).encode(), method="PUT")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


@pytest.fixture
def clear_faults(sandbox: runner.Sandbox) -> Iterator[Callable[..., None]]:
    """Yields set_fault(agency, **fault); every fault set is cleared afterwards."""
    touched: set[str] = set()

    def _set(agency: str, **fault: Any) -> None:
        touched.add(agency)
        set_fault(sandbox, agency, **fault)

    yield _set
    for agency in touched:
        set_fault(sandbox, agency)


@pytest.fixture(params=AGENCY_IDS)
def agency(request: pytest.FixtureRequest) -> str:
    """Runs a test once per agency."""
    value: str = request.param
    return value


ConnectorFactory = Callable[..., Awaitable[Connector]]


def manifest_data(sandbox: runner.Sandbox, agency: str) -> dict[str, Any]:
    """A built-in manifest as plain data (secret included) pointing at the running sandbox agency."""
    data: dict[str, Any] = json.loads(with_overrides(builtin_manifest(agency), sandbox.configs()[agency]).secret_json())
    return data


@pytest.fixture
async def make_connector(sandbox: runner.Sandbox) -> AsyncIterator[ConnectorFactory]:
    """make_connector(agency, timeout_seconds=..., headers=..., page_size=..., **settings) -> started Connector."""
    made: list[Connector] = []

    async def _make(
        agency: str,
        *,
        timeout_seconds: float = 3.0,
        headers: dict[str, str] | None = None,
        page_size: int | None = None,
        **cfg_overrides: Any,
    ) -> Connector:
        cfg = {**sandbox.configs()[agency], **cfg_overrides}
        changes: dict[str, Any] = {"timeout_seconds": timeout_seconds}
        if page_size is not None:  # every paged list of the agency, to walk many pages
            resources = builtin_manifest(agency).model_dump(mode="json", by_alias=True, exclude_none=True)["resources"]
            for resource in resources.values():
                if "pagination" in resource:
                    resource["pagination"]["page_size"] = page_size
            changes["resources"] = resources
        connector = builtin_connector(agency, cfg, extra_headers=tuple((headers or {}).items()), **changes)
        await connector.client.start()
        made.append(connector)
        return connector

    yield _make
    for connector in made:
        await connector.client.close()


# --- the hub, running on uvicorn over real HTTP against the sandbox agencies -------------------


@dataclass
class RunningHub:
    url: str
    app: Starlette
    settings: Settings
    sandbox: runner.Sandbox
    http: aiohttp.ClientSession

    async def graphql(
        self,
        query: str,
        token: str | None = None,
        variables: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self.http.post(
            self.url + "/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers
        ) as resp:
            body: dict[str, Any] = await resp.json(content_type=None)
            return resp.status, body

    async def token(self, persona: str | None = None, scopes: Iterable[str] | None = None, ttl: int = 600) -> str:
        """A sandbox token: a citizen's (persona; their consent to the console is recorded too) or the
        test agency client's own (persona None; it reads only citizens who consented, see consent())."""
        granted = frozenset(scopes) if scopes is not None else READ_SCOPES
        if persona:
            return await sandbox_access.citizen_token(persona, granted, ttl)
        return await tokens.issue(AGENCY_CLIENT, granted, None, ttl)

    async def consent(self, citizen: str, scopes: Iterable[str], client: str = "test-agency-client") -> int:
        """Record the citizen's consent for a client (as the consent screen will). Returns its id."""
        await sandbox_access.ensure_client(client, ClientType.AGENCY, "Tests: an agency reading consented profiles")
        return (await consent.grant(citizen, client, frozenset(scopes), "tests")).id


AGENCY_CLIENT = "test-agency-client"


@pytest.fixture(scope="session")
async def hub(sandbox: runner.Sandbox, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningHub]:
    db = tmp_path_factory.mktemp("hub") / "hub.sqlite3"
    settings = Settings(
        mode="sandbox",
        database_url=f"sqlite://{db}",
        port=runner.free_port(),
        agency_timeout_seconds=1.0,
        cache_url="off",  # tests that count agency calls need every read to reach the agency; see cached()
    ).with_agencies({a: {"url": u} for a, u in sandbox.urls.items()})
    app = create_app(settings)
    server = EmbeddedServer(uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_config=None, lifespan="on"))
    task = await start_in_background(server)
    # No keep-alive: a test that blocks the loop (a CLI subprocess) must not meet a connection the hub
    # closed meanwhile as "connection reset".
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        yield RunningHub(f"http://127.0.0.1:{settings.port}", app, settings, sandbox, http)
    server.should_exit = True
    await task


def agency_stats(sandbox: runner.Sandbox, agency: str) -> dict[str, Any]:
    with urllib.request.urlopen(sandbox.url(agency) + "/_sandbox/stats", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


def reset_agency_stats(sandbox: runner.Sandbox, agency: str) -> None:
    req = urllib.request.Request(sandbox.url(agency) + "/_sandbox/stats/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


# --- PostgreSQL: a fresh database per test --------------------------------------------------------

POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"  # development and CI machines; trust auth


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database (cardhub_test_<random>), dropped after the test.

    Skips the test, saying so, when no PostgreSQL server runs on 127.0.0.1:5432; any other failure
    (authentication, permissions) fails it.
    """
    import secrets

    import asyncpg

    async def admin() -> asyncpg.Connection:
        return await asyncpg.connect(f"{POSTGRES_SERVER}/postgres", timeout=5)

    try:
        connection = await admin()
    except (OSError, TimeoutError) as exc:  # refused, unreachable
        pytest.skip(f"PostgreSQL is not running on 127.0.0.1:5432: {exc}")
    name = f"cardhub_test_{secrets.token_hex(6)}"
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        connection = await admin()
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # a hub left connected too
        finally:
            await connection.close()
