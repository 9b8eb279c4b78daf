"""The hub and its commands on PostgreSQL, chosen by DATABASE_URL (skipped where no server runs)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess

import aiohttp
import pytest

from sandbox import runner
from sandbox.personas import PERSONAS
from tests.hub.test_cli import CARDHUB, TOKEN, cardhub
from tests.hub.test_serve import wait_for

CARD = PERSONAS[0].card_number


def test_every_command_works_on_postgres(postgres_url: str) -> None:
    env = {"DATABASE_URL": postgres_url}

    created = cardhub(
        "clients", "create", "--name", "Transit Desk", "--type", "agency", "--scope", "transit",
        "--purpose", "Checks transit passes", "--json", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)["client_id"]

    granted = cardhub("consent", "grant", "--persona", CARD, "--client", client, env=env)
    assert granted.returncode == 0, granted.stderr
    assert f"{CARD} allows {client}: transit" in granted.stdout

    for args in (["token", "--persona", CARD], ["token", "--client", client]):
        minted = cardhub(*args, env=env)
        assert minted.returncode == 0, minted.stderr
        assert TOKEN.match(minted.stdout.strip())

    listed = cardhub("connectors", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert {c["agency"] for c in json.loads(listed.stdout)} >= {"transit", "library"}

    disabled = cardhub("connectors", "disable", "library", env=env)
    assert disabled.returncode == 0, disabled.stderr

    verified = cardhub("audit", "verify", env=env)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout == "audit log intact: 0 records (0 not yet in the tree), 0 checkpoints\n"


@pytest.mark.slow
async def test_the_hub_serves_from_postgres(postgres_url: str, sandbox: runner.Sandbox) -> None:
    port = runner.free_port()
    env = {**os.environ, "DATABASE_URL": postgres_url, "CARDHUB_PORT": str(port)}
    env.update({f"CARDHUB_AGENCY_{a.upper()}_URL": u for a, u in sandbox.urls.items()})
    minted = await asyncio.to_thread(cardhub, "token", "--persona", CARD, "--scope", "transit", env=env)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()

    proc = await asyncio.create_subprocess_exec(CARDHUB, "serve", env=env, stderr=subprocess.DEVNULL)
    try:
        async with aiohttp.ClientSession() as http:
            await wait_for(f"http://127.0.0.1:{port}/healthz", http, proc)
            async with http.post(
                f"http://127.0.0.1:{port}/graphql",
                json={"query": "{ me { cardNumber transit { meta { source } } } }"},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                body = await resp.json()
            assert body["data"]["me"] == {"cardNumber": CARD, "transit": {"meta": {"source": "transit"}}}
            async with http.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert (await resp.json())["status"] == "ready"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) in (0, -signal.SIGTERM)

    verified = await asyncio.to_thread(cardhub, "audit", "verify", env=env)  # the read was logged, in PostgreSQL
    assert re.fullmatch(
        r"audit log intact: [1-9]\d* records \(\d+ not yet in the tree\), \d+ checkpoints\n", verified.stdout
    ), verified.stderr
