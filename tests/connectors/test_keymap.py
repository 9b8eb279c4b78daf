"""Remembered agency keys make later fetches parallel, and a wrong key never shows another's data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.declarative import ManifestConnector
from connectors.domain import Transit
from connectors.keymap import KeyMap
from sandbox import runner
from sandbox.personas import PERSONAS
from tests.conftest import ConnectorFactory, agency_stats, reset_agency_stats

ALICE, BOB = PERSONAS[0].card_number, PERSONAS[6].card_number  # both have transit and library data


def test_keymap_expires_and_evicts_oldest() -> None:
    keys: KeyMap[str] = KeyMap(max_entries=2, ttl_seconds=60)
    keys.put("a", "1")
    keys.put("b", "2")
    assert keys.get("a") == "1"  # a is now the most recent
    keys.put("c", "3")
    assert keys.get("b") is None
    assert (keys.get("a"), keys.get("c")) == ("1", "3")
    expired: KeyMap[str] = KeyMap(ttl_seconds=-1)
    expired.put("a", "1")
    assert expired.get("a") is None


def overlapping(intervals: list[dict[str, float]]) -> bool:
    spans = sorted((i["start"], i["end"]) for i in intervals)
    return any(spans[k + 1][0] < spans[k][1] for k in range(len(spans) - 1))


@pytest.mark.parametrize("agency", ["transit", "library"])
async def test_second_fetch_sends_lookup_and_lists_together(
    agency: str, make_connector: ConnectorFactory, sandbox: runner.Sandbox
) -> None:
    # With latency each call lasts long enough that calls sent together visibly overlap.
    connector = await make_connector(agency, headers={"X-Sandbox-Fault": "latency=100"})
    first = await connector.fetch(ALICE)
    reset_agency_stats(sandbox, agency)
    second = await connector.fetch(ALICE)
    assert first is not None and second is not None
    assert replace(second, meta=first.meta) == first
    intervals = [i for i in agency_stats(sandbox, agency)["intervals"] if not i["path"].endswith("/token")]
    assert overlapping(intervals), intervals


async def test_a_wrong_remembered_card_number_never_shows_its_trips(make_connector: ConnectorFactory) -> None:
    connector = await make_connector("transit")
    assert isinstance(connector, ManifestConnector)
    alice, bob = await connector.fetch(ALICE), await connector.fetch(BOB)
    assert isinstance(alice, Transit) and isinstance(bob, Transit) and alice.trips != bob.trips
    connector.keys.put(ALICE, (("card.cardNumber", bob.card_number),))  # as if Alice's card had been replaced

    again = await connector.fetch(ALICE)
    assert isinstance(again, Transit)
    assert again.card_number == alice.card_number
    assert [t.at for t in again.trips] == [t.at for t in alice.trips]
    assert connector.keys.get(ALICE) == (("card.cardNumber", alice.card_number),)


async def test_a_wrong_remembered_patron_id_never_shows_its_loans(make_connector: ConnectorFactory) -> None:
    connector = await make_connector("library")
    assert isinstance(connector, ManifestConnector)
    alice = await connector.fetch(ALICE)
    await connector.fetch(BOB)
    bob_patron = connector.keys.get(BOB)
    assert alice is not None and bob_patron is not None
    connector.keys.put(ALICE, bob_patron)

    again = await connector.fetch(ALICE)
    assert again is not None
    assert replace(again, meta=alice.meta) == alice
    connector.keys.put(ALICE, (("patron.patronId", "999999999"),))  # an id the library does not know: 404 on the lists
    assert await connector.fetch(ALICE) is not None
