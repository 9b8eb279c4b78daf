"""The virtual card in production mode, as a city runs it: ``cardhub serve`` on PostgreSQL and Redis,
the card key from the environment, the city's own app (a public client) sending registered documents.
A credential verifies offline against the published key set; a card reported lost gets no new one."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cardverify import PublicKeys, Refusal, Verified, verify
from sandbox import runner
from sandbox.personas import PERSONAS
from tests.cache.conftest import redis_running
from tests.production import production_env

ROOT = Path(__file__).resolve().parents[2]
CLI = "import sys; from hub.cli import main; sys.exit(main(sys.argv[1:]))"
CARD = PERSONAS[0].card_number
ISSUE = "mutation($p: CardPurpose!) { issueCardCredential(purpose: $p) { text keyId qrVersion } }"
LOG = "{ me { accessLog(first: 1) { sections outcome } } }"
SETUP = """
import asyncio, sys
from datetime import date
from auth import clients, consent, tokens
from auth.clients import ClientType
from auth.oauth import grants
from auth.registry import seed
from hub import database

async def run(url, card, name):
    async with database.connected(url):
        await seed([(card, name, "citizen", date(2020, 1, 1), True)])
        app, _ = await clients.create("City app", ClientType.PUBLIC, ["https://app.example/cb"],
                                      frozenset({"card", "transit"}), "Your card", first_party=True)
        await consent.grant(card, app.client_id, frozenset({"card", "transit"}), "Your card")
        grant = await grants.start(app.client_id, card, "card transit")
        print(app.client_id)
        print(await tokens.issue(app.client_id, frozenset({"card", "transit"}), card, 600, grant.id))

asyncio.run(run(*sys.argv[1:]))
"""


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def env(postgres_url: str, sandbox: runner.Sandbox) -> Iterator[dict[str, str]]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    yield {
        **production_env(),
        "PATH": "/usr/bin:/bin",
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": "redis://127.0.0.1:6379/14",
        "CARDHUB_LOG_LEVEL": "WARNING",
        **{
            f"CARDHUB_AGENCY_{a.upper()}_{k.upper()}": str(v)
            for a, c in sandbox.configs().items()
            for k, v in c.items()
        },
    }
    subprocess.run(["redis-cli", "-n", "14", "flushdb"], check=False, capture_output=True)


@pytest.fixture
async def serving(env: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[str, str, str]]:
    """(hub URL, the app's citizen token, the app's client id)"""
    await asyncio.to_thread(run, [sys.executable, "-c", CLI, "db", "upgrade"], env)
    out = await asyncio.to_thread(run, [sys.executable, "-c", SETUP, env["CARDHUB_DATABASE_URL"], CARD, "陈美玲"], env)
    client, token = out.split()
    for name, text in (("issue", ISSUE), ("log", LOG)):
        (tmp_path / f"{name}.graphql").write_text(text)
    files = [str(tmp_path / "issue.graphql"), str(tmp_path / "log.graphql")]
    await asyncio.to_thread(run, [sys.executable, "-c", CLI, "documents", "register", "--client", client, *files], env)
    port = runner.free_port()
    proc = await asyncio.to_thread(start, env, port, tmp_path / "hub.log")
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, url, proc, tmp_path / "hub.log")
        yield url, token, client
    finally:
        proc.terminate()
        proc.wait(10)


def start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-c", CLI, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
        )


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"hub exited: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)
    raise AssertionError("hub did not start")


async def document(url: str, token: str, text: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    document_id = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    async with aiohttp.ClientSession() as http, http.post(
        url + "/graphql", json={"documentId": document_id, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:  # fmt: skip
        body: dict[str, Any] = await resp.json(content_type=None)
        return body


@pytest.mark.slow
async def test_in_production_a_credential_verifies_offline_and_a_lost_card_gets_none(
    serving: tuple[str, str, str], env: dict[str, str]
) -> None:
    url, token, _ = serving
    async with aiohttp.ClientSession() as http, http.get(url + "/.well-known/cardhub-card-keys") as resp:
        assert resp.headers["Cache-Control"] == "public, max-age=3600"
        keys = PublicKeys.from_jwks(await resp.read())
    body = await document(url, token, ISSUE, {"p": "TRANSIT"})
    credential = body["data"]["issueCardCredential"]
    assert credential["keyId"] == "test-card-1" and credential["qrVersion"] <= 12  # the key from the environment
    answer = verify(credential["text"], keys, "transit", time.time())
    assert isinstance(answer, Verified), answer
    assert answer.facts == {"card_valid": True, "concession": "NONE"} and answer.claims.issuer == "https://hub.example"
    assert (await document(url, token, LOG))["data"]["me"]["accessLog"][0] == {
        "sections": ["virtual_card.transit"], "outcome": "ALLOWED"
    }  # fmt: skip
    # Free-form text from the city's public app is refused in production: only its registered documents run.
    async with aiohttp.ClientSession() as http, http.post(
        url + "/graphql", json={"query": ISSUE.replace("qrVersion", "svg"), "variables": {"p": "IDENTITY"}},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:  # fmt: skip
        assert "issueCardCredential" not in str((await resp.json(content_type=None)).get("data"))

    lost = await asyncio.to_thread(run, [sys.executable, "-c", CLI, "card", "status", CARD, "lost"], env)
    assert "ACTIVE -> SUSPENDED" in lost
    body = await document(url, token, ISSUE, {"p": "TRANSIT"})
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "CARD_NOT_ACTIVE"
    # What was shown before the report still verifies until it expires: its lifetime bounds the exposure.
    assert isinstance(verify(credential["text"], keys, "transit", time.time()), Verified)
    expired = verify(credential["text"], keys, "transit", time.time() + 301)
    assert isinstance(expired, Refusal) and expired.code == "EXPIRED"
