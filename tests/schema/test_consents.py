"""The citizen's consents and access log (me { consents accessLog }) and Mutation.revokeConsent, over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from auth import tokens
from auth.audit import AuditEntry
from auth.consent import Consent as ConsentRecord
from auth.consent import ConsentEvent
from auth.scopes import READ_SCOPES
from sandbox.personas import PERSONAS
from tests.conftest import AGENCY_CLIENT, RunningHub

# Personas of their own: these tests revoke consents.
FANG, QIU = PERSONAS[18].card_number, PERSONAS[19].card_number

CONSENT = "id client { clientId name purpose } scopes revokedScopes purpose grantedAt expiresAt status " \
    "history { at action scopes }"  # fmt: skip
ENTRY = "at clientId sections outcome reason requestId"
ME = f"{{ me {{ consents {{ {CONSENT} }} accessLog {{ {ENTRY} }} }} }}"
REVOKE = f"mutation($id: ID!, $scopes: [String!]) {{ revokeConsent(consentId: $id, scopes: $scopes) {{ {CONSENT} }} }}"
AGENCY_READ = "query($n: ID!) { citizen(cardNumber: $n) { transit { balance } library { fines } } }"


def request_id() -> str:
    return f"consents-{uuid.uuid4().hex[:12]}"


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def consent_of(consents: list[dict[str, Any]], client_id: str) -> dict[str, Any]:
    [found] = [c for c in consents if c["client"]["clientId"] == client_id]
    return found


async def revoke(hub: RunningHub, token: str | None, consent_id: int | str, scopes: list[str] | None = None) -> Any:
    _, body = await hub.graphql(REVOKE, token, {"id": str(consent_id), "scopes": scopes})
    return body


async def state(consent_id: int) -> tuple[str, str, str, int]:
    record = await ConsentRecord.get(id=consent_id)
    return (
        record.status.value,
        record.scope,
        record.revoked_scope,
        await ConsentEvent.filter(consent_id=consent_id).count(),
    )


async def test_the_citizen_lists_their_consents_and_the_reads_made_under_them(hub: RunningHub) -> None:
    token = await hub.token(FANG)
    agency_consent = await hub.consent(FANG, ["transit", "library"])
    agency_read, own_read, listing = request_id(), request_id(), request_id()
    await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { transit { balance } library { fines } "
        "health { healthCardNumber } } }",
        await hub.token(None),
        {"n": FANG},
        headers={"X-Request-Id": agency_read},
    )
    await hub.graphql("{ me { name transit { balance } } }", token, headers={"X-Request-Id": own_read})

    status, body = await hub.graphql(ME, token, headers={"X-Request-Id": listing})

    assert status == 200
    assert "errors" not in body, body.get("errors")
    consents = body["data"]["me"]["consents"]
    console = consent_of(consents, tokens.SANDBOX_CONSOLE_CLIENT)
    assert console["status"] == "ACTIVE"
    assert console["scopes"] == sorted(READ_SCOPES)
    assert console["client"]["name"] == tokens.SANDBOX_CONSOLE_CLIENT
    agency = consent_of(consents, AGENCY_CLIENT)
    assert agency["id"] == str(agency_consent)
    assert agency["client"] == {
        "clientId": AGENCY_CLIENT,
        "name": AGENCY_CLIENT,
        "purpose": "Tests: an agency reading consented profiles",
    }
    assert agency["status"] == "ACTIVE"
    assert agency["scopes"] == ["library", "transit"]
    assert agency["revokedScopes"] == []
    assert agency["purpose"] == "tests"
    granted, expires = datetime.fromisoformat(agency["grantedAt"]), datetime.fromisoformat(agency["expiresAt"])
    assert timedelta(days=179) < expires - granted <= timedelta(days=180)
    assert agency["history"][0]["action"] == "GRANTED"
    assert agency["history"][-1]["scopes"] == ["library", "transit"]

    log = body["data"]["me"]["accessLog"]
    assert [
        (e["clientId"], e["sections"], e["outcome"], e["reason"]) for e in log if e["requestId"] == agency_read
    ] == [
        (AGENCY_CLIENT, ["health"], "DENIED", "CONSENT_REQUIRED"),
        (AGENCY_CLIENT, ["library", "transit"], "ALLOWED", None),
    ]  # newest first; one request's entries come in the order they were written, newest first too
    [own] = [e for e in log if e["requestId"] == own_read]
    assert (own["clientId"], own["sections"], own["outcome"]) == (
        tokens.SANDBOX_CONSOLE_CLIENT,
        ["card", "transit"],
        "ALLOWED",
    )
    assert abs(datetime.fromisoformat(own["at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert log.index(own) < log.index(next(e for e in log if e["requestId"] == agency_read))
    # The citizen looking at their own records is not a read of their profile: nothing is added.
    assert await AuditEntry.filter(request_id=listing).count() == 0


async def test_the_access_log_takes_first(hub: RunningHub) -> None:
    token = await hub.token(FANG)
    await hub.graphql("{ me { name } }", token)
    await hub.graphql("{ me { name } }", token)
    _, body = await hub.graphql("{ me { a: accessLog(first: 1) { requestId } b: accessLog(first: 0) { at } } }", token)
    assert len(body["data"]["me"]["a"]) == 1
    assert body["data"]["me"]["b"] == []
    _, body = await hub.graphql("{ me { name accessLog(first: 201) { at } } }", token)
    assert body["data"]["me"]["accessLog"] is None
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "first", "max": 200}


async def test_revoke_consent_per_scope_then_whole(hub: RunningHub) -> None:
    token = await hub.token(FANG)
    agency_token = await hub.token(None)
    consent_id = await hub.consent(FANG, ["transit", "library"])

    body = await revoke(hub, token, consent_id, ["transit"])
    assert "errors" not in body, body.get("errors")
    narrowed = body["data"]["revokeConsent"]
    assert (narrowed["id"], narrowed["status"]) == (str(consent_id), "ACTIVE")
    assert (narrowed["scopes"], narrowed["revokedScopes"]) == (["library"], ["transit"])
    assert narrowed["history"][-1]["action"] == "NARROWED"
    assert narrowed["history"][-1]["scopes"] == ["library"]
    _, body = await hub.graphql(AGENCY_READ, agency_token, {"n": FANG})
    assert body["data"]["citizen"]["library"] is not None  # what is left still works
    assert body["errors"][0]["extensions"] == {"code": "CONSENT_REVOKED", "scope": "transit"}

    body = await revoke(hub, token, consent_id, ["transit"])
    assert body["data"] == {"revokeConsent": None}
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "scopes"}
    body = await revoke(hub, token, consent_id, ["library", "everything"])
    assert body["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "argument": "scopes",
        "known": sorted(READ_SCOPES),
    }
    assert "everything" in body["errors"][0]["message"]
    assert "known: card" in body["errors"][0]["message"]
    body = await revoke(hub, token, consent_id, [])
    assert codes(body) == ["BAD_USER_INPUT"]
    assert await state(consent_id) == ("ACTIVE", "library", "transit", len(narrowed["history"]))

    body = await revoke(hub, token, consent_id)
    revoked = body["data"]["revokeConsent"]
    assert revoked["status"] == "REVOKED"
    assert (revoked["scopes"], revoked["revokedScopes"]) == ([], ["library", "transit"])
    assert [(h["action"], h["scopes"]) for h in revoked["history"][-2:]] == [("NARROWED", ["library"]), ("REVOKED", [])]
    _, body = await hub.graphql(AGENCY_READ, agency_token, {"n": FANG})
    assert body["data"]["citizen"] == {"transit": None, "library": None}
    assert set(codes(body)) == {"CONSENT_REVOKED"}

    body = await revoke(hub, token, consent_id)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "consentId"}
    assert "already revoked" in body["errors"][0]["message"]

    _, body = await hub.graphql(ME, token)  # the citizen's own token is untouched: another client's consent
    assert consent_of(body["data"]["me"]["consents"], AGENCY_CLIENT)["status"] == "REVOKED"


async def test_revoking_is_not_recorded_in_the_access_log(hub: RunningHub) -> None:
    token = await hub.token(FANG)
    consent_id = await hub.consent(FANG, ["library"])
    before = await AuditEntry.all().count()
    _, body = await hub.graphql(REVOKE, token, {"id": str(consent_id), "scopes": ["library"]})
    assert "errors" not in body, body.get("errors")
    assert await AuditEntry.all().count() == before


async def test_another_citizens_consent_is_not_found_and_left_alone(hub: RunningHub) -> None:
    qius = await hub.consent(QIU, ["transit"])
    before = await state(qius)
    token = await hub.token(FANG)

    for scopes in (None, ["transit"]):
        body = await revoke(hub, token, qius, scopes)
        assert body["data"] == {"revokeConsent": None}
        assert body["errors"][0]["extensions"] == {"code": "CONSENT_NOT_FOUND", "consentId": str(qius)}
    for missing in ("999999999", "abc", "-1", "9" * 30):
        body = await revoke(hub, token, missing)
        assert body["errors"][0]["extensions"] == {"code": "CONSENT_NOT_FOUND", "consentId": missing}

    assert await state(qius) == before
    _, body = await hub.graphql(AGENCY_READ, await hub.token(None), {"n": QIU})
    assert body["data"]["citizen"]["transit"] is not None


async def test_an_expired_consent_shows_as_expired_and_cannot_be_revoked(hub: RunningHub) -> None:
    token = await hub.token(FANG)
    consent_id = await hub.consent(FANG, ["library"], client="test-expiring-client")
    await ConsentRecord.filter(id=consent_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    _, body = await hub.graphql(ME, token)
    assert consent_of(body["data"]["me"]["consents"], "test-expiring-client")["status"] == "EXPIRED"
    body = await revoke(hub, token, consent_id)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "argument": "consentId"}


async def test_no_other_party_lists_a_citizens_consents_or_access_log(hub: RunningHub) -> None:
    qius = await hub.consent(QIU, ["transit", "library", "card"])
    agency_token = await hub.token(None)
    attempt = request_id()
    _, body = await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { name consents { id } accessLog { requestId } } }",
        agency_token,
        {"n": QIU},
        headers={"X-Request-Id": attempt},
    )
    assert body["data"]["citizen"] == {"name": PERSONAS[19].name, "consents": None, "accessLog": None}
    assert sorted((e["path"][-1], e["extensions"]["code"]) for e in body["errors"]) == [
        ("accessLog", "FORBIDDEN"),
        ("consents", "FORBIDDEN"),
    ]
    # The attempt is recorded for the citizen, who sees it in their own access log.
    rows = await AuditEntry.filter(request_id=attempt).order_by("id")
    assert [(r.client_id, r.citizen, r.sections, r.outcome, r.reason) for r in rows] == [
        (AGENCY_CLIENT, QIU, "card", "ALLOWED", ""),
        (AGENCY_CLIENT, QIU, "access_log,consents", "DENIED", "FORBIDDEN"),
    ]
    _, body = await hub.graphql(f"{{ me {{ accessLog {{ {ENTRY} }} }} }}", await hub.token(QIU))
    seen = [e for e in body["data"]["me"]["accessLog"] if e["requestId"] == attempt and e["outcome"] == "DENIED"]
    assert [(e["sections"], e["reason"]) for e in seen] == [(["access_log", "consents"], "FORBIDDEN")]

    before = await state(qius)
    body = await revoke(hub, agency_token, qius)
    assert body["data"] == {"revokeConsent": None}
    assert codes(body) == ["FORBIDDEN"]
    body = await revoke(hub, None, qius, ["transit"])
    assert codes(body) == ["UNAUTHENTICATED"]
    assert await state(qius) == before


async def test_only_through_me_under_any_alias_or_fragment(hub: RunningHub) -> None:
    token = await hub.token(QIU)
    await hub.graphql("{ me { name } }", token)  # something in the access log
    _, body = await hub.graphql(
        "query { mine: me { ...Mine } ... on Query { again: me { consents { id } } } ...Root } "
        "fragment Mine on Citizen { consents { id } } "
        "fragment Root on Query { third: me { accessLog(first: 1) { at } } }",
        token,
    )
    assert "errors" not in body, body.get("errors")
    assert body["data"]["mine"]["consents"] == body["data"]["again"]["consents"] != []
    assert len(body["data"]["third"]["accessLog"]) == 1
    # A citizen's token cannot reach itself any other way (citizen(cardNumber) refuses it before the fields).
    _, body = await hub.graphql(f'{{ me: citizen(cardNumber: "{QIU}") {{ consents {{ id }} }} }}', token)
    assert body["data"] == {"me": None}
    assert codes(body) == ["FORBIDDEN"]


async def test_a_third_party_app_never_sees_or_changes_the_citizens_consents(hub: RunningHub) -> None:
    card = PERSONAS[19].card_number
    own = await hub.token(card)  # the sandbox console: a first-party app
    _, body = await hub.graphql("{ me { consents { id } } }", own)
    consent_id = body["data"]["me"]["consents"][0]["id"]

    third_party = await tokens.issue("some-third-party-app", READ_SCOPES, card, 600)
    _, body = await hub.graphql("{ me { consents { id } accessLog { at } } }", third_party)
    assert body["data"]["me"] == {"consents": None, "accessLog": None}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    _, body = await hub.graphql(REVOKE, third_party, {"id": consent_id, "scopes": None})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _, body = await hub.graphql("{ me { consents { id status } } }", own)
    assert {"id": consent_id, "status": "ACTIVE"} in body["data"]["me"]["consents"]
