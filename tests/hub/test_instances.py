"""Two hub processes, one PostgreSQL, one Redis, behave as one: a consent revoked through one is
refused by the other on the very next request, a token revoked through one is dead on the other, and
a section one of them read is served by the other from the shared cache."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis

from sandbox import runner
from sandbox.personas import PERSONAS
from tests.cache.conftest import redis_running
from tests.conftest import agency_stats, reset_agency_stats
from tests.production import production_env

CARDHUB = str(Path(sys.executable).parent / "cardhub")
CITIZEN = PERSONAS[3].card_number
REDIS_DB = "redis://127.0.0.1:6379/13"
READ = "query($n: ID!) { citizen(cardNumber: $n) { transit { cardNumber meta { stale } } } }"


class Hub:
    """``cardhub serve`` in its own process."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = runner.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as err:
            self.proc = subprocess.Popen(
                [CARDHUB, "serve", "--port", str(self.port)], env=env, stdout=subprocess.DEVNULL, stderr=err
            )

    def wait_ready(self) -> None:
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError(f"hub exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        raise AssertionError("hub did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def env(postgres_url: str, sandbox: runner.Sandbox) -> Iterator[dict[str, str]]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=False, capture_output=True)
    values = {
        **os.environ,
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": REDIS_DB,
        "CARDHUB_LOG_LEVEL": "WARNING",
        "CARDHUB_AGENCY_TIMEOUT_SECONDS": "1",
        **{f"CARDHUB_AGENCY_{a.upper()}_URL": u for a, u in sandbox.urls.items()},
    }
    yield values
    subprocess.run(["redis-cli", "-n", "13", "flushdb"], check=False, capture_output=True)


@pytest.fixture
async def hubs(env: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[Hub, Hub]]:
    first = Hub(env, tmp_path / "first.log")
    await asyncio.to_thread(first.wait_ready)  # the first prepares the database; then the second joins
    second = Hub(env, tmp_path / "second.log")
    try:
        await asyncio.to_thread(second.wait_ready)
        yield first, second
    finally:
        first.stop()
        second.stop()


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([CARDHUB, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


async def graphql(hub: Hub, query: str, token: str, variables: dict[str, Any] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/graphql", json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:  # fmt: skip
        return resp.status, await resp.json(content_type=None)


async def test_a_revoke_through_one_instance_holds_on_the_other_at_once(
    hubs: tuple[Hub, Hub], env: dict[str, str], sandbox: runner.Sandbox
) -> None:
    one, other = hubs
    created = json.loads(cli(env, "clients", "create", "--name", "Bus App", "--type", "agency", "--scope", "transit",
                             "--purpose", "Shows your bus balance", "--json"))  # fmt: skip
    client = created["client_id"]
    granted = cli(env, "consent", "grant", "--persona", CITIZEN, "--client", client, "--scope", "transit")
    consent_id = re.search(r"consent (\d+):", granted)
    assert consent_id is not None
    agency_token = cli(env, "token", "--client", client)
    citizen_token = cli(env, "token", "--persona", CITIZEN)

    _, body = await graphql(one, READ, agency_token, {"n": CITIZEN})
    assert body["data"]["citizen"]["transit"]["cardNumber"]
    reset_agency_stats(sandbox, "transit")
    _, body = await graphql(other, READ, agency_token, {"n": CITIZEN})
    assert body["data"]["citizen"]["transit"]["cardNumber"]
    assert not [i for i in agency_stats(sandbox, "transit")["intervals"] if "/token" not in i["path"]], (
        "the other instance should have served the copy the first one stored in Redis"
    )
    redis = aioredis.Redis.from_url(REDIS_DB, decode_responses=True)
    try:
        names = [str(k) for k in await redis.keys("*")]
        entries = [k for k in names if ":s:transit:" in k]
        value = str(await redis.get(entries[0])) if entries else ""
    finally:
        await redis.aclose()
    assert entries and not any(CITIZEN in k for k in names)
    assert value.startswith("sealed.v1.") and CITIZEN not in value  # sealed, and one key on both instances

    revoke = "mutation($id: ID!) { revokeConsent(consentId: $id) { status } }"
    _, body = await graphql(one, revoke, citizen_token, {"id": consent_id.group(1)})
    assert body["data"]["revokeConsent"]["status"] == "REVOKED"
    _, body = await graphql(other, READ, agency_token, {"n": CITIZEN})  # the very next request
    assert body["data"]["citizen"]["transit"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REVOKED"


async def test_a_token_revoked_through_one_instance_is_dead_on_the_other(
    hubs: tuple[Hub, Hub], env: dict[str, str]
) -> None:
    one, other = hubs
    token = cli(env, "token", "--persona", CITIZEN)
    status, _ = await graphql(other, "{ me { name } }", token)
    assert status == 200
    async with (
        aiohttp.ClientSession() as http,
        http.post(one.url + "/oauth/revoke", data={"token": token, "client_id": "sandbox-console"}) as resp,
    ):
        assert resp.status == 200
    status, body = await graphql(other, "{ me { name } }", token)
    assert status == 401, body


async def _fresh_database(name: str) -> str:
    admin = await asyncpg.connect("postgres://postgres@127.0.0.1:5432/postgres", timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return f"postgres://postgres@127.0.0.1:5432/{name}"


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sandbox", "production"])
async def test_instances_started_together_on_a_new_database_all_come_up(
    postgres_url: str, env: dict[str, str], tmp_path: Path, mode: str
) -> None:
    """A rolling deploy or an autoscaler starts many at once: seeding the card registry and the built-in
    connectors is check-then-insert, done under the database-wide lock. Five trials per mode, three
    instances each, on a database no hub has touched (sandbox: migrated by the instances themselves)."""
    base = postgres_url.rsplit("/", 1)[1]
    for trial in range(5):
        url = await _fresh_database(f"{base}_{mode}_{trial}")
        trial_env = {**env, "CARDHUB_DATABASE_URL": url, "CARDHUB_MODE": mode}
        if mode == "production":
            trial_env.update(production_env(), CARDHUB_DATABASE_URL=url, CARDHUB_CACHE_URL=REDIS_DB)
            cli(trial_env, "db", "upgrade")
        hubs = [Hub(trial_env, tmp_path / f"{mode}-{trial}-{i}.log") for i in range(3)]
        try:
            await asyncio.gather(*(asyncio.to_thread(h.wait_ready) for h in hubs))
            logs = "".join(h.log.read_text() for h in hubs)
            assert "IntegrityError" not in logs and "Traceback" not in logs, logs[-3000:]
        finally:
            for h in hubs:
                h.stop()
            connection = await asyncpg.connect(url)
        try:
            connectors = await connection.fetchval("SELECT count(*) FROM connector_version")
            citizens = await connection.fetchval("SELECT count(*) FROM citizen")
        finally:
            await connection.close()
            await _drop(url.rsplit("/", 1)[1])
        assert connectors == 5, f"trial {trial}: {connectors} built-in connector versions"
        assert citizens == (len(PERSONAS) if mode == "sandbox" else 0)


async def _drop(name: str) -> None:
    admin = await asyncpg.connect("postgres://postgres@127.0.0.1:5432/postgres", timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
