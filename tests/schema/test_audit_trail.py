"""Every access decision on citizen data reaches the audit log before the response leaves."""

from __future__ import annotations

from auth import audit
from auth.audit import AuditEntry
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
    assert (await audit.verify())[1] is None


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
