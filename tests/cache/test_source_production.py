"""The read path in production mode, as a city runs it: two ``cardhub serve`` instances on one
PostgreSQL and one Redis. A selection makes only the agency calls it needs and composes across
instances through the shared cache; a withdrawal through one instance holds on the other at the very
next request and leaves no copy in Redis; a Redis that is away sends reads to the agency."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from sandbox import runner
from sandbox.personas import PERSONAS
from sandbox.runner import Sandbox, free_port
from tests.cache.conftest import redis_running
from tests.conftest import agency_stats, reset_agency_stats
from tests.hub.test_instances import Hub, graphql
from tests.production import production_env

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))"
REDIS_DB = "redis://127.0.0.1:6379/11"
CARD = PERSONAS[2].card_number
SETUP = """
import asyncio, sys
from datetime import date
from auth import clients, consent, tokens
from auth.clients import ClientType
from auth.oauth import grants
from auth.registry import seed
from hub import database
async def run(url, card):
    async with database.connected(url):
        await seed([(card, "Test Citizen", "citizen", date(2020, 1, 1), True)])
        app, _ = await clients.create("City app", ClientType.PUBLIC, ["https://app.example/cb"],
                                      frozenset({"card", "transit"}), "Your card", first_party=True)
        given = await consent.grant(card, app.client_id, frozenset({"card", "transit"}), "Your card")
        grant = await grants.start(app.client_id, card, "card transit")
        print(app.client_id, given.id)
        print(await tokens.issue(app.client_id, frozenset({"card", "transit"}), card, 600, grant.id))
asyncio.run(run(*sys.argv[1:]))
"""
BALANCE = "{ me { transit { balance } } }"
TRIPS = "{ me { transit { trips(first: 1) { totalCount } } } }"
WITHDRAW = 'mutation($id: ID!) { revokeConsent(consentId: $id, scopes: ["transit"]) { status } }'


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def env(postgres_url: str, sandbox: Sandbox) -> Iterator[dict[str, str]]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    subprocess.run(["redis-cli", "-n", "11", "flushdb"], check=False, capture_output=True)
    yield {
        **production_env(),
        "PATH": "/usr/bin:/bin",
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": REDIS_DB,
        "CARDHUB_LOG_LEVEL": "WARNING",
        **{
            f"CARDHUB_AGENCY_{a.upper()}_{k.upper()}": str(v)
            for a, c in sandbox.configs().items()
            for k, v in c.items()
        },
    }
    subprocess.run(["redis-cli", "-n", "11", "flushdb"], check=False, capture_output=True)


@pytest.fixture
async def citizen(env: dict[str, str]) -> tuple[str, str]:
    """(the app's citizen token, its consent id); the app may send free-form documents (tests only)."""
    await asyncio.to_thread(run, [sys.executable, "-c", CLI, "db", "upgrade"], env)
    out = await asyncio.to_thread(run, [sys.executable, "-c", SETUP, env["CARDHUB_DATABASE_URL"], CARD], env)
    ids, token = out.split("\n", 1)
    client, consent_id = ids.split()
    env["CARDHUB_DEVELOPER_CLIENTS"] = client  # a public app: free-form documents only as a developer client
    return token.strip(), consent_id


@pytest.fixture
async def hubs(env: dict[str, str], citizen: tuple[str, str], tmp_path: Path) -> AsyncIterator[tuple[Hub, Hub]]:
    one = Hub(env, tmp_path / "one.log")
    await asyncio.to_thread(one.wait_ready)
    other = Hub(env, tmp_path / "other.log")
    try:
        await asyncio.to_thread(other.wait_ready)
        yield one, other
    finally:
        one.stop()
        other.stop()


def transit_paths(sandbox: runner.Sandbox) -> list[str]:
    return [i["path"] for i in agency_stats(sandbox, "transit")["intervals"] if "/token" not in i["path"]]


async def read(hub: Hub, query: str, token: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    status, body = await graphql(hub, query, token, variables)
    assert status == 200, body
    result: dict[str, Any] = body
    return result


async def transit_entries() -> list[str]:
    redis = aioredis.Redis.from_url(REDIS_DB, decode_responses=True)
    try:
        return [str(k) for k in await redis.keys("*:s:transit:*")]
    finally:
        await redis.aclose()


@pytest.mark.slow
async def test_selections_compose_across_instances_and_a_withdrawal_holds_at_once(
    hubs: tuple[Hub, Hub], citizen: tuple[str, str], sandbox: Sandbox
) -> None:
    one, other = hubs
    token, consent_id = citizen
    reset_agency_stats(sandbox, "transit")
    body = await read(one, BALANCE, token)
    assert body["data"]["me"]["transit"]["balance"] is not None, body
    assert len(transit_paths(sandbox)) == 1  # the card: no trip pages

    reset_agency_stats(sandbox, "transit")
    body = await read(other, TRIPS, token)
    assert body["data"]["me"]["transit"]["trips"]["totalCount"] > 0, body
    called = transit_paths(sandbox)
    assert called and all(p.endswith("/trips") for p in called), called  # the card: from the shared cache
    assert await transit_entries()

    body = await read(one, WITHDRAW, token, {"id": consent_id})
    assert body["data"]["revokeConsent"]["status"] == "ACTIVE", body  # narrowed: card stays
    reset_agency_stats(sandbox, "transit")
    body = await read(other, BALANCE, token)  # the very next request, on the other instance
    assert body["data"]["me"]["transit"] is None
    assert body["errors"][0]["extensions"]["code"] in ("CONSENT_REVOKED", "CONSENT_REQUIRED"), body
    assert transit_paths(sandbox) == []  # refused before the cache or the agency
    assert await transit_entries() == []  # and no copy is left for it


@pytest.mark.slow
async def test_with_redis_away_every_read_goes_to_the_agency(
    env: dict[str, str], citizen: tuple[str, str], sandbox: Sandbox, tmp_path: Path
) -> None:
    token, _ = citizen
    hub = Hub({**env, "CARDHUB_CACHE_URL": f"redis://127.0.0.1:{free_port()}/0"}, tmp_path / "away.log")
    try:
        await asyncio.to_thread(hub.wait_ready)
        for _ in range(2):
            reset_agency_stats(sandbox, "transit")
            body = await read(hub, BALANCE, token)
            assert body["data"]["me"]["transit"]["balance"] is not None, body
            assert body["data"]["me"]["transit"] is not None and "errors" not in body
            assert len(transit_paths(sandbox)) == 1  # never a copy the backend could not vouch for
    finally:
        hub.stop()
