"""The whole profile over HTTP, against the five running sandbox agencies."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.personas import NO_HOUSING_FUND, NO_LIBRARY, PERSONAS, RARE_NAME, TRANSIT_NEGATIVE_BALANCE
from tests.conftest import RunningHub

SECTIONS = {
    "socialSecurity": "social_security",
    "transit": "transit",
    "health": "health",
    "housingFund": "housing_fund",
    "library": "library",
}

FULL_PROFILE = """
query {
  me {
    cardNumber name
    card { status issuedOn virtualCard }
    socialSecurity { insuranceTypes medicalAccountBalance meta { source fetchedAt }
      contributions(first: 3) { totalCount nodes { period employer base personalAmount employerAmount } } }
    transit { cardNumber balance concession meta { source fetchedAt }
      trips(first: 3) { totalCount nodes { at mode line entryStop exitStop fare } } }
    health { healthCardNumber registeredClinic meta { source fetchedAt }
      visits(first: 3) { totalCount nodes { on facility department kind } }
      vaccinations(first: 3) { totalCount nodes { vaccine dose on } } }
    housingFund { accountNumber balance monthlyDeposit employer meta { source fetchedAt }
      loans { totalCount nodes { loanNumber principal outstanding status } } }
    library { cardNumber fines meta { source fetchedAt }
      loans { totalCount nodes { title dueDate overdue } }
      reservations { totalCount nodes { title readyForPickup } } }
  }
}
"""


def persona_with(trait: str) -> str:
    return next(p.card_number for p in PERSONAS if p.has(trait))


def persona_without(*traits: str) -> str:
    return next(p.card_number for p in PERSONAS if not any(p.has(t) for t in traits))


def is_money(value: Any) -> bool:
    return isinstance(value, str) and Decimal(value) == Decimal(value).quantize(Decimal("0.01")) and "." in value


async def test_full_profile_has_every_section_with_its_source(hub: RunningHub) -> None:
    card = persona_without(NO_LIBRARY, NO_HOUSING_FUND, "no_social_security")
    status, body = await hub.graphql(FULL_PROFILE, await hub.token(card))
    assert status == 200
    assert "errors" not in body, body.get("errors")
    me = body["data"]["me"]
    assert me["cardNumber"] == card
    assert me["name"] == next(p.name for p in PERSONAS if p.card_number == card)
    assert me["card"]["status"] == "ACTIVE"
    for field, agency in SECTIONS.items():
        assert me[field] is not None, field
        assert me[field]["meta"]["source"] == agency
    assert is_money(me["transit"]["balance"])
    assert is_money(me["socialSecurity"]["medicalAccountBalance"])
    assert all(is_money(c["base"]) for c in me["socialSecurity"]["contributions"]["nodes"])


async def test_section_is_null_without_error_when_the_citizen_has_no_account(hub: RunningHub) -> None:
    card = persona_with(NO_LIBRARY)
    status, body = await hub.graphql("{ me { library { cardNumber } transit { cardNumber } } }", await hub.token(card))
    assert status == 200
    assert "errors" not in body
    assert body["data"]["me"]["library"] is None
    assert body["data"]["me"]["transit"] is not None


async def test_rare_cjk_names_come_back_exactly(hub: RunningHub) -> None:
    for persona in (p for p in PERSONAS if p.has(RARE_NAME)):
        _, body = await hub.graphql("{ me { name } }", await hub.token(persona.card_number))
        assert body["data"]["me"]["name"] == persona.name


async def test_money_is_an_exact_decimal_string_even_when_negative(hub: RunningHub) -> None:
    card = persona_with(TRANSIT_NEGATIVE_BALANCE)
    _, body = await hub.graphql("{ me { transit { balance } } }", await hub.token(card))
    balance = body["data"]["me"]["transit"]["balance"]
    assert is_money(balance)
    assert Decimal(balance) < 0


async def test_pagination_walks_every_item_once(hub: RunningHub) -> None:
    card = persona_with("many_trips")
    token = await hub.token(card)
    query = """query($after: String) { me { transit { trips(first: 7, after: $after) {
        totalCount nodes { at line fare } pageInfo { hasNextPage endCursor } } } } }"""
    seen: list[tuple[str, str, str]] = []
    after: str | None = None
    total = None
    for _ in range(100):
        _, body = await hub.graphql(query, token, {"after": after})
        page = body["data"]["me"]["transit"]["trips"]
        total = page["totalCount"]
        seen += [(n["at"], n["line"], n["fare"]) for n in page["nodes"]]
        assert len(page["nodes"]) <= 7
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert total is not None and total > 7 * 2
    assert len(seen) == total
    timestamps = [s[0] for s in seen]
    assert timestamps == sorted(timestamps, reverse=True), "newest first"


async def test_page_size_is_capped_with_a_clear_error(hub: RunningHub) -> None:
    token = await hub.token(PERSONAS[0].card_number)
    _, body = await hub.graphql("{ me { transit { trips(first: 1000) { totalCount } } } }", token)
    assert body["data"]["me"]["transit"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["max"] == hub.settings.max_page_size


async def test_a_forged_cursor_is_refused(hub: RunningHub) -> None:
    token = await hub.token(PERSONAS[0].card_number)
    _, body = await hub.graphql('{ me { transit { trips(after: "not-a-cursor") { totalCount } } } }', token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cursor" in body["errors"][0]["message"]
