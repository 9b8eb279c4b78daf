"""Query.citizen(cardNumber) is no existence oracle: only data-scope clients may ask, an unknown card
answers as a citizen who has not consented, and every probe is audited."""

from __future__ import annotations

import json
from typing import Any

from auth import tokens
from auth.audit import AuditEntry
from connectors.domain import AGENCY_IDS
from sandbox.personas import PERSONAS
from tests.conftest import AGENCY_CLIENT, RunningHub, agency_stats, reset_agency_stats

KNOWN = PERSONAS[0].card_number
UNKNOWN = "999999999999"
PROBER = "test-oracle-prober"  # a client no citizen ever consented to
LOOKUP = "query($n: ID!) { citizen(cardNumber: $n) { cardNumber name card { status } transit { balance } } }"


async def entries_for(request_id: str) -> list[tuple[str, str, str, str, str]]:
    rows = await AuditEntry.filter(request_id=request_id).order_by("id")
    return [(r.client_id, r.citizen, r.outcome, r.sections, r.reason) for r in rows]


async def probe(hub: RunningHub, token: str, card: str, request_id: str, query: str = LOOKUP) -> str:
    """The response with the asked card number blanked out: what the prober learns beyond its own input."""
    status, body = await hub.graphql(query, token, {"n": card}, headers={"X-Request-Id": request_id})
    assert status == 200
    return json.dumps(body, sort_keys=True).replace(card, "<card>")


def agency_calls(hub: RunningHub) -> int:
    return sum(agency_stats(hub.sandbox, a)["count"] for a in AGENCY_IDS)


async def test_an_unknown_card_answers_exactly_as_a_citizen_without_consent(hub: RunningHub) -> None:
    token = await tokens.issue(PROBER, frozenset({"card", "transit"}), None, 600)
    for agency in AGENCY_IDS:
        reset_agency_stats(hub.sandbox, agency)
    known = await probe(hub, token, KNOWN, "oracle-known")
    unknown = await probe(hub, token, UNKNOWN, "oracle-unknown")
    assert known == unknown
    body: dict[str, Any] = json.loads(known)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"CONSENT_REQUIRED"}
    assert agency_calls(hub) == 0
    assert await entries_for("oracle-known") == [(PROBER, KNOWN, "DENIED", "card,transit", "CONSENT_REQUIRED")]
    assert await entries_for("oracle-unknown") == [(PROBER, UNKNOWN, "DENIED", "card,transit", "CONSENT_REQUIRED")]


async def test_a_probe_selecting_no_section_is_audited_too(hub: RunningHub) -> None:
    token = await tokens.issue(PROBER, frozenset({"card"}), None, 600)
    query = "query($n: ID!) { citizen(cardNumber: $n) { cardNumber } }"
    assert await probe(hub, token, KNOWN, "oracle-bare-known", query) == await probe(
        hub, token, UNKNOWN, "oracle-bare-unknown", query
    )
    assert await entries_for("oracle-bare-known") == [(PROBER, KNOWN, "DENIED", "profile", "CONSENT_REQUIRED")]
    assert await entries_for("oracle-bare-unknown") == [(PROBER, UNKNOWN, "DENIED", "profile", "CONSENT_REQUIRED")]


async def test_a_token_without_a_data_scope_may_not_look_citizens_up(hub: RunningHub) -> None:
    token = await tokens.issue(AGENCY_CLIENT, frozenset({"connectors:manage"}), None, 600)
    known = await probe(hub, token, KNOWN, "oracle-manage-known")
    assert known == await probe(hub, token, UNKNOWN, "oracle-manage-unknown")
    body: dict[str, Any] = json.loads(known)
    assert body["data"] == {"citizen": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await entries_for("oracle-manage-known") == [(AGENCY_CLIENT, KNOWN, "DENIED", "profile", "FORBIDDEN")]
    assert await entries_for("oracle-manage-unknown") == [(AGENCY_CLIENT, UNKNOWN, "DENIED", "profile", "FORBIDDEN")]


async def test_a_consented_lookup_is_recorded_with_what_it_read(hub: RunningHub) -> None:
    reader = "test-oracle-reader"
    await hub.consent(KNOWN, ["card"], client=reader)
    token = await tokens.issue(reader, frozenset({"card"}), None, 600)
    _, body = await hub.graphql(
        "query($n: ID!) { citizen(cardNumber: $n) { name } }", token, {"n": KNOWN}, {"X-Request-Id": "oracle-ok"}
    )
    assert body["data"]["citizen"]["name"] == PERSONAS[0].name
    assert await entries_for("oracle-ok") == [(reader, KNOWN, "ALLOWED", "card", "")]
