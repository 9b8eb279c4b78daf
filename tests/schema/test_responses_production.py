"""The response cache in production mode, two hubs on one PostgreSQL and Redis: an answer kept whole
still has its token and consent checked and its read recorded on every request, on every instance."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tests.hub.test_instances import CITIZEN, READ, Hub, cli, env, hubs

__all__ = ["env", "hubs"]  # the fixtures, shared with test_instances
DOCUMENT_ID = "sha256:" + hashlib.sha256(READ.encode()).hexdigest()


async def by_id(hub: Hub, token: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/graphql", json={"documentId": DOCUMENT_ID, "variables": {"n": CITIZEN}},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:  # fmt: skip
        return resp.status, await resp.json(content_type=None)


async def test_kept_answers_are_checked_and_recorded_every_time_on_every_instance(
    hubs: tuple[Hub, Hub], env: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    one, other = hubs
    client_id = json.loads(cli(env, "clients", "create", "--name", "Bus App", "--type", "agency", "--scope",
                               "transit", "--purpose", "Shows your bus balance", "--json"))["client_id"]  # fmt: skip
    consent = re.search(r"consent (\d+):", cli(env, "consent", "grant", "--persona", CITIZEN, "--client", client_id,
                                                "--scope", "transit"))  # fmt: skip
    assert consent is not None
    document = tmp_path / "read.graphql"
    document.write_text(READ)
    assert DOCUMENT_ID in cli(env, "documents", "register", "--client", client_id, str(document))
    token = cli(env, "token", "--client", client_id)
    citizen = cli(env, "token", "--persona", CITIZEN)

    answers = [await by_id(hub, token) for hub in (other, other, other, one, one)]
    assert all(status == 200 and body["data"]["citizen"]["transit"]["cardNumber"] for status, body in answers), answers
    assert len({str(body["data"]) for _, body in answers}) == 1
    db = await asyncpg.connect(postgres_url)
    try:
        records = await db.fetchval("SELECT count(*) FROM audit_record WHERE client_id = $1", client_id)
    finally:
        await db.close()
    assert records == 5, "every answer, kept or not, is in the access log before it leaves"

    pause = "mutation($id: ID!) { pauseConsent(consentId: $id) { status } }"  # the tokens stay alive
    async with aiohttp.ClientSession() as http, http.post(
        one.url + "/graphql", json={"query": pause, "variables": {"id": consent.group(1)}},
        headers={"Authorization": f"Bearer {citizen}"},
    ) as resp:  # fmt: skip
        assert (await resp.json())["data"]["pauseConsent"]["status"] == "PAUSED"
    for hub in (other, one):  # the very next request, on each instance
        status, body = await by_id(hub, token)
        assert status == 200 and body["data"]["citizen"]["transit"] is None, body
        assert body["errors"][0]["extensions"]["code"] == "CONSENT_PAUSED"
    cli(env, "documents", "revoke", "--client", client_id, DOCUMENT_ID)  # another process, straight to the database
    for hub in (other, one):
        status, body = await by_id(hub, token)
        assert body["errors"][0]["extensions"]["code"] == "PERSISTED_DOCUMENT_NOT_FOUND", body
