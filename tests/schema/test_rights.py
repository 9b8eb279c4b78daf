"""Citizens' rights over GraphQL: pause and resume (no agency call, no cache read, tokens alive),
receipts in the history, data exports, and agency clients registering their event stream."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from typing import Any

from auth import jws, receipts, tokens
from auth.clients import ClientType
from hub import sandbox_access
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub, agency_stats, reset_agency_stats

APP = "rights-test-app"  # a client of these tests' own: pausing its consents touches no other test
PAUSER = PERSONAS[13].card_number
READ = '{{ citizen(cardNumber: "{card}") {{ transit {{ balance }} library {{ fines }} }} }}'
PAUSE = "mutation($id: ID!) { pauseConsent(consentId: $id) { status } }"
RESUME = "mutation($id: ID!) { resumeConsent(consentId: $id) { status } }"


async def app_token(hub: RunningHub) -> str:
    return await tokens.issue(APP, frozenset({"transit", "library"}), None, 600)


async def test_a_paused_consent_reads_nothing_and_keeps_its_tokens_until_resumed(hub: RunningHub) -> None:
    consent_id = await hub.consent(PAUSER, ["transit", "library"], client=APP)
    citizen, app = await hub.token(PAUSER), await app_token(hub)
    _, body = await hub.graphql(READ.format(card=PAUSER), app)
    assert body["data"]["citizen"]["transit"] is not None

    _, paused = await hub.graphql(PAUSE, citizen, {"id": str(consent_id)})
    assert paused["data"]["pauseConsent"] == {"status": "PAUSED"}
    reset_agency_stats(hub.sandbox, "transit")
    status, body = await hub.graphql(READ.format(card=PAUSER), app)

    assert status == 200  # the token is alive: not a 401 as after a withdrawal
    assert body["data"]["citizen"] == {"transit": None, "library": None}
    assert {(e["extensions"]["code"], e["extensions"]["scope"]) for e in body["errors"]} == {
        ("CONSENT_PAUSED", "transit"),
        ("CONSENT_PAUSED", "library"),
    }
    assert agency_stats(hub.sandbox, "transit")["count"] == 0

    _, resumed = await hub.graphql(RESUME, citizen, {"id": str(consent_id)})
    assert resumed["data"]["resumeConsent"] == {"status": "ACTIVE"}
    _, body = await hub.graphql(READ.format(card=PAUSER), app)
    assert body["data"]["citizen"]["transit"] is not None and "errors" not in body


async def test_pausing_twice_or_another_citizens_consent_is_refused(hub: RunningHub) -> None:
    consent_id = await hub.consent(PAUSER, ["transit"], client=APP)
    stranger = await hub.token(PERSONAS[12].card_number)
    _, body = await hub.graphql(PAUSE, stranger, {"id": str(consent_id)})
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_NOT_FOUND"
    _, body = await hub.graphql(RESUME, await hub.token(PAUSER), {"id": str(consent_id)})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"  # active, not paused
    _, body = await hub.graphql(PAUSE, await app_token(hub), {"id": str(consent_id)})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # not the citizen


async def test_every_history_entry_carries_a_receipt_that_verifies(hub: RunningHub) -> None:
    consent_id = await hub.consent(PAUSER, ["transit"], client=APP)
    citizen = await hub.token(PAUSER)
    await hub.graphql(PAUSE, citizen, {"id": str(consent_id)})
    await hub.graphql(RESUME, citizen, {"id": str(consent_id)})
    query = "{ me { consents { id history { action receipt } } } }"
    _, body = await hub.graphql(query, citizen)
    [mine] = [c for c in body["data"]["me"]["consents"] if c["id"] == str(consent_id)]
    async with hub.http.get(hub.url + receipts.JWKS_PATH) as resp:
        keys = jws.keys_from_jwks(await resp.json())
    actions = [e["action"] for e in mine["history"]]
    assert actions[-2:] == ["PAUSED", "RESUMED"]
    for entry in mine["history"]:
        claims = receipts.verify(entry["receipt"], keys, hub.settings.issuer_url)
        assert claims["receipt"]["action"] == entry["action"]
        assert claims["sub"] == PAUSER and claims["receipt"]["client_id"] == APP


async def test_an_export_asked_for_again_while_running_is_the_same_job(hub: RunningHub) -> None:
    citizen = await hub.token(PERSONAS[11].card_number)
    ask = "mutation { requestDataExport { id status } }"
    (_, first), (_, second) = await asyncio.gather(hub.graphql(ask, citizen), hub.graphql(ask, citizen))
    assert first["data"]["requestDataExport"]["id"] == second["data"]["requestDataExport"]["id"]


async def test_me_export_gives_a_single_use_link_to_the_archive(hub: RunningHub) -> None:
    card = PERSONAS[10].card_number
    citizen = await hub.token(card)
    _, started = await hub.graphql("mutation { requestDataExport { id } }", citizen)
    job_id = started["data"]["requestDataExport"]["id"]
    export = await wait_for_export(hub, citizen)
    assert export["id"] == job_id and export["status"] == "DONE" and export["progress"] == 100
    async with hub.http.get(hub.url + export["downloadUrl"]) as resp:
        assert resp.status == 200
        archive = zipfile.ZipFile(io.BytesIO(await resp.read()))
    document = json.loads(archive.read("export.json"))
    assert document["citizen"]["card_number"] == card
    async with hub.http.get(hub.url + export["downloadUrl"]) as resp:
        assert resp.status == 410  # used up


async def wait_for_export(hub: RunningHub, token: str) -> dict[str, Any]:
    query = "{ me { export { id status progress step downloadUrl downloadExpiresAt } } }"
    for _ in range(150):
        _, body = await hub.graphql(query, token)
        export: dict[str, Any] = body["data"]["me"]["export"]
        if export["status"] in ("DONE", "FAILED"):
            return export
        await asyncio.sleep(0.2)
    raise AssertionError(f"the export did not finish: {export}")


async def test_an_agency_client_registers_its_event_stream_under_the_outbound_policy(hub: RunningHub) -> None:
    await sandbox_access.ensure_client("rights-test-agency", ClientType.AGENCY, "Tests: events")
    agency = await tokens.issue("rights-test-agency", frozenset({"transit"}), None, 600)
    register = "mutation($url: String) { registerEventStream(pushUrl: $url) { pushUrl state pollPath } }"
    _, body = await hub.graphql(register, agency, {"url": "https://receiver.example/events"})
    assert body["data"]["registerEventStream"] == {
        "pushUrl": "https://receiver.example/events",
        "state": "enabled",
        "pollPath": "/events/poll",
    }
    _, body = await hub.graphql(register, await hub.token(PAUSER), {"url": "https://receiver.example/e"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _, body = await hub.graphql(register, agency, {"url": "ftp://receiver.example/events"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
