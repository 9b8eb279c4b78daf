"""The agency trust boundary in production mode, as it runs in a city: ``cardhub serve`` on
PostgreSQL and Redis, an agency's own client credentials from /oauth/token, and the attacks of the
outside review over GraphQL. Agencies' servers are local recorders; the database rows are read
straight from PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import tomli_w

from connectors.runtime import client_secret_basic
from keys.keyring import generate
from sandbox import credentials, runner
from tests.conftest import manifest_data
from tests.connectors.test_outbound import Recorder, serving
from tests.hub.test_instances import CARDHUB, Hub, cli
from tests.production import production_env

SESSION_SECRET = generate("prod-session")  # a key setting (KID:KEY) that must never leave the hub
REGISTER = "mutation($m: String!) { registerConnector(manifest: $m) { created } }"


@pytest.fixture
async def production(
    postgres_url: str, sandbox: runner.Sandbox, tmp_path: Path
) -> AsyncIterator[tuple[Hub, dict[str, str], dict[str, str]]]:
    env = {
        **production_env(),
        "PATH": "/usr/bin:/bin",
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": "redis://127.0.0.1:6379/12",
        "CARDHUB_SESSION_SECRET": SESSION_SECRET,
        "CARDHUB_LOG_LEVEL": "WARNING",
        # The sandbox agencies answer on 127.0.0.1 only: other loopback addresses stay refused.
        "CARDHUB_AGENCY_ALLOWED_NETWORKS": "127.0.0.1/32",
        **{
            f"CARDHUB_AGENCY_{a.upper()}_{k.upper()}": str(v)
            for a, c in sandbox.configs().items()
            for k, v in c.items()
        },
    }
    upgrade = await asyncio.to_thread(
        subprocess.run, [CARDHUB, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert upgrade.returncode == 0, upgrade.stderr
    client = await asyncio.to_thread(agency_client, env, "library")
    env["CARDHUB_FREE_FORM_CLIENTS"] = client["client_id"]  # the agency's own tooling, allowed by the operator
    hub = Hub(env, tmp_path / "hub.log")
    try:
        await asyncio.to_thread(hub.wait_ready)
        yield hub, env, client
    finally:
        hub.stop()


def agency_client(env: dict[str, str], agency: str) -> dict[str, str]:
    args = ["--name", f"{agency} ops", "--type", "agency", "--agency", agency, "--scope", "connectors:manage"]
    created: dict[str, str] = json.loads(cli(env, "clients", "create", *args, "--purpose", "Its connector", "--json"))
    return created


async def agency_token(hub: Hub, created: dict[str, str]) -> str:
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/oauth/token", data={"grant_type": "client_credentials"},
        headers={"Authorization": client_secret_basic(created["client_id"], created["client_secret"])},
    ) as resp:  # fmt: skip
        body = await resp.json()
        assert resp.status == 200, body
        token: str = body["access_token"]
        return token


async def register(hub: Hub, token: str, data: dict[str, Any]) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/graphql", json={"query": REGISTER, "variables": {"m": tomli_w.dumps(data)}},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:  # fmt: skip
        body: dict[str, Any] = await resp.json(content_type=None)
        return body


@pytest.mark.slow
async def test_no_manifest_an_agency_writes_gets_anything_that_is_not_its_own(
    production: tuple[Hub, dict[str, str], dict[str, str]], sandbox: runner.Sandbox, postgres_url: str
) -> None:
    hub, _, client = production
    token = await agency_token(hub, client)
    recorder = Recorder()
    async with serving(recorder.handle, host="127.0.0.3") as port:
        # The hub's own session secret, sent to the agency's own server: refused before anything is sent.
        theft = manifest_data(sandbox, "library")
        theft["auth"] = {"kind": "api_key", "header": "X-Library-Key", "secret_env": "CARDHUB_SESSION_SECRET"}
        body = await register(hub, token, theft)
        assert body["errors"][0]["extensions"]["code"] == "MANIFEST_INVALID"
        assert body["errors"][0]["extensions"]["problems"][0]["path"] == "auth.secret_env"

        # A loopback address the operator did not list, then cloud metadata: refused by address.
        for url in (f"http://127.0.0.3:{port}", "https://169.254.169.254/latest", f"https://127.0.0.3:{port}"):
            elsewhere = manifest_data(sandbox, "library") | {"base_url": url}
            body = await register(hub, token, elsewhere)
            assert body["errors"][0]["extensions"]["code"] == "MANIFEST_INVALID", (url, body)
            assert body["errors"][0]["extensions"]["problems"][0]["path"] == "base_url"
    assert recorder.received == []

    # Another agency's section, under the library's own id.
    hijack = manifest_data(sandbox, "health") | {"agency": "library"}
    body = await register(hub, token, hijack)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # The library's own manifest, at its own address, is welcome: the boundary is not a wall.
    body = await register(hub, token, manifest_data(sandbox, "library") | {"name": "Library, v2"})
    assert body.get("data", {}).get("registerConnector", {}).get("created") is True, body

    # At rest: no agency secret in the clear in any stored version, and none in the hub's log.
    connection = await asyncpg.connect(postgres_url)
    try:
        rows = [r["manifest"] for r in await connection.fetch("SELECT manifest FROM connector_version")]
    finally:
        await connection.close()
    assert len(rows) == 6
    for secret in (credentials.LIBRARY_API_KEY, credentials.HEALTH_API_KEY, credentials.TRANSIT_CLIENT_SECRET):
        assert not any(secret in row for row in rows)
    assert all(json.loads(r)["auth"]["secret"].startswith("sealed.v1.test-secrets-1.") for r in rows)
    log = hub.log.read_text()
    assert SESSION_SECRET not in log and credentials.LIBRARY_API_KEY not in log
    assert "library ops" in log or "refused: MANIFEST_INVALID" in log
