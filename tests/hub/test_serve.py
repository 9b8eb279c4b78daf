"""cardhub serve and cardhub sandbox up, run as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest

from sandbox import runner
from sandbox.agencies import AGENCY_IDS
from tests.conftest import RunningHub
from tests.hub.test_cli import CARDHUB, TOKEN, cardhub
from tests.production import production_env
from tests.sandbox.test_runner import free_block


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def wait_for(url: str, http: aiohttp.ClientSession, proc: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(30):
        while True:
            assert proc.returncode is None, "process exited during start-up"
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_serve_runs_the_hub_from_environment_settings(hub: RunningHub, tmp_path: Path) -> None:
    port = runner.free_port()
    env = {**os.environ, "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/serve.sqlite3", "CARDHUB_PORT": str(port)}
    env.update({f"CARDHUB_AGENCY_{a.upper()}_URL": u for a, u in hub.sandbox.urls.items()})
    log = tmp_path / "serve.log"
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(CARDHUB, "serve", env=env, stderr=err)
    try:
        await wait_for(f"http://127.0.0.1:{port}/healthz", hub.http, proc)
        assert "SANDBOX MODE" in log.read_text()  # CARDHUB_MODE=sandbox (tests/conftest.py): said loudly
        minted = await asyncio.to_thread(cardhub, "token", "--persona", "350200000001", "--scope", "transit", env=env)
        token = minted.stdout.strip()
        assert TOKEN.match(token)
        async with hub.http.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "{ me { transit { meta { source } } } }"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert (await resp.json())["data"]["me"]["transit"]["meta"]["source"] == "transit"
        async with hub.http.get(f"http://127.0.0.1:{port}/graphql", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 200
            assert "graphiql" in (await resp.text()).lower()
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal so its parent sees why it ended.
        assert await asyncio.wait_for(proc.wait(), 20) in (0, -signal.SIGTERM)
    assert not port_open(port)


@pytest.mark.slow
async def test_production_mode_serves_no_graphiql_and_no_sandbox_personas(hub: RunningHub, tmp_path: Path) -> None:
    port = runner.free_port()
    env = {
        **os.environ,
        **production_env(f"http://127.0.0.1:{port}"),
        "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/prod.sqlite3",
        "CARDHUB_PORT": str(port),
    }
    for agency, cfg in hub.sandbox.configs().items():
        env.update({f"CARDHUB_AGENCY_{agency.upper()}_{k.upper()}": str(v) for k, v in cfg.items()})
    # Production applies no migrations by itself: the operator does, before starting the hub.
    upgrade = await asyncio.create_subprocess_exec(CARDHUB, "db", "upgrade", env=env, stderr=subprocess.PIPE)
    _, err = await upgrade.communicate()
    assert upgrade.returncode == 0, err.decode()
    proc = await asyncio.create_subprocess_exec(CARDHUB, "serve", env=env, stderr=subprocess.DEVNULL)
    try:
        await wait_for(f"http://127.0.0.1:{port}/healthz", hub.http, proc)
        url = f"http://127.0.0.1:{port}/graphql"
        async with hub.http.get(url, headers={"Accept": "text/html"}) as resp:
            assert resp.status != 200
            assert "graphiql" not in (await resp.text()).lower()
        async with hub.http.post(url, json={"query": "{ __typename }"}) as resp:
            # Production runs registered documents only, for anonymous callers too.
            assert (await resp.json())["errors"][0]["extensions"]["code"] == "PERSISTED_DOCUMENT_REQUIRED"
        # Production neither seeds the sandbox personas nor mints sandbox tokens.
        result = await asyncio.to_thread(cardhub, "token", "--persona", "350200000001", env=env)
        assert result.returncode == 2
        assert "sandbox mode only" in result.stderr
        async with hub.http.get(f"http://127.0.0.1:{port}/readyz") as resp:
            assert (await resp.json())["status"] == "ready"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) in (0, -signal.SIGTERM)


@pytest.mark.slow
async def test_sandbox_up_serves_five_agencies_and_stops_them_all(hub: RunningHub) -> None:
    base = free_block()  # never the default ports: a demo left running must not break the suite
    ports = {agency: base + i for i, agency in enumerate(AGENCY_IDS)}
    proc = await asyncio.create_subprocess_exec(
        *[CARDHUB, "sandbox", "up", "--down", "library", "--latency", "transit=10", "--base-port", str(base)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    try:
        async with asyncio.timeout(60):
            out = ""
            while "Ctrl-C stops them" not in out:
                line = (await proc.stdout.readline()).decode()
                assert line, f"sandbox up exited early:\n{out}"
                out += line
        for agency, port in ports.items():
            assert f"http://127.0.0.1:{port}" in out, agency
            async with hub.http.get(f"http://127.0.0.1:{port}/openapi.json") as resp:
                assert resp.status == (503 if agency == "library" else 200), agency
        async with hub.http.get(f"http://127.0.0.1:{ports['transit']}/_sandbox/fault") as resp:
            assert (await resp.json())["latency_ms"] == 10
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    await asyncio.sleep(0.5)
    assert not any(port_open(p) for p in ports.values())
