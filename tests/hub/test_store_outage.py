"""PostgreSQL going away under a running hub: requests get a clear 503 with a code and no traceback,
the hub keeps running, nothing committed is lost, and it recovers by itself when the server is back.

The hub reaches PostgreSQL through a small TCP relay that the test cuts and restores: the server
itself, shared with other tests, stays up."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from sandbox import runner
from sandbox.personas import PERSONAS
from tests.hub.test_instances import CARDHUB, Hub

CITIZEN = PERSONAS[0].card_number


class Relay:
    """127.0.0.1:<port> -> PostgreSQL, until cut."""

    def __init__(self) -> None:
        self.port = runner.free_port()
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        for writer in list(self._links):
            writer.close()
        self._links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        self._links.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def relay() -> AsyncIterator[Relay]:
    made = Relay()
    await made.start()
    yield made
    with contextlib.suppress(AssertionError):
        await made.cut()


async def graphql(url: str, token: str) -> tuple[int, dict[str, object]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            url + "/graphql", json={"query": "{ me { name } }"}, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status, await resp.json(content_type=None)


async def test_postgresql_going_away_and_coming_back(
    postgres_url: str, relay: Relay, sandbox: runner.Sandbox, tmp_path: Path
) -> None:
    parts = urlsplit(postgres_url)
    through_relay = f"postgres://postgres@127.0.0.1:{relay.port}{parts.path}"
    env = {
        **os.environ,
        "CARDHUB_DATABASE_URL": through_relay,
        "CARDHUB_CACHE_URL": "off",
        "CARDHUB_LOG_LEVEL": "WARNING",
        **{f"CARDHUB_AGENCY_{a.upper()}_URL": u for a, u in sandbox.urls.items()},
    }
    hub = Hub(env, tmp_path / "hub.log")
    try:
        await asyncio.to_thread(hub.wait_ready)
        token_proc = await asyncio.create_subprocess_exec(
            CARDHUB, "token", "--persona", CITIZEN, env={**env, "CARDHUB_DATABASE_URL": postgres_url},
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        token = (await token_proc.communicate())[0].decode().strip()
        status, body = await graphql(hub.url, token)
        assert (status, "errors" in body) == (200, False)

        await relay.cut()
        status, body = await graphql(hub.url, token)
        assert status == 503
        assert body["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"  # type: ignore[index]
        assert "Traceback" not in str(body)
        async with aiohttp.ClientSession() as http, http.get(hub.url + "/healthz") as resp:
            assert resp.status == 200  # the process is alive and answering
        async with aiohttp.ClientSession() as http, http.get(hub.url + "/readyz") as resp:
            assert resp.status == 503  # and says it is not ready

        await relay.start()
        for _ in range(50):  # the driver reconnects by itself
            status, body = await graphql(hub.url, token)
            if status == 200:
                break
            await asyncio.sleep(0.2)
        assert (status, "errors" in body) == (200, False)
    finally:
        hub.stop()
    # Nothing committed was lost: the chain is whole (checked by the CLI, in a process of its own).
    verify = await asyncio.create_subprocess_exec(
        CARDHUB, "audit", "verify", env={**env, "CARDHUB_DATABASE_URL": postgres_url}, stdout=asyncio.subprocess.PIPE
    )
    out = (await verify.communicate())[0].decode()
    assert verify.returncode == 0, out
    entries = re.search(r"audit log intact: (\d+) records", out)
    assert entries is not None and int(entries.group(1)) >= 2
