"""The revocation epoch in production mode, two hubs on one PostgreSQL and Redis (tests/hub/test_instances.py).

Each hub keeps token, registry and consent lookups in memory (auth/epoch.py). Whatever takes access away,
through the other hub, the CLI in a process of its own or plain SQL, holds on the very next request; and
with the epoch unreadable, every request checks the database.
"""

from __future__ import annotations

import json
import re

import aiohttp
import asyncpg

from connectors.runtime import client_secret_basic
from tests.hub.test_instances import CITIZEN, READ, Hub, cli, env, graphql, hubs

__all__ = ["env", "hubs"]  # the fixtures, shared with test_instances


async def warm(hub: Hub, token: str, times: int = 5) -> None:
    """Reads enough for the hub to remember the token, the citizen and the consent."""
    for _ in range(times):
        status, body = await graphql(hub, READ, token, {"n": CITIZEN})
        assert status == 200 and body["data"]["citizen"]["transit"]["cardNumber"], body


def agency(env: dict[str, str]) -> tuple[str, str]:
    created = json.loads(cli(env, "clients", "create", "--name", "Bus App", "--type", "agency", "--scope", "transit",
                             "--purpose", "Shows your bus balance", "--json"))  # fmt: skip
    client = created["client_id"]
    granted = cli(env, "consent", "grant", "--persona", CITIZEN, "--client", client, "--scope", "transit")
    consent_id = re.search(r"consent (\d+):", granted)
    assert consent_id is not None
    return client, consent_id.group(1)


async def test_a_client_disabled_by_the_cli_is_refused_on_the_next_request(
    hubs: tuple[Hub, Hub], env: dict[str, str]
) -> None:
    _, other = hubs
    client, _ = agency(env)
    token = cli(env, "token", "--client", client)
    await warm(other, token)
    cli(env, "clients", "disable", client)  # another process, straight to the database
    status, body = await graphql(other, READ, token, {"n": CITIZEN})
    assert status == 401, body


async def test_a_pause_through_one_hub_holds_on_the_other_at_once(hubs: tuple[Hub, Hub], env: dict[str, str]) -> None:
    one, other = hubs
    client, consent_id = agency(env)
    token = cli(env, "token", "--client", client)
    citizen = cli(env, "token", "--persona", CITIZEN)
    await warm(other, token)
    _, body = await graphql(one, "mutation($id: ID!) { pauseConsent(consentId: $id) { status } }", citizen,
                            {"id": consent_id})  # fmt: skip
    assert body["data"]["pauseConsent"]["status"] == "PAUSED", body
    _, body = await graphql(other, READ, token, {"n": CITIZEN})
    assert body["data"]["citizen"]["transit"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_PAUSED"


async def test_a_revocation_by_plain_sql_holds_on_the_next_request(
    hubs: tuple[Hub, Hub], env: dict[str, str], postgres_url: str
) -> None:
    _, other = hubs
    client, _ = agency(env)
    token = cli(env, "token", "--client", client)
    await warm(other, token)
    db = await asyncpg.connect(postgres_url)
    try:
        await db.execute("UPDATE consent SET status = 'REVOKED', scope = '' WHERE client_id = $1", client)
    finally:
        await db.close()
    _, body = await graphql(other, READ, token, {"n": CITIZEN})
    assert body["data"]["citizen"]["transit"] is None
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REVOKED"


async def test_with_the_epoch_unreadable_every_request_checks_the_database(
    hubs: tuple[Hub, Hub], env: dict[str, str], postgres_url: str
) -> None:
    one, other = hubs
    token, kept = cli(env, "token", "--persona", CITIZEN), cli(env, "token", "--persona", CITIZEN)
    for _ in range(3):
        status, _ = await graphql(other, ME, token)
        assert status == 200
    db = await asyncpg.connect(postgres_url)
    try:
        await db.execute("DROP TABLE revocation_epoch")  # nothing bumps it, nothing can read it
    finally:
        await db.close()
    async with (
        aiohttp.ClientSession() as http,
        http.post(one.url + "/oauth/revoke", data={"token": token, "client_id": "sandbox-console"}) as resp,
    ):
        assert resp.status == 200
    status, body = await graphql(other, ME, token)
    assert status == 401, body
    status, body = await graphql(other, ME, kept)  # and the hub keeps serving, from the database
    assert status == 200 and body["data"]["me"]["name"], body


ME = "{ me { name } }"


async def client_credentials(hub: Hub, client: str, secret: str) -> tuple[int, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(hub.url + "/oauth/token", data={"grant_type": "client_credentials"},
                  headers={"Authorization": client_secret_basic(client, secret)}) as resp,
    ):  # fmt: skip
        return resp.status, await resp.json()


async def test_a_secret_rotated_or_a_client_disabled_by_the_cli_holds_at_the_token_endpoint_at_once(
    hubs: tuple[Hub, Hub], env: dict[str, str]
) -> None:
    """Client credentials are issued from the client remembered behind the epoch (auth/oauth/client_credentials.py)."""
    _, other = hubs
    created = json.loads(cli(env, "clients", "create", "--name", "Fare Office", "--type", "agency", "--scope",
                             "transit", "--purpose", "Reconciles fares", "--json"))  # fmt: skip
    client, secret = created["client_id"], created["client_secret"]
    for _ in range(3):  # remembered after the first
        status, token = await client_credentials(other, client, secret)
        assert (status, token["scope"]) == (200, "transit"), token
    rotated = json.loads(cli(env, "clients", "rotate-secret", client, "--json"))  # another process, no grace
    status, answer = await client_credentials(other, client, secret)
    assert (status, answer["error"]) == (401, "invalid_client")
    status, token = await client_credentials(other, client, rotated["client_secret"])
    assert status == 200, token
    cli(env, "clients", "disable", client)
    status, answer = await client_credentials(other, client, rotated["client_secret"])
    assert (status, answer["error"]) == (401, "invalid_client")
