"""The circuit: an agency failing again and again is spared for a moment, on every instance sharing
the backend; reads meanwhile get a stale copy or fail at once instead of waiting out the timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from cache.backend import CacheBackend
from cache.redis_backend import RedisBackend
from cache.sections import Circuit, SectionCache
from connectors.domain import Transit
from connectors.errors import AgencyUnavailable
from sandbox.personas import PERSONAS
from sandbox.runner import Sandbox
from tests.cache.conftest import REDIS_TEST_URL
from tests.cache.test_sections import calls
from tests.conftest import ConnectorFactory, reset_agency_stats

CARDS = [p.card_number for p in PERSONAS[:8]]
QUICK = Circuit(failures=3, window_seconds=30, open_seconds=0.6)


async def test_repeated_failures_open_the_circuit_then_it_closes(
    backend: CacheBackend, make_connector: ConnectorFactory, sandbox: Sandbox, clear_faults: Callable[..., None]
) -> None:
    cache = SectionCache(backend, circuit=QUICK)
    connector = await make_connector("transit")
    clear_faults("transit", error_status=503)
    for card in CARDS[:3]:
        with pytest.raises(AgencyUnavailable, match="HTTP 503"):
            await cache.fetch(connector, card)
    reset_agency_stats(sandbox, "transit")
    with pytest.raises(AgencyUnavailable, match="sparing it"):
        await cache.fetch(connector, CARDS[3])
    assert calls(sandbox, "transit") == 0  # not called while open
    assert cache.stats.circuit_refusals == 1

    clear_faults("transit")  # the agency is back
    await asyncio.sleep(0.7)
    assert isinstance(await cache.fetch(connector, CARDS[4]), Transit)


async def test_an_open_circuit_still_serves_stale_copies(
    backend: CacheBackend, make_connector: ConnectorFactory, clear_faults: Callable[..., None]
) -> None:
    cache = SectionCache(backend, circuit=QUICK)
    connector = await make_connector("transit")
    connector.cache_ttl_seconds = 1
    kept = await cache.fetch(connector, CARDS[0])
    assert isinstance(kept, Transit)
    clear_faults("transit", error_status=503)
    for card in CARDS[1:4]:
        with pytest.raises(AgencyUnavailable):
            await cache.fetch(connector, card)
    await asyncio.sleep(1.1)
    stale = await cache.fetch(connector, CARDS[0])
    assert isinstance(stale, Transit) and stale.meta.stale is True


async def test_instances_sharing_redis_share_the_circuit(
    redis_url: str, make_connector: ConnectorFactory, sandbox: Sandbox, clear_faults: Callable[..., None]
) -> None:
    one, other = (
        SectionCache(RedisBackend(REDIS_TEST_URL), circuit=QUICK),
        SectionCache(RedisBackend(redis_url), circuit=QUICK),
    )
    connector = await make_connector("transit")
    clear_faults("transit", error_status=503)
    try:
        for card in CARDS[:3]:
            with pytest.raises(AgencyUnavailable):
                await one.fetch(connector, card)
        reset_agency_stats(sandbox, "transit")
        with pytest.raises(AgencyUnavailable, match="sparing it"):
            await other.fetch(connector, CARDS[5])  # never failed itself
        assert calls(sandbox, "transit") == 0
    finally:
        await one.close()
        await other.close()
