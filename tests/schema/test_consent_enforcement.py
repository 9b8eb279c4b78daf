"""A section needs the citizen's active consent for the client, checked before any agency call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from auth import consent, tokens
from auth.consent import Consent
from sandbox.personas import PERSONAS
from tests.conftest import AGENCY_CLIENT, RunningHub, agency_stats, reset_agency_stats

# Personas of their own: these tests revoke and expire consents.
CAROL, DAVE, ERIN = PERSONAS[20].card_number, PERSONAS[21].card_number, PERSONAS[14].card_number
QUERY = "{ me { transit { balance } health { healthCardNumber } } }"


async def test_a_withdrawn_scope_is_refused_on_the_very_next_request(hub: RunningHub) -> None:
    token = await hub.token(CAROL)
    _, body = await hub.graphql(QUERY, token)
    assert body["data"]["me"]["health"] is not None
    [carols] = [c for c in await consent.for_citizen(CAROL) if c.client_id == tokens.SANDBOX_CONSOLE_CLIENT]

    await consent.revoke(CAROL, carols.id, frozenset({"health"}))
    reset_agency_stats(hub.sandbox, "health")
    _, body = await hub.graphql(QUERY, token)

    assert body["data"]["me"]["transit"] is not None
    assert body["data"]["me"]["health"] is None
    assert body["errors"][0]["extensions"] == {"code": "CONSENT_REVOKED", "scope": "health"}
    assert agency_stats(hub.sandbox, "health")["count"] == 0


async def test_revoking_the_whole_consent_ends_the_token(hub: RunningHub) -> None:
    token = await hub.token(DAVE)
    [daves] = [c for c in await consent.for_citizen(DAVE) if c.client_id == tokens.SANDBOX_CONSOLE_CLIENT]
    await consent.revoke(DAVE, daves.id)
    status, body = await hub.graphql(QUERY, token)
    assert status == 401
    assert "revoked" in body["errors"][0]["message"]


async def test_an_agency_reads_only_what_the_citizen_consented_to_for_it(hub: RunningHub) -> None:
    token = await hub.token(None)
    query = f'{{ citizen(cardNumber: "{ERIN}") {{ transit {{ balance }} library {{ fines }} }} }}'
    reset_agency_stats(hub.sandbox, "transit")
    _, body = await hub.graphql(query, token)
    assert body["data"]["citizen"] == {"transit": None, "library": None}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"CONSENT_REQUIRED"}
    assert agency_stats(hub.sandbox, "transit")["count"] == 0

    await hub.consent(ERIN, ["transit"])
    _, body = await hub.graphql(query, token)
    assert body["data"]["citizen"]["transit"] is not None
    assert body["data"]["citizen"]["library"] is None
    assert body["errors"][0]["extensions"] == {"code": "CONSENT_REQUIRED", "scope": "library"}


async def test_an_expired_consent_is_refused_as_expired(hub: RunningHub) -> None:
    await hub.consent(ERIN, ["library"])
    await Consent.filter(citizen=ERIN, client_id=AGENCY_CLIENT).update(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    _, body = await hub.graphql(f'{{ citizen(cardNumber: "{ERIN}") {{ library {{ fines }} }} }}', await hub.token(None))
    assert body["errors"][0]["extensions"] == {"code": "CONSENT_EXPIRED", "scope": "library"}
    await hub.consent(ERIN, ["library"])  # consenting again renews it
    _, body = await hub.graphql(f'{{ citizen(cardNumber: "{ERIN}") {{ library {{ fines }} }} }}', await hub.token(None))
    assert "errors" not in body
