"""The cardhub console script, run as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from sandbox import runner
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub
from tests.production import production_env
from tests.sandbox.test_runner import free_block

CARDHUB = str(Path(sys.executable).parent / "cardhub")
PRODUCTION = production_env()
TOKEN = re.compile(r"^chb_[A-Za-z0-9_-]{40,}$")


def cardhub(
    *args: str, env: Mapping[str, str | None] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run the console script; a variable given as None is removed from the environment."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [CARDHUB, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in merged.items() if v is not None},
    )


def test_personas_json_lists_logins_and_edge_cases() -> None:
    result = cardhub("sandbox", "personas", "--json")
    assert result.returncode == 0, result.stderr
    personas = json.loads(result.stdout)
    assert len(personas) >= 20
    assert {"cardNumber", "name", "username", "password"} <= set(personas[0])
    assert len({p["cardNumber"] for p in personas}) == len(personas)
    traits = {t for p in personas for t in p["traits"]}
    assert {"no_library", "senior", "student", "overdue_loans", "employer_change", "rare_name"} <= traits


async def test_token_prints_only_a_token_the_hub_accepts(hub: RunningHub) -> None:
    env = {"CARDHUB_DATABASE_URL": hub.settings.database_url}
    card = PERSONAS[2].card_number
    result = cardhub("token", "--persona", card, "--scope", "transit", "--scope", "library", env=env)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert TOKEN.match(token), result.stdout
    assert result.stdout.count("\n") == 1

    _, body = await hub.graphql("{ me { cardNumber transit { balance } health { healthCardNumber } } }", token)
    assert body["data"]["me"]["cardNumber"] == card
    assert body["data"]["me"]["transit"] is not None
    assert body["data"]["me"]["health"] is None
    assert body["errors"][0]["extensions"]["scope"] == "health"


async def test_client_token_reads_by_card_number(hub: RunningHub) -> None:
    env = {"CARDHUB_DATABASE_URL": hub.settings.database_url}
    created = cardhub(
        "clients", "create", "--name", "City App", "--type", "confidential", "--redirect-uri",
        "https://app.example/cb", "--scope", "card", "--purpose", "Shows your cards", "--json", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    assert client["client_secret"].startswith("chs_")
    token = cardhub("token", "--client", client["client_id"], env=env).stdout.strip()
    _, body = await hub.graphql(f'{{ citizen(cardNumber: "{PERSONAS[0].card_number}") {{ name }} }}', token)
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REQUIRED"  # no consent yet
    granted = cardhub(
        "consent", "grant", "--persona", PERSONAS[0].card_number, "--client", client["client_id"], env=env
    )
    assert granted.returncode == 0, granted.stderr
    _, body = await hub.graphql(f'{{ citizen(cardNumber: "{PERSONAS[0].card_number}") {{ name }} }}', token)
    assert body["data"]["citizen"]["name"] == PERSONAS[0].name


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["token", "--persona", "000000000000"], {}, "no persona with card number"),
        (["token", "--persona", PERSONAS[0].card_number, "--scope", "everything"], {}, "unknown scope"),
        (["token", "--persona", PERSONAS[0].card_number], PRODUCTION, "sandbox mode only"),
        (["demo", "--latency", "transit:100"], {}, "--latency takes AGENCY=MS"),
        (["serve"], {"CARDHUB_PORT": "http"}, "setting port"),
        (["serve"], {**PRODUCTION, "CARDHUB_AGENCY_TRANSIT_URL": "ftp://etong"}, "must be an http or https URL"),
        (["serve"], {"CARDHUB_MODE": "production"}, "production needs these settings: issuer"),
        # Production is the default: nothing set is a production hub missing its settings, each named.
        (["serve"], {"CARDHUB_MODE": None}, "issuer (CARDHUB_ISSUER)"),
        (["serve"], {"CARDHUB_MODE": None}, "secrets_key (CARDHUB_SECRETS_KEY)"),
        (["demo"], {"CARDHUB_MODE": "production"}, "cardhub demo runs in sandbox mode only"),
        (["token", "--persona", PERSONAS[0].card_number], {"CARDHUB_MODE": "production"}, "sandbox mode only"),
    ],
)
def test_usage_errors_exit_2_with_a_message_and_no_traceback(
    args: list[str], env: dict[str, str | None], message: str, tmp_path: Path
) -> None:
    result = cardhub(*args, env={"CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/db.sqlite3", **env})
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


async def _read_until(proc: asyncio.subprocess.Process, marker: str) -> str:
    assert proc.stdout is not None
    seen = ""
    async with asyncio.timeout(60):
        while marker not in seen:
            line = (await proc.stdout.readline()).decode()
            assert line, f"demo exited early:\n{seen}"
            seen += line
    return seen


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
async def test_demo_serves_a_ready_token_and_stops_everything_on_sigterm(hub: RunningHub, tmp_path: Path) -> None:
    port, base = runner.free_port(), free_block()  # free ports: a demo left running never breaks the suite
    proc = await asyncio.create_subprocess_exec(
        *[
            CARDHUB,
            "demo",
            "--port",
            str(port),
            "--base-port",
            str(base),
            "--down",
            "library",
            "--latency",
            "transit=50",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/demo.sqlite3"},
    )
    try:
        banner = await _read_until(proc, "Ctrl-C stops everything")
        assert f"http://127.0.0.1:{port}/graphql" in banner
        token = next(w for w in banner.split() if TOKEN.match(w))
        assert "curl" in banner
        query = "{ me { cardNumber transit { balance } library { fines } } }"
        async with hub.http.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            body = await resp.json()
        assert body["data"]["me"]["transit"]["balance"] is not None
        assert body["data"]["me"]["library"] is None
        assert body["errors"][0]["extensions"] == {"code": "AGENCY_UNAVAILABLE", "agency": "library"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert not _port_open(port)
    assert not any(_port_open(base + i) for i in range(5))


async def test_audit_verify_reports_intact_and_names_a_tampered_entry(hub: RunningHub, tmp_path: Path) -> None:
    await hub.graphql("{ me { transit { balance } } }", await hub.token(PERSONAS[0].card_number))
    live = hub.settings.database_url.removeprefix("sqlite://")
    result = await asyncio.to_thread(
        cardhub, "audit", "verify", env={"CARDHUB_DATABASE_URL": hub.settings.database_url}
    )
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"audit log intact: [1-9]\d* records \(\d+ not yet in the tree\), [1-9]\d* checkpoints\n", result.stdout
    )

    copy = tmp_path / "tampered.sqlite3"
    with sqlite3.connect(live) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as db:
        victim = db.execute("SELECT min(id) FROM audit_record WHERE seq IS NOT NULL").fetchone()[0]
        db.execute("UPDATE audit_record SET sections = 'housing_fund' WHERE id = ?", (victim,))
    result = await asyncio.to_thread(cardhub, "audit", "verify", env={"CARDHUB_DATABASE_URL": f"sqlite://{copy}"})
    assert result.returncode == 1
    assert f"audit log broken: record {victim}: its contents do not match" in result.stdout
