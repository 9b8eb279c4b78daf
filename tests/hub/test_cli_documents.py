"""cardhub documents register|list|revoke, run as an operator runs it, against the running hub."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from auth import documents
from auth.clients import ClientType
from hub import sandbox_access
from tests.conftest import RunningHub
from tests.hub.test_cli import cardhub

CLIENT = "test-documents-app"
NAME_QUERY = "query CardNumber { me { cardNumber } }\n"
TRANSIT_QUERY = "query Balance { me { transit { balance } } }"


async def run(hub: RunningHub, *args: str) -> tuple[int, str, str]:
    env = {"CARDHUB_MODE": "sandbox", "CARDHUB_DATABASE_URL": hub.settings.database_url}
    result = await asyncio.to_thread(cardhub, "documents", *args, env=env)
    return result.returncode, result.stdout, result.stderr


async def test_register_graphql_files_and_an_apollo_manifest_then_list_and_revoke(
    hub: RunningHub, tmp_path: Path
) -> None:
    await sandbox_access.ensure_client(CLIENT, ClientType.PUBLIC, "Tests: trusted documents")
    graphql_file = tmp_path / "card.graphql"
    graphql_file.write_text(NAME_QUERY, encoding="utf-8")
    manifest = tmp_path / "manifest.json"
    balance_hex = documents.document_id(TRANSIT_QUERY).removeprefix("sha256:")
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": balance_hex, "name": "Balance", "type": "query", "body": TRANSIT_QUERY}],
            }
        ),
        encoding="utf-8",
    )
    code, out, err = await run(hub, "register", "--client", CLIENT, str(graphql_file), str(manifest))
    assert code == 0, err
    name_id = documents.document_id(NAME_QUERY)  # the file's exact text, newline included
    assert f"{name_id}  CardNumber  registered" in out
    assert f"sha256:{balance_hex}  Balance  registered" in out
    assert await documents.find(name_id, CLIENT) == NAME_QUERY

    code, out, _ = await run(hub, "register", "--client", CLIENT, str(graphql_file))
    assert "already registered" in out

    code, out, _ = await run(hub, "list", "--client", CLIENT)
    assert code == 0
    assert name_id in out and f"sha256:{balance_hex}" in out

    code, out, err = await run(hub, "revoke", "--client", CLIENT, name_id)
    assert code == 0, err
    assert await documents.find(name_id, CLIENT) is None
    code, out, _ = await run(hub, "list", "--client", CLIENT)
    assert "revoked" in next(line for line in out.splitlines() if name_id in line)
    code, _, err = await run(hub, "revoke", "--client", CLIENT, name_id)
    assert code == 1
    assert "not registered" in err


async def test_an_invalid_document_registers_nothing(hub: RunningHub, tmp_path: Path) -> None:
    await sandbox_access.ensure_client(CLIENT, ClientType.PUBLIC, "Tests: trusted documents")
    good = tmp_path / "good.graphql"
    good.write_text("query Fine { __typename }", encoding="utf-8")
    bad = tmp_path / "bad.graphql"
    bad.write_text("query Typo { mee { cardNumber } }", encoding="utf-8")
    code, _, err = await run(hub, "register", "--client", CLIENT, str(good), str(bad))
    assert code == 2
    assert "mee" in err and "nothing registered" in err
    assert await documents.find(documents.document_id("query Fine { __typename }"), CLIENT) is None

    lying = tmp_path / "lying.json"
    lying.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": "0" * 64, "name": "Fine", "type": "query", "body": "query Fine { __typename }"}],
            }
        ),
        encoding="utf-8",
    )
    code, _, err = await run(hub, "register", "--client", CLIENT, str(lying))
    assert code == 2
    assert "not the SHA-256 of its body" in err

    code, _, err = await run(hub, "register", "--client", "no-such-client", str(good))
    assert code == 2
    assert "no client" in err
