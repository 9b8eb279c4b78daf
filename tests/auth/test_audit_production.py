"""The access log in production on PostgreSQL and Redis: two instances record, one leads the sequencer,
both publish the same signed checkpoints, the CLI verifies them; a wrong checkpoint key refuses to start."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from keys.keyring import generate
from sandbox import runner
from sandbox.personas import PERSONAS
from tests.connectors.test_policy_production import agency_token
from tests.hub.test_instances import CARDHUB, Hub, cli
from tests.production import production_env

PROBE = "query($n: ID!) { citizen(cardNumber: $n) { transit { balance } } }"


@pytest.fixture
async def production(postgres_url: str, sandbox: runner.Sandbox, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    env = {
        **production_env(),
        "PATH": "/usr/bin:/bin",
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": "redis://127.0.0.1:6379/11",
        "CARDHUB_LOG_LEVEL": "WARNING",
        **{f"CARDHUB_AGENCY_{a.upper()}_{k.upper()}": str(v) for a, c in sandbox.configs().items()
           for k, v in c.items()},
    }  # fmt: skip
    upgrade = await asyncio.to_thread(
        subprocess.run, [CARDHUB, "db", "upgrade"], env=env, capture_output=True, text=True, check=False
    )
    assert upgrade.returncode == 0, upgrade.stderr
    yield env


def details(hub: Hub) -> dict[str, Any]:
    with urllib.request.urlopen(hub.url + "/readyz/details", timeout=5) as resp:  # loopback: an operator
        body: dict[str, Any] = json.loads(resp.read())
        return body


def checkpoint(hub: Hub) -> str:
    with urllib.request.urlopen(hub.url + "/.well-known/cardhub-audit-checkpoint", timeout=5) as resp:
        return str(resp.read().decode())


async def test_two_production_instances_share_one_signed_log(production: dict[str, str], tmp_path: Path) -> None:
    env = production
    args = ["--name", "Prober", "--type", "agency", "--scope", "transit", "--purpose", "Probes", "--json"]
    created: dict[str, str] = json.loads(cli(env, "clients", "create", *args))
    env["CARDHUB_FREE_FORM_CLIENTS"] = created["client_id"]
    one, other = Hub(env, tmp_path / "one.log"), Hub(env, tmp_path / "other.log")
    try:
        await asyncio.to_thread(one.wait_ready)
        await asyncio.to_thread(other.wait_ready)
        token = await agency_token(one, created)
        async with aiohttp.ClientSession() as http:
            for i, hub in enumerate([one, other] * 5):
                variables = {"n": PERSONAS[i % 3].card_number}
                async with http.post(hub.url + "/graphql", json={"query": PROBE, "variables": variables},
                                     headers={"Authorization": f"Bearer {token}"}) as resp:  # fmt: skip
                    body = await resp.json()
                    assert body["errors"][0]["extensions"]["code"] in ("CONSENT_REQUIRED", "FORBIDDEN"), body
        for _ in range(100):
            states = [details(one)["audit_log"], details(other)["audit_log"]]
            if all(s["tree_size"] >= 10 and s["pending"] == 0 for s in states):
                break
            await asyncio.sleep(0.1)
        assert sorted(s["leader"] for s in states) == [False, True]  # one sequencer for both
        assert all(s["ok"] for s in states)
        assert checkpoint(one) == checkpoint(other)
        kept = tmp_path / "kept.txt"
        kept.write_text(checkpoint(one))
    finally:
        one.stop()
        other.stop()
    verified = await asyncio.to_thread(
        subprocess.run, [CARDHUB, "audit", "verify", "--against", str(kept)], env=env, capture_output=True, text=True
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit log intact: 10 records (0 not yet in the tree)" in verified.stdout

    wrong = {**env, "CARDHUB_CHECKPOINT_KEY": generate("imposter")}
    refused = Hub(wrong, tmp_path / "wrong.log")
    try:
        with pytest.raises(AssertionError, match="hub exited"):
            await asyncio.to_thread(refused.wait_ready)
    finally:
        refused.stop()
    assert "CARDHUB_CHECKPOINT_KEY: the access log's latest checkpoint" in (tmp_path / "wrong.log").read_text()
