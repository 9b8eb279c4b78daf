"""Pause and security events in production mode, on PostgreSQL and Redis, with ``cardhub serve`` in
processes of its own: a paused consent is refused with its token alive, the change's event survives
a hub killed between the commit and the push, and a receiver address inside the network is refused."""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from auth import consent, events, jws
from auth.registry import Citizen
from hub import database
from sandbox import runner
from sandbox.personas import PERSONAS
from tests.conftest import agency_stats, reset_agency_stats
from tests.hub.test_event_delivery import Receiver
from tests.hub.test_instances import CARDHUB, REDIS_DB, Hub, cli
from tests.hub.test_instances import env as instances_env  # noqa: F401 - the fixture ``env``
from tests.production import production_env

CITIZEN = PERSONAS[4].card_number  # put in this test's own (production) card registry
READ = "query($n: ID!) { citizen(cardNumber: $n) { transit { balance } } }"


@pytest.fixture
async def prod(instances_env: dict[str, str], postgres_url: str) -> AsyncIterator[dict[str, Any]]:  # noqa: F811
    values = {**instances_env, **production_env(), "CARDHUB_DATABASE_URL": postgres_url, "CARDHUB_CACHE_URL": REDIS_DB}
    cli(values, "db", "upgrade")
    created = json.loads(cli(values, "clients", "create", "--name", "Events App", "--type", "agency", "--scope",
                             "transit", "--purpose", "Keeps your bus balance", "--json"))  # fmt: skip
    values["CARDHUB_FREE_FORM_CLIENTS"] = created["client_id"]
    async with database.opened(postgres_url):
        await Citizen.create(card_number=CITIZEN, name=PERSONAS[4].name, username="rights-test")
        granted = await consent.grant(CITIZEN, created["client_id"], frozenset({"transit"}), "tests")
    yield {"env": values, "client": created["client_id"], "secret": created["client_secret"], "consent": granted.id}


async def client_token(hub: Hub, client: str, secret: str) -> str:
    basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/oauth/token", data={"grant_type": "client_credentials", "scope": "transit"},
        headers={"Authorization": f"Basic {basic}"},
    ) as resp:  # fmt: skip
        body = await resp.json()
        assert resp.status == 200, body
        return str(body["access_token"])


async def read(hub: Hub, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/graphql", json={"query": READ, "variables": {"n": CITIZEN}},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:  # fmt: skip
        return resp.status, await resp.json(content_type=None)


async def undelivered(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        count: int = await connection.fetchval("SELECT count(*) FROM security_event WHERE delivered_at IS NULL")
        return count
    finally:
        await connection.close()


async def started(values: dict[str, str], log: Path) -> Hub:
    hub = Hub(values, log)
    await asyncio.to_thread(hub.wait_ready)
    return hub


async def test_pause_and_an_event_that_survives_a_hub_killed_before_the_push(
    prod: dict[str, Any], tmp_path: Path, sandbox: runner.Sandbox
) -> None:
    values, client, url = prod["env"], prod["client"], prod["env"]["CARDHUB_DATABASE_URL"]
    receiver = Receiver(runner.free_port())
    assert "refused" not in cli(values, "clients", "events", "--client", client, "--push", receiver.url)
    # The first hub pushes only at its start: whatever is committed after, it dies before sending.
    first = await started({**values, "CARDHUB_EVENT_INTERVAL_SECONDS": "3600"}, tmp_path / "first.log")
    try:
        token = await client_token(first, client, prod["secret"])
        status, body = await read(first, token)
        assert status == 200 and body["data"]["citizen"]["transit"] is not None, body  # now in Redis too

        async with database.opened(url):
            await consent.pause(CITIZEN, prod["consent"])
        reset_agency_stats(sandbox, "transit")
        status, body = await read(first, token)
        assert status == 200, body  # the token is alive
        assert body["data"]["citizen"]["transit"] is None
        assert body["errors"][0]["extensions"] == {"code": "CONSENT_PAUSED", "scope": "transit"}
        assert agency_stats(sandbox, "transit")["count"] == 0
        assert await undelivered(url) == 1  # committed with the pause
    finally:
        first.proc.send_signal(signal.SIGKILL)  # between the commit and the push
        first.proc.wait()

    await receiver.start()
    second = await started({**values, "CARDHUB_EVENT_INTERVAL_SECONDS": "0.2"}, tmp_path / "second.log")
    try:
        for _ in range(100):
            if receiver.received:
                break
            await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as http, http.get(second.url + events.JWKS_PATH) as resp:
            keys = jws.keys_from_jwks(await resp.json())
        [pushed] = receiver.received
        claims = jws.verify(pushed, keys, events.SET_TYPE)
        assert claims["aud"] == client and claims["iss"] == "https://hub.example"
        event = claims["events"][events.CONSENT_EVENT]
        assert event["change"] == "PAUSED" and event["consent_status_notification"]["consent_status"] == "PAUSED"
        assert await undelivered(url) == 0

        async with database.opened(url):
            await consent.resume(CITIZEN, prod["consent"])
        status, body = await read(second, await client_token(second, client, prod["secret"]))
        assert body["data"]["citizen"]["transit"] is not None, body
        for _ in range(100):
            if len(receiver.received) == 2:
                break
            await asyncio.sleep(0.1)
        changes = [
            jws.verify(t, keys, events.SET_TYPE)["events"][events.CONSENT_EVENT]["change"] for t in receiver.received
        ]
        assert changes == ["PAUSED", "RESUMED"]
        await poll_answers_only_the_client(second, client, prod["secret"])
    finally:
        second.stop()
        await receiver.stop()


async def poll_answers_only_the_client(hub: Hub, client: str, secret: str) -> None:
    """RFC 8936: the client's own credentials, nothing left once pushed; a wrong secret gets 401."""
    async with aiohttp.ClientSession() as http:
        for password, status in ((secret, 200), ("wrong", 401)):
            basic = base64.b64encode(f"{client}:{password}".encode()).decode()
            async with http.post(hub.url + "/events/poll", json={"returnImmediately": True},
                                 headers={"Authorization": f"Basic {basic}"}) as resp:  # fmt: skip
                assert resp.status == status
                if status == 200:
                    assert await resp.json() == {"sets": {}, "moreAvailable": False}


async def test_a_receiver_address_inside_the_network_is_refused_in_production(prod: dict[str, Any]) -> None:
    for url in ("https://10.20.30.40/events", "https://169.254.169.254/latest/meta-data"):
        command = [CARDHUB, "clients", "events", "--client", prod["client"], "--push", url]
        done = await asyncio.to_thread(subprocess.run, command, env=prod["env"], capture_output=True, text=True)
        assert done.returncode == 2 and "does not push events" in done.stderr, done.stderr
