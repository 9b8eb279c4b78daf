"""The section cache against the running sandbox agencies, on both backends: TTL, single-flight,
stale-if-error, invalidation, and a backend that goes away."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable

import pytest
import redis.asyncio as aioredis

from cache.backend import CacheBackend, MemoryBackend
from cache.redis_backend import RedisBackend
from cache.sections import SectionCache
from connectors.domain import AGENCY_IDS, Transit
from connectors.errors import AgencyUnavailable
from keys.keyring import CACHE, KeySet, generate
from sandbox.personas import PERSONAS
from sandbox.runner import Sandbox, free_port
from tests.conftest import ConnectorFactory, agency_stats, reset_agency_stats

ALICE = PERSONAS[0].card_number
BOB = PERSONAS[1].card_number


def calls(sandbox: Sandbox, agency: str) -> int:
    return len([i for i in agency_stats(sandbox, agency)["intervals"] if not i["path"].endswith("/token")])


async def test_a_fresh_copy_is_served_without_calling_the_agency(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    cache = SectionCache(backend)
    connector = await make_connector("transit")
    reset_agency_stats(sandbox, "transit")
    first = await cache.fetch(connector, ALICE)
    made = calls(sandbox, "transit")
    again = await cache.fetch(connector, ALICE)
    assert again == first  # equal to the last dataclass field, money and instants exact
    assert isinstance(again, Transit) and again.meta.stale is False
    assert calls(sandbox, "transit") == made
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)


@pytest.mark.parametrize("agency", AGENCY_IDS)
async def test_every_section_comes_back_from_the_cache_exactly(
    backend: CacheBackend, make_connector: ConnectorFactory, agency: str
) -> None:
    cache = SectionCache(backend)
    connector = await make_connector(agency)
    first = await cache.fetch(connector, ALICE)
    assert first is not None
    assert await cache.fetch(connector, ALICE) == first


async def test_no_account_is_cached_too(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    cache = SectionCache(backend)
    connector = await make_connector("library")
    no_library = next(p for p in PERSONAS if p.has("no_library")).card_number
    assert await cache.fetch(connector, no_library) is None
    reset_agency_stats(sandbox, "library")
    assert await cache.fetch(connector, no_library) is None
    assert calls(sandbox, "library") == 0


async def test_a_connector_without_ttl_is_never_cached(make_connector: ConnectorFactory, sandbox: Sandbox) -> None:
    cache = SectionCache(MemoryBackend())
    connector = await make_connector("health")
    connector.cache_ttl_seconds = 0
    await cache.fetch(connector, ALICE)
    reset_agency_stats(sandbox, "health")
    await cache.fetch(connector, ALICE)
    assert calls(sandbox, "health") > 0


async def test_concurrent_misses_make_one_agency_call(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    cache = SectionCache(backend)
    connector = await make_connector("health", headers={"X-Sandbox-Fault": "latency=100"})
    reset_agency_stats(sandbox, "health")
    results = await asyncio.gather(*(cache.fetch(connector, ALICE) for _ in range(100)))
    assert all(r == results[0] for r in results)
    paths = [i["path"] for i in agency_stats(sandbox, "health")["intervals"]]
    # One resident lookup, one visits page and one vaccinations page: once, not a hundred times.
    assert len(paths) == len(set(paths)) == 3, paths


async def test_a_failing_agency_gets_a_stale_copy_within_the_bound_then_the_error(
    backend: CacheBackend, make_connector: ConnectorFactory, clear_faults: Callable[..., None]
) -> None:
    cache = SectionCache(backend, stale_seconds=0.6)
    connector = await make_connector("transit")
    connector.cache_ttl_seconds = 1  # whole seconds, as in manifests
    fresh = await cache.fetch(connector, ALICE)
    assert isinstance(fresh, Transit)
    clear_faults("transit", error_status=503)
    await asyncio.sleep(1.1)  # past the TTL, within TTL + stale_seconds
    stale = await cache.fetch(connector, ALICE)
    assert isinstance(stale, Transit)
    assert stale.meta.stale is True
    assert stale.meta.fetched_at == fresh.meta.fetched_at  # says how old it is
    assert dataclasses.replace(stale, meta=fresh.meta) == fresh
    assert cache.stats.stale_served == 1
    await asyncio.sleep(0.6)  # past the bound: the failure shows
    with pytest.raises(AgencyUnavailable):
        await cache.fetch(connector, ALICE)


async def test_invalidation_by_citizen_section_and_purge(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox
) -> None:
    cache = SectionCache(backend)
    connector = await make_connector("library")
    transit = await make_connector("transit")

    async def reaches_agency() -> bool:
        reset_agency_stats(sandbox, "library")
        await cache.fetch(connector, ALICE)
        return calls(sandbox, "library") > 0

    assert await reaches_agency()
    assert not await reaches_agency()
    await cache.forget_citizen(ALICE, [transit])  # another section: library stays
    assert not await reaches_agency()
    await cache.forget_citizen(BOB, [connector])  # another citizen: Alice's stays
    assert not await reaches_agency()
    await cache.forget_citizen(ALICE, [connector])
    assert await reaches_agency()
    await cache.forget_section("library")
    assert await reaches_agency()
    await cache.purge()
    assert await reaches_agency()
    assert not await reaches_agency()


async def test_redis_holds_nothing_readable(redis_url: str, make_connector: ConnectorFactory) -> None:
    """Keys carry an HMAC of the card number, not a bare hash anyone can reverse by trying every
    12-digit number; values are sealed (AES-GCM), bound to their key."""
    keys = KeySet.parse(CACHE, generate("c1"))
    cache = SectionCache(RedisBackend(redis_url), keys=keys)
    connector = await make_connector("transit")
    section = await cache.fetch(connector, ALICE)
    assert isinstance(section, Transit)
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    names = [str(k) for k in await client.keys("*")]
    stored = {k: str(await client.get(k)) for k in names if ":s:" in k}
    assert names and stored
    bare = hashlib.sha256(ALICE.encode()).hexdigest()[:32]
    assert not any(ALICE in k or bare in k for k in names)
    text = " ".join(stored.values())
    assert "Bearer" not in text and "chb_" not in text and "access_token" not in text
    assert section.card_number not in text and str(section.balance) not in text  # nothing in the clear
    assert all(v.startswith("sealed.v1.c1.") for v in stored.values())

    # A value copied under another citizen's key does not open there: a miss, never their data.
    other = (await cache._keys("transit", ["card"], BOB))["card"]
    assert other is not None
    await client.set("cardhub:" + other, next(iter(stored.values())))
    await client.aclose()
    reset = await make_connector("transit")
    moved = await cache.fetch(reset, BOB)
    assert moved is None or getattr(moved, "card_number", None) != section.card_number

    # Another instance with the same key reads it; one with another key cannot.
    same = SectionCache(RedisBackend(redis_url), keys=keys)
    assert (await same._read(next(iter(stored)).removeprefix("cardhub:"), "transit")) is not None
    stranger = SectionCache(RedisBackend(redis_url), keys=KeySet.parse(CACHE, generate("c2")))
    assert (await stranger._read(next(iter(stored)).removeprefix("cardhub:"), "transit")) is None
    for made in (cache, same, stranger):
        await made.close()


async def test_redis_away_means_the_agency_is_read_and_nothing_breaks(make_connector: ConnectorFactory) -> None:
    cache = SectionCache(RedisBackend(f"redis://127.0.0.1:{free_port()}/0"))  # nothing listens there
    connector = await make_connector("transit")
    first = await cache.fetch(connector, ALICE)
    second = await cache.fetch(connector, ALICE)
    await cache.close()
    assert isinstance(first, Transit) and isinstance(second, Transit)
    assert first.card_number == second.card_number
    assert cache.stats.backend_errors >= 2
    assert cache.stats.hits == 0
