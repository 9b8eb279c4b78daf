"""One agency failing nulls its own section, with a coded error naming it; the rest still come back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sandbox.personas import PERSONAS
from tests.conftest import RunningHub

FIELD = {
    "social_security": "socialSecurity",
    "transit": "transit",
    "health": "health",
    "housing_fund": "housingFund",
    "library": "library",
}
QUERY = "{ me { cardNumber " + " ".join(f"{f} {{ meta {{ source }} }}" for f in FIELD.values()) + " } }"
CARD = PERSONAS[0].card_number  # has an account at every agency


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ({"error_status": 503}, "AGENCY_UNAVAILABLE"),
        ({"drop": True}, "AGENCY_UNAVAILABLE"),
        ({"hang": True}, "AGENCY_TIMEOUT"),
        ({"garbage": True}, "AGENCY_BAD_RESPONSE"),
    ],
    ids=["error-503", "drop", "hang", "garbage"],
)
async def test_failing_agency_nulls_only_its_section(
    hub: RunningHub, agency: str, fault: dict[str, Any], code: str, clear_faults: Callable[..., None]
) -> None:
    clear_faults(agency, **fault)
    status, body = await hub.graphql(QUERY, await hub.token(CARD))

    assert status == 200
    me = body["data"]["me"]
    assert me["cardNumber"] == CARD
    assert me[FIELD[agency]] is None
    for other, field in FIELD.items():
        if other != agency:
            assert me[field] == {"meta": {"source": other}}, field
    [error] = body["errors"]
    assert error["path"] == ["me", FIELD[agency]]
    assert error["extensions"] == {"code": code, "agency": agency}
    assert "Traceback" not in error["message"]


async def test_hub_keeps_serving_after_failures(hub: RunningHub, clear_faults: Callable[..., None]) -> None:
    clear_faults("transit", garbage=True)
    await hub.graphql(QUERY, await hub.token(CARD))
    clear_faults("transit")
    _, body = await hub.graphql(QUERY, await hub.token(CARD))
    assert "errors" not in body
    assert body["data"]["me"]["transit"] == {"meta": {"source": "transit"}}
