"""The client examples in docs/examples run against a real hub: gql (text and persisted documents)
and the OAuth authorization-code flow."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from auth import clients, documents, tokens
from auth.clients import ClientType
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
PERSONA = PERSONAS[0]


@pytest.fixture(scope="module")
def gql_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gql_client", EXAMPLES / "gql_client.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def run_script(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def by_operation(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(line["operation"]): line for line in lines}


async def test_the_gql_example_runs_as_documented(hub: RunningHub) -> None:
    token = await hub.token(PERSONA.card_number)
    status, out, err = await run_script(str(EXAMPLES / "gql_client.py"), "--hub", hub.url, "--token", token)
    assert status == 0, err
    answers = by_operation([json.loads(line) for line in out.splitlines()])
    assert answers["Profile"]["data"]["me"]["cardNumber"] == PERSONA.card_number
    assert answers["Profile"]["errors"] == []
    assert len(answers["Trips"]["data"]["me"]["transit"]["trips"]["nodes"]) <= 3


async def test_the_gql_example_sends_registered_documents_by_id(hub: RunningHub, gql_client: ModuleType) -> None:
    token = await hub.token(PERSONA.card_number)
    for path in (EXAMPLES / "documents").glob("*.graphql"):
        await documents.register(tokens.SANDBOX_CONSOLE_CLIENT, path.read_text(encoding="utf-8"), path.stem)
    answers = by_operation(await gql_client.run(hub.url, token, persisted=True))
    assert answers["Profile"]["data"]["me"]["name"] == PERSONA.name
    assert answers["Trips"]["errors"] == []


async def test_an_unregistered_document_id_is_refused(
    hub: RunningHub, gql_client: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The id, not the text, reaches the hub: a sandbox hub would run the text."""
    (tmp_path / "Profile.graphql").write_text("query Profile { me { cardNumber } }  # not registered\n")
    monkeypatch.setattr(gql_client, "DOCUMENTS", tmp_path)
    token = await hub.token(PERSONA.card_number)
    answers = by_operation(await gql_client.run(hub.url, token, persisted=True))
    assert answers["Profile"] == {"operation": "Profile", "data": None, "errors": ["PERSISTED_DOCUMENT_NOT_FOUND"]}


async def test_the_oauth_example_runs_as_documented(hub: RunningHub) -> None:
    redirect = "http://127.0.0.1:8099/callback"
    client, secret = await clients.create(
        "Transit Helper", ClientType.CONFIDENTIAL, [redirect], frozenset({"card", "transit", "health"}), "tests"
    )
    assert secret is not None
    status, out, err = await run_script(
        str(EXAMPLES / "oauth_flow.py"), "--hub", hub.url, "--client-id", client.client_id,
        "--client-secret", secret, "--redirect-uri", redirect, "--scope", "card transit health",
    )  # fmt: skip
    assert status == 0, out + err
    assert f'"cardNumber": "{PERSONA.card_number}"' in out
    assert "the old refresh_token again at once: HTTP 200, the same pair: True" in out  # a retry, within the grace
    assert "the old refresh_token again after 10s: HTTP 400 {'error': 'invalid_grant'}" in out
    assert "its access_token now: HTTP 401 token revoked" in out
