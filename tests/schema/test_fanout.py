"""Sections resolve concurrently, and one agency call serves every field of its section.

Proven by the agencies' own request records (shared monotonic clock), not by wall-clock asserts.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.domain import AGENCY_IDS
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub, agency_stats, reset_agency_stats

CARD = PERSONAS[0].card_number
FULL = """{ me { socialSecurity { medicalAccountBalance } transit { balance } health { healthCardNumber }
  housingFund { balance } library { fines } } }"""


def data_intervals(hub: RunningHub, agency: str) -> list[tuple[float, float]]:
    stats = agency_stats(hub.sandbox, agency)
    # Token endpoints are auth round-trips, not data calls.
    return [
        (i["start"], i["end"])
        for i in stats["intervals"]
        if i["end"] is not None and not i["path"].endswith("/token") and i["path"] != "/openapi.json"
    ]


def max_agencies_in_flight(by_agency: dict[str, list[tuple[float, float]]]) -> int:
    events = sorted(
        [(start, 1, agency) for agency, spans in by_agency.items() for start, _ in spans]
        + [(end, -1, agency) for agency, spans in by_agency.items() for _, end in spans]
    )
    open_calls: dict[str, int] = dict.fromkeys(by_agency, 0)
    best = 0
    for _, delta, agency in events:
        open_calls[agency] += delta
        best = max(best, sum(1 for n in open_calls.values() if n > 0))
    return best


async def test_all_five_agencies_are_called_at_the_same_time(
    hub: RunningHub, clear_faults: Callable[..., None]
) -> None:
    token = await hub.token(CARD)
    await hub.graphql(FULL, token)  # warm up: client-credential tokens fetched and cached
    for agency in AGENCY_IDS:
        clear_faults(agency, latency_ms=150)
        reset_agency_stats(hub.sandbox, agency)

    _, body = await hub.graphql(FULL, token)

    assert "errors" not in body
    by_agency = {a: data_intervals(hub, a) for a in AGENCY_IDS}
    assert all(by_agency.values()), by_agency
    assert max_agencies_in_flight(by_agency) == len(AGENCY_IDS)


async def test_one_agency_fetch_serves_many_fields_and_aliases(hub: RunningHub) -> None:
    token = await hub.token(CARD)
    await hub.graphql("{ me { transit { balance } } }", token)  # warm up the token cache

    reset_agency_stats(hub.sandbox, "transit")  # the same fields, asked once: the card and the trips
    await hub.graphql("{ me { transit { balance concession cardNumber trips(first: 2) { totalCount } } } }", token)
    single = agency_stats(hub.sandbox, "transit")["count"]

    reset_agency_stats(hub.sandbox, "transit")
    _, body = await hub.graphql(
        """{ me { a: transit { balance } b: transit { concession trips(first: 2) { totalCount } }
                 c: transit { cardNumber meta { source } } } }""",
        token,
    )
    assert "errors" not in body
    assert body["data"]["me"]["a"]["balance"] is not None
    assert agency_stats(hub.sandbox, "transit")["count"] == single


def test_overlap_counter_counts_distinct_agencies() -> None:
    # Guard against a counter that can only ever say "5".
    sequential = {"a": [(0.0, 1.0)], "b": [(1.5, 2.0)], "c": [(2.5, 3.0)]}
    assert max_agencies_in_flight(sequential) == 1
    nested = {"a": [(0.0, 3.0)], "b": [(1.0, 2.0)], "c": [(2.5, 4.0)]}
    assert max_agencies_in_flight(nested) == 2
