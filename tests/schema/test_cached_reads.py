"""Reads through the section cache, over HTTP: consent is checked before the cache is read, a
withdrawn consent and a connector change drop cached copies, a failing agency is covered by a stale
copy marked meta.stale, and `cardhub cache purge` reaches a running hub."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest

from cache.backend import MemoryBackend
from cache.sections import SectionCache, Stored
from cache.source import SectionSource
from connectors import versions
from connectors.live import LiveConnectors
from connectors.manifest_parsing import from_data
from connectors.policy import ConnectorPolicy
from sandbox.personas import PERSONAS
from tests.conftest import RunningHub, agency_stats, manifest_data, reset_agency_stats

CITIZEN = PERSONAS[9].card_number
TRANSIT = "{ me { transit { cardNumber balance meta { fetchedAt stale } } } }"
AGENCY_READ = "query($n: ID!) { citizen(cardNumber: $n) { transit { cardNumber } } }"
REVOKE = "mutation($id: ID!) { revokeConsent(consentId: $id) { status } }"


@pytest.fixture
async def cached(hub: RunningHub) -> AsyncIterator[SectionCache]:
    """The running hub with an in-process section cache (the session's hub runs without one)."""
    source: SectionSource = hub.app.state.graphql.services.sections
    before = source.cache
    cache = SectionCache(MemoryBackend(), stale_seconds=3600)
    source.cache = cache  # what its invalidations reach, too
    yield cache
    source.cache = before


def transit_calls(hub: RunningHub) -> int:
    return len([i for i in agency_stats(hub.sandbox, "transit")["intervals"] if "/token" not in i["path"]])


async def read(hub: RunningHub, token: str) -> dict[str, object]:
    _, body = await hub.graphql(TRANSIT, token)
    return body


async def test_a_second_read_comes_from_the_cache(hub: RunningHub, cached: SectionCache) -> None:
    token = await hub.token(CITIZEN)
    first = await read(hub, token)
    reset_agency_stats(hub.sandbox, "transit")
    second = await read(hub, token)
    assert second == first  # the same fetchedAt: the hub's copy, not a new read
    assert transit_calls(hub) == 0
    assert cached.stats.hits >= 1


async def test_consent_is_checked_before_the_cache_is_read(hub: RunningHub, cached: SectionCache) -> None:
    await read(hub, await hub.token(CITIZEN))  # the citizen's own read fills the cache
    looked = cached.stats.hits + cached.stats.misses
    other_client = await hub.token(None)  # an agency client the citizen never consented to
    _, body = await hub.graphql(AGENCY_READ, other_client, {"n": CITIZEN})
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REQUIRED"
    assert body["data"]["citizen"]["transit"] is None
    assert cached.stats.hits + cached.stats.misses == looked  # refused before the cache was touched


async def test_a_withdrawn_consent_drops_the_cached_copy_and_is_enforced_at_once(
    hub: RunningHub, cached: SectionCache
) -> None:
    citizen_token = await hub.token(CITIZEN)
    consent_id = await hub.consent(CITIZEN, ["transit"])
    agency = await hub.token(None)
    _, body = await hub.graphql(AGENCY_READ, agency, {"n": CITIZEN})
    assert body["data"]["citizen"]["transit"]["cardNumber"]
    _, body = await hub.graphql(REVOKE, citizen_token, {"id": str(consent_id)})
    assert body["data"]["revokeConsent"]["status"] == "REVOKED"
    _, body = await hub.graphql(AGENCY_READ, agency, {"n": CITIZEN})
    assert body["errors"][0]["extensions"]["code"] == "CONSENT_REVOKED"
    reset_agency_stats(hub.sandbox, "transit")
    await read(hub, citizen_token)  # the citizen's own read: the copy is gone, so the agency is asked
    assert transit_calls(hub) > 0


async def test_a_failing_agency_is_covered_by_a_stale_copy(
    hub: RunningHub, cached: SectionCache, clear_faults: Callable[..., None]
) -> None:
    token = await hub.token(CITIZEN)
    fresh = await read(hub, token)
    # Age every cached copy past the connector's TTL (60 s for transit) without waiting a minute.
    backend = cached.backend
    assert isinstance(backend, MemoryBackend)
    for key, (stored, expires_at) in list(backend._entries.items()):
        assert isinstance(stored, Stored)
        backend._entries[key] = (dataclasses.replace(stored, stored_at=stored.stored_at - 61), expires_at)
    clear_faults("transit", error_status=503)
    stale = await read(hub, token)
    assert "errors" not in stale
    transit = stale["data"]["me"]["transit"]  # type: ignore[index]
    assert transit["meta"]["stale"] is True
    fetched_then = datetime.fromisoformat(fresh["data"]["me"]["transit"]["meta"]["fetchedAt"])  # type: ignore[index]
    assert datetime.fromisoformat(transit["meta"]["fetchedAt"]) == fetched_then - timedelta(seconds=61)  # how old
    assert fresh["data"]["me"]["transit"]["meta"]["stale"] is False  # type: ignore[index]


async def test_a_connector_change_drops_its_sections_copies(hub: RunningHub, cached: SectionCache) -> None:
    token = await hub.token(CITIZEN)
    await read(hub, token)
    live: LiveConnectors = hub.app.state.connectors
    before = (await versions.ConnectorState.get(agency="transit")).version
    data = manifest_data(hub.sandbox, "transit")
    data["cache_ttl_seconds"] = 59
    await versions.add_and_activate(from_data(data), "tests", ConnectorPolicy().sealer)
    try:
        await live.refresh()
        reset_agency_stats(hub.sandbox, "transit")
        await read(hub, token)
        assert transit_calls(hub) > 0
    finally:
        await versions.point_to("transit", before, "tests")
        await live.refresh()


async def test_cardhub_cache_purge_reaches_the_running_hub(hub: RunningHub, cached: SectionCache) -> None:
    token = await hub.token(CITIZEN)
    await read(hub, token)
    env = {**os.environ, "CARDHUB_DATABASE_URL": hub.settings.database_url, "CARDHUB_CACHE_URL": "memory"}
    cli = [sys.executable, "-m", "hub.cli", "cache", "purge", "--section", "transit"]
    done = await asyncio.to_thread(subprocess.run, cli, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "purged the transit section" in done.stdout
    await live_poll(hub)  # the hub applies it at its next poll (at once here)
    reset_agency_stats(hub.sandbox, "transit")
    await read(hub, token)
    assert transit_calls(hub) > 0


async def live_poll(hub: RunningHub) -> None:
    """What every hub does each connector_poll_seconds (the session's hub polls too; this is at once)."""
    live: LiveConnectors = hub.app.state.connectors
    await live.refresh()
    assert live.listener is not None
    await live.listener.polled()


def transit_paths(hub: RunningHub) -> list[str]:
    return [i["path"] for i in agency_stats(hub.sandbox, "transit")["intervals"] if "/token" not in i["path"]]


async def test_a_balance_alone_is_one_agency_call(hub: RunningHub) -> None:
    """The session's hub has no cache: the selection alone decides which resources are called."""
    token = await hub.token(CITIZEN)
    reset_agency_stats(hub.sandbox, "transit")
    _, body = await hub.graphql("{ me { transit { balance } } }", token)
    assert body["data"]["me"]["transit"]["balance"] is not None
    assert len(transit_paths(hub)) == 1  # the card: no trip pages


async def test_partial_selections_compose_through_the_cache(hub: RunningHub, cached: SectionCache) -> None:
    token = await hub.token(CITIZEN)
    reset_agency_stats(hub.sandbox, "transit")
    _, body = await hub.graphql("{ me { transit { balance } } }", token)
    assert body["data"]["me"]["transit"]["balance"] is not None
    assert len(transit_paths(hub)) == 1
    reset_agency_stats(hub.sandbox, "transit")
    query = "{ me { transit { ...on TransitSection { trips(first: 1) { totalCount } } } } }"  # through a fragment
    _, body = await hub.graphql(query, token)
    assert body["data"]["me"]["transit"]["trips"]["totalCount"] > 0
    called = transit_paths(hub)
    assert called and all(p.endswith("/trips") for p in called), called  # the card came from the cache
    reset_agency_stats(hub.sandbox, "transit")
    _, body = await hub.graphql("{ me { transit { cardNumber balance concession trips { totalCount } } } }", token)
    assert "errors" not in body and transit_paths(hub) == []
