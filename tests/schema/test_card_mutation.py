"""Mutation.issueCardCredential over HTTP: each purpose's claims, verified offline against the key set
the hub publishes; the scopes, the card's status, the access log; consent still governs GraphQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from auth.card.status import set_status
from auth.registry import CardStatus
from cardverify import PublicKeys, Refusal, Verified, verify
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

ISSUE = """mutation($p: CardPurpose!) { issueCardCredential(purpose: $p) {
  purpose text keyId issuedAt expiresAt validForSeconds qrVersion svg } }"""
ADULT = PERSONAS[0].card_number  # every account, no concession
SENIOR = PERSONAS[1].card_number  # senior concession
STUDENT_WITH_FINES = PERSONAS[2].card_number  # overdue library books
NO_LIBRARY = PERSONAS[3].card_number
NO_CLINIC = PERSONAS[13].card_number


async def published_keys(hub: RunningHub) -> PublicKeys:
    async with hub.http.get(hub.url + "/.well-known/cardhub-card-keys") as resp:
        assert resp.status == 200
        return PublicKeys.from_jwks(await resp.read())


async def issue(hub: RunningHub, card: str, purpose: str, scopes: set[str] | None = None) -> dict[str, Any]:
    token = await hub.token(card, scopes)
    _, body = await hub.graphql(ISSUE, token, {"p": purpose})
    return body


async def verified(hub: RunningHub, card: str, purpose: str) -> Verified:
    body = await issue(hub, card, purpose)
    assert "errors" not in body, body
    answer = verify(body["data"]["issueCardCredential"]["text"], await published_keys(hub), purpose, time.time())
    assert isinstance(answer, Verified), answer
    return answer


async def test_each_purpose_carries_only_what_its_terminal_needs(hub: RunningHub) -> None:
    transit = await verified(hub, SENIOR, "TRANSIT")
    assert transit.facts == {"card_valid": True, "concession": "SENIOR"}
    assert (await verified(hub, ADULT, "TRANSIT")).facts == {"card_valid": True, "concession": "NONE"}
    assert (await verified(hub, ADULT, "LIBRARY")).facts == {"patron_valid": True, "borrowing_blocked": False}
    fines = await verified(hub, STUDENT_WITH_FINES, "LIBRARY")
    assert fines.facts == {"patron_valid": True, "borrowing_blocked": True}
    assert (await verified(hub, NO_LIBRARY, "LIBRARY")).facts == {"patron_valid": False, "borrowing_blocked": True}
    clinic = await verified(hub, ADULT, "CLINIC")
    assert str(clinic.facts["health_card_number"]).startswith("HC")
    assert str(clinic.facts["registered_clinic"]).endswith("社区卫生服务中心")
    assert (await verified(hub, NO_CLINIC, "CLINIC")).facts["registered_clinic"] is None
    identity = await verified(hub, ADULT, "IDENTITY")
    assert identity.facts == {"name": PERSONAS[0].name, "card_number": ADULT}
    # Never the bare card number where the purpose does not need it: a pseudonym, one per purpose.
    for answer in (transit, fines, clinic):
        assert SENIOR not in repr(answer) and STUDENT_WITH_FINES not in repr(answer) and ADULT not in repr(answer)
    assert clinic.claims.pseudonym != identity.claims.pseudonym
    again = await verified(hub, ADULT, "IDENTITY")
    assert again.claims.pseudonym == identity.claims.pseudonym
    assert again.claims.credential_id != identity.claims.credential_id
    assert identity.claims.issuer == hub.settings.issuer_url


async def test_the_answer_has_the_code_its_svg_and_how_long_it_holds(hub: RunningHub) -> None:
    body = await issue(hub, ADULT, "TRANSIT")
    card = body["data"]["issueCardCredential"]
    assert card["purpose"] == "TRANSIT" and card["text"].startswith("CC1:")
    assert card["keyId"] == "sandbox"  # the public sandbox key: sandbox mode protects nothing
    assert 295 <= card["validForSeconds"] <= 300
    assert card["qrVersion"] <= 12
    assert card["svg"].startswith("<svg") and "</svg>" in card["svg"]


async def test_every_purpose_of_every_persona_fits_a_version_12_code(hub: RunningHub) -> None:
    versions = []
    for persona in PERSONAS:
        for purpose in ("TRANSIT", "LIBRARY", "CLINIC", "IDENTITY"):
            body = await issue(hub, persona.card_number, purpose)
            assert "errors" not in body, (persona.card_number, purpose, body)
            versions.append(body["data"]["issueCardCredential"]["qrVersion"])
    assert max(versions) <= 12


@pytest.mark.parametrize(
    ("purpose", "scopes", "missing"),
    [("TRANSIT", {"card"}, "transit"), ("CLINIC", {"card", "transit"}, "health"), ("IDENTITY", {"transit"}, "card")],
)
async def test_a_purpose_needs_the_scopes_of_what_it_reveals(
    hub: RunningHub, purpose: str, scopes: set[str], missing: str
) -> None:
    body = await issue(hub, ADULT, purpose, scopes)
    assert body["data"] is None
    assert body["errors"][0]["extensions"] == {"code": "CONSENT_REQUIRED", "scope": missing}


async def test_a_client_token_or_another_app_gets_no_credential(hub: RunningHub) -> None:
    _, body = await hub.graphql(ISSUE, await hub.token(None), {"p": "TRANSIT"})
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.fixture
async def lost_card(hub: RunningHub) -> AsyncIterator[str]:
    card = PERSONAS[7].card_number
    await set_status(card, CardStatus.SUSPENDED)
    try:
        yield card
    finally:
        await set_status(card, CardStatus.ACTIVE)


async def test_a_lost_card_gets_no_new_credential_and_the_refusal_is_logged(hub: RunningHub, lost_card: str) -> None:
    token = await hub.token(lost_card)
    for purpose in ("TRANSIT", "IDENTITY"):
        _, body = await hub.graphql(ISSUE, token, {"p": purpose})
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == {"code": "CARD_NOT_ACTIVE", "status": "SUSPENDED"}
    _, body = await hub.graphql("{ me { accessLog(first: 1) { sections outcome reason } } }", token)
    assert body["data"]["me"]["accessLog"][0] == {
        "sections": ["virtual_card.identity"], "outcome": "DENIED", "reason": "CARD_NOT_ACTIVE"
    }  # fmt: skip


async def test_issuing_is_recorded_in_the_citizens_access_log(hub: RunningHub) -> None:
    card = PERSONAS[11].card_number
    token = await hub.token(card)
    _, body = await hub.graphql(ISSUE, token, {"p": "TRANSIT"})
    assert "errors" not in body
    _, body = await hub.graphql("{ me { accessLog(first: 1) { sections outcome clientId } } }", token)
    assert body["data"]["me"]["accessLog"][0] == {
        "sections": ["virtual_card.transit"], "outcome": "ALLOWED", "clientId": "sandbox-console"
    }  # fmt: skip


async def test_a_credential_is_no_grant_an_agency_still_needs_consent(hub: RunningHub) -> None:
    card = PERSONAS[17].card_number
    shown = await verified(hub, card, "IDENTITY")  # the citizen showed their card at the counter
    assert shown.facts["card_number"] == card
    _, body = await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { name transit { concession } } }",
        await hub.token(None),
        {"n": card},
    )
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"CONSENT_REQUIRED"}, body
    assert body["data"]["citizen"] in (None, {"name": None, "transit": None})


async def test_the_key_set_is_published_with_cache_headers(hub: RunningHub) -> None:
    async with hub.http.get(hub.url + "/.well-known/cardhub-card-keys") as resp:
        assert resp.headers["Content-Type"] == "application/jwk-set+json"
        assert resp.headers["Cache-Control"] == "public, max-age=3600"
        etag = resp.headers["ETag"]
        body = await resp.json(content_type=None)
    assert body["issuer"] == hub.settings.issuer_url
    assert [(k["kty"], k["crv"], k["alg"], k["kid"]) for k in body["keys"]] == [
        ("OKP", "Ed25519", "Ed25519", "sandbox")
    ]
    async with hub.http.get(hub.url + "/.well-known/cardhub-card-keys", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert resp.headers["ETag"] == etag


async def test_a_credential_refused_offline_for_another_purpose(hub: RunningHub) -> None:
    body = await issue(hub, ADULT, "LIBRARY")
    answer = verify(body["data"]["issueCardCredential"]["text"], await published_keys(hub), "transit", time.time())
    assert isinstance(answer, Refusal) and answer.code == "WRONG_PURPOSE"
