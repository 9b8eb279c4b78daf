"""Every access decision on citizen data reaches the audit log before the response leaves."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from typing import Any

from auth import tokens
from auth.audit import AuditEntry
from auth.audit.merkle import verify_consistency
from auth.audit.proofs import verify_entry
from auth.audit.sequencer import Sequencer
from auth.audit.verify import verify
from auth.clients import ClientType
from hub import sandbox_access
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

ALICE, BOB = PERSONAS[0].card_number, PERSONAS[1].card_number


async def entries_for(request_id: str) -> list[tuple[str, str, str, str, str]]:
    rows = await AuditEntry.filter(request_id=request_id).order_by("id")
    return [(r.client_id, r.citizen, r.outcome, r.sections, r.reason) for r in rows]


async def test_allowed_and_denied_sections_are_recorded_with_the_request_id(hub: RunningHub) -> None:
    token = await hub.token(ALICE, scopes=["transit", "card"])
    status, body = await hub.graphql(
        "{ me { name transit { balance } health { healthCardNumber } } }", token, headers={"X-Request-Id": "audit-1"}
    )
    assert status == 200
    assert body["data"]["me"]["transit"] is not None
    assert await entries_for("audit-1") == [
        ("sandbox-console", ALICE, "ALLOWED", "card,transit", ""),
        ("sandbox-console", ALICE, "DENIED", "health", "CONSENT_REQUIRED"),
    ]
    await sequenced(hub)
    sequencer: Sequencer = hub.app.state.audit_sequencer
    assert (await verify(sequencer.signer.verifier_keys())).fault is None


async def test_a_refused_cross_citizen_read_is_recorded_for_the_citizen_it_targeted(hub: RunningHub) -> None:
    token = await hub.token(ALICE)
    await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { name } }", token, {"n": BOB}, headers={"X-Request-Id": "audit-2"}
    )
    assert await entries_for("audit-2") == [("sandbox-console", BOB, "DENIED", "profile", "FORBIDDEN")]


async def test_client_reads_of_two_citizens_are_recorded_per_citizen(hub: RunningHub) -> None:
    await hub.consent(ALICE, ["library"])
    await hub.consent(BOB, ["library", "transit"])
    token = await hub.token(None, scopes=["library"])
    await hub.graphql(
        f'{{ a: citizen(cardNumber: "{ALICE}") {{ library {{ fines }} }} '
        f'b: citizen(cardNumber: "{BOB}") {{ library {{ fines }} transit {{ balance }} }} }}',
        token,
        headers={"X-Request-Id": "audit-3"},
    )
    assert sorted(await entries_for("audit-3")) == [
        ("test-agency-client", ALICE, "ALLOWED", "library", ""),
        ("test-agency-client", BOB, "ALLOWED", "library", ""),
        ("test-agency-client", BOB, "DENIED", "transit", "CONSENT_REQUIRED"),
    ]


async def test_nothing_is_recorded_without_a_token_or_without_citizen_data(hub: RunningHub) -> None:
    before = await AuditEntry.all().count()
    await hub.graphql("{ me { name } }", headers={"X-Request-Id": "audit-4"})
    await hub.graphql("{ __typename }", await hub.token(ALICE), headers={"X-Request-Id": "audit-5"})
    assert await AuditEntry.all().count() == before


async def sequenced(hub: RunningHub) -> None:
    """Until the hub's sequencer has put every record in a signed checkpoint (it runs every 0.25 s)."""
    for _ in range(100):
        if await AuditEntry.filter(seq=None).count() == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the sequencer did not integrate the records within 5 s")


async def stranger(hub: RunningHub) -> tuple[str, str]:
    """A registered agency client no citizen ever consented to, and its token."""
    client_id = f"prober-{secrets.token_hex(3)}"
    await sandbox_access.ensure_client(client_id, ClientType.AGENCY, "Tests: asks for citizens it may not read")
    return client_id, await tokens.issue(client_id, frozenset({"transit", "library"}), None, 600)


ME_LOG = "{ me { accessLog(first: 50) { id requestId clientId outcome } refusedProbes { clientId attempts } } }"


async def test_two_hundred_refused_probes_leave_every_read_visible(hub: RunningHub) -> None:
    citizen = PERSONAS[6].card_number
    own = await hub.token(citizen)
    reads = [f"flood-read-{i}-{secrets.token_hex(2)}" for i in range(3)]
    for request_id in reads:
        await hub.graphql("{ me { transit { balance } } }", own, headers={"X-Request-Id": request_id})
    prober, token = await stranger(hub)
    probe = "query($n: ID!) { citizen(cardNumber: $n) { transit { balance } } }"
    for _ in range(10):
        await asyncio.gather(*(hub.graphql(probe, token, {"n": citizen}) for _k in range(20)))
    assert await AuditEntry.filter(citizen=citizen, client_id=prober).count() == 200

    _, body = await hub.graphql(ME_LOG, own)
    me = body["data"]["me"]
    listed = {e["requestId"] for e in me["accessLog"] if e["outcome"] == "ALLOWED"}
    assert set(reads) <= listed  # the flood pushed none of them out
    assert prober not in {e["clientId"] for e in me["accessLog"]}
    assert {"clientId": prober, "attempts": 200} in me["refusedProbes"]

    _, body = await hub.graphql(
        "query($c: String!) { me { accessLog(first: 200, client: $c, outcome: DENIED) { clientId } } }",
        own,
        {"c": prober},
    )
    assert [e["clientId"] for e in body["data"]["me"]["accessLog"]] == [prober] * 200  # listed when asked for


async def test_the_access_log_pages_and_filters(hub: RunningHub) -> None:
    citizen = PERSONAS[7].card_number
    own = await hub.token(citizen, scopes=["transit"])
    for _ in range(5):
        await hub.graphql("{ me { transit { balance } health { healthCardNumber } } }", own)
    _, body = await hub.graphql("{ me { accessLog(first: 4) { id outcome } } }", own)
    first = body["data"]["me"]["accessLog"]
    assert len(first) == 4
    _, body = await hub.graphql(
        "query($b: ID!) { me { accessLog(first: 50, before: $b) { id } } }", own, {"b": first[-1]["id"]}
    )
    rest = [int(e["id"]) for e in body["data"]["me"]["accessLog"]]
    assert rest and max(rest) < int(first[-1]["id"])
    _, body = await hub.graphql("{ me { accessLog(first: 50, outcome: ALLOWED) { outcome sections } } }", own)
    assert {e["outcome"] for e in body["data"]["me"]["accessLog"]} == {"ALLOWED"}
    _, body = await hub.graphql('{ me { accessLog(before: "x") { id } } }', own)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def published_keys(hub: RunningHub) -> list[str]:
    async with hub.http.get(hub.url + "/.well-known/cardhub-audit-keys") as resp:
        assert resp.status == 200
        return [k["vkey"] for k in (await resp.json())["keys"]]


async def test_each_entry_carries_a_proof_the_citizen_can_check(hub: RunningHub) -> None:
    citizen = PERSONAS[8].card_number
    own = await hub.token(citizen)
    await hub.graphql("{ me { library { fines } } }", own)
    await sequenced(hub)
    proof = "proof { record leafIndex treeSize hashes checkpoint }"
    _, body = await hub.graphql(f"{{ me {{ accessLog(first: 3) {{ id {proof} }} }} }}", own)
    vkeys = await published_keys(hub)
    for entry in body["data"]["me"]["accessLog"]:
        p: dict[str, Any] = entry["proof"]
        bundle = {"record": json.loads(p["record"]), "leaf_index": p["leafIndex"], "tree_size": p["treeSize"],
                  "proof": p["hashes"], "checkpoint": p["checkpoint"]}  # fmt: skip
        assert bundle["record"]["id"] == int(entry["id"]) and bundle["record"]["citizen"] == citizen
        assert verify_entry(bundle, vkeys).size == int(p["treeSize"])


async def test_the_latest_checkpoint_is_published_and_operators_get_consistency_proofs(hub: RunningHub) -> None:
    own = await hub.token(PERSONAS[9].card_number)
    await hub.graphql("{ me { library { fines } } }", own)
    await sequenced(hub)
    async with hub.http.get(hub.url + "/.well-known/cardhub-audit-checkpoint") as resp:
        assert resp.status == 200 and resp.content_type == "text/plain"
        first = await resp.text()
    sequencer: Sequencer = hub.app.state.audit_sequencer
    old = sequencer.signer.verify(first)
    await hub.graphql("{ me { library { fines } } }", own)
    await sequenced(hub)
    async with hub.http.get(hub.url + "/.well-known/cardhub-audit-checkpoint") as resp:
        new = sequencer.signer.verify(await resp.text())
    assert new.size > old.size
    async with hub.http.get(f"{hub.url}/audit/consistency?from={old.size}&to={new.size}") as resp:
        assert resp.status == 200  # the test calls from loopback, an operator's place
        served = await resp.json()
    verify_consistency(old.size, new.size, old.root, new.root, [base64.b64decode(h) for h in served["proof"]])
    async with hub.http.get(f"{hub.url}/audit/consistency?from={new.size}&to={old.size}") as resp:
        assert resp.status == 400


async def test_readiness_reports_the_sequencer(hub: RunningHub) -> None:
    await sequenced(hub)
    await asyncio.sleep(0.3)
    async with hub.http.get(hub.url + "/readyz/details") as resp:
        audit_log = (await resp.json())["audit_log"]
    assert audit_log["ok"] is True and audit_log["leader"] is True and audit_log["pending"] == 0


async def test_the_sequencer_lag_reaches_the_metrics(hub: RunningHub) -> None:
    from telemetry import metrics

    await hub.graphql("{ me { library { fines } } }", await hub.token(PERSONAS[9].card_number))
    sequencer: Sequencer = hub.app.state.audit_sequencer
    metrics.AUDIT_PENDING.set(-1)  # a value no look can give: it must be overwritten by the next one
    metrics.AUDIT_LAG.set(-1)
    await asyncio.sleep(0.6)  # the sequencer looks at least every interval
    async with hub.http.get(hub.url + "/metrics") as resp:  # loopback: an operator's place
        assert resp.status == 200
        lines = (await resp.text()).splitlines()
    pending = [float(line.split()[-1]) for line in lines if line.startswith("cardhub_audit_pending_records")]
    lag = [float(line.split()[-1]) for line in lines if line.startswith("cardhub_audit_sequencer_lag_seconds")]
    assert pending and pending[0] >= 0 and lag and lag[0] >= 0
    assert sequencer.status.lag_seconds >= 0
