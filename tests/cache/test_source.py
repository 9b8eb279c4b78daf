"""The one read path (cache/source.py) against the running sandbox agencies: a selection makes only
the agency calls its fields need, the cache keeps answers per resource so partial selections
compose, and the source's invalidations reach exactly what they name."""

from __future__ import annotations

import pytest

from cache.backend import CacheBackend, MemoryBackend
from cache.sections import SectionCache
from cache.source import SectionSource
from connectors.domain import Transit
from connectors.errors import AgencyUnavailable
from sandbox.personas import PERSONAS
from sandbox.runner import Sandbox
from tests.conftest import ConnectorFactory, agency_stats, reset_agency_stats

ALICE = PERSONAS[0].card_number
BOB = PERSONAS[1].card_number


def paths(sandbox: Sandbox, agency: str) -> list[str]:
    return [i["path"] for i in agency_stats(sandbox, agency)["intervals"] if not i["path"].endswith("/token")]


async def transit_source(make_connector: ConnectorFactory, cache: SectionCache | None) -> SectionSource:
    return SectionSource({"transit": await make_connector("transit")}, cache)


async def test_a_balance_is_one_agency_call_and_trips_reuse_the_card(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    source = await transit_source(make_connector, SectionCache(backend))
    reset_agency_stats(sandbox, "transit")
    balance = await source.read("transit", ALICE, {"balance"})
    assert isinstance(balance, Transit) and balance.balance is not None
    assert [p.rsplit("/", 1)[-1] for p in paths(sandbox, "transit")] == ["card"]  # no trip pages

    reset_agency_stats(sandbox, "transit")
    trips = await source.read("transit", ALICE, {"trips"})
    assert isinstance(trips, Transit) and trips.trips
    called = paths(sandbox, "transit")
    assert called and all(p.endswith("/trips") for p in called), called  # the card came from the cache

    reset_agency_stats(sandbox, "transit")
    whole = await source.read("transit", ALICE)  # every field, composed from the two
    assert paths(sandbox, "transit") == []
    assert isinstance(whole, Transit)
    assert (whole.balance, whole.trips) == (balance.balance, trips.trips)


async def test_without_a_cache_a_selection_still_calls_only_what_it_needs(
    make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    source = await transit_source(make_connector, None)
    reset_agency_stats(sandbox, "transit")
    section = await source.read("transit", ALICE, {"balance", "meta"})
    assert isinstance(section, Transit) and section.trips == ()
    assert len(paths(sandbox, "transit")) == 1
    reset_agency_stats(sandbox, "transit")
    await source.read("transit", ALICE, {"trips"})  # the trips need the e-tong card number: both resources
    called = paths(sandbox, "transit")
    assert any(p.endswith("/card") for p in called) and any(p.endswith("/trips") for p in called)


async def test_nothing_mapped_asked_still_tells_whether_the_citizen_has_an_account(
    make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    source = SectionSource({"library": await make_connector("library")}, SectionCache(MemoryBackend()))
    no_library = next(p for p in PERSONAS if p.has("no_library")).card_number
    reset_agency_stats(sandbox, "library")
    assert await source.read("library", no_library, {"meta"}) is None
    assert await source.read("library", ALICE, {"meta"}) is not None
    assert len(paths(sandbox, "library")) == 2  # one resource each
    reset_agency_stats(sandbox, "library")
    assert await source.read("library", no_library, {"loans"}) is None  # "no account" is cached per resource
    assert len(paths(sandbox, "library")) <= 1


async def test_a_section_no_connector_serves_fails_as_unavailable() -> None:
    with pytest.raises(AgencyUnavailable, match="no connector"):
        await SectionSource({}).read("transit", ALICE)


async def test_each_invalidation_drops_what_it_names(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    connectors = {"transit": await make_connector("transit"), "library": await make_connector("library")}
    source = SectionSource(connectors, SectionCache(backend))

    async def reaches(agency: str, card: str = ALICE) -> bool:
        reset_agency_stats(sandbox, agency)
        await source.read(agency, card)
        return bool(paths(sandbox, agency))

    for agency in connectors:
        assert await reaches(agency)
    await reaches("transit", BOB)
    await source.consent_withdrawn(ALICE, frozenset({"library", "card"}))  # scopes, not all of them sections
    assert await reaches("library") and not await reaches("transit")
    assert not await reaches("transit", BOB)
    await source.connector_changed("transit")
    assert await reaches("transit") and not await reaches("library")
    await source.purge("library")
    assert await reaches("library")
    await source.purge()
    assert await reaches("transit") and await reaches("library") and await reaches("transit", BOB)


async def test_without_a_cache_the_invalidations_are_no_ops(make_connector: ConnectorFactory) -> None:
    source = await transit_source(make_connector, None)
    await source.consent_withdrawn(ALICE, {"transit"})
    await source.connector_changed("transit")
    await source.purge()
