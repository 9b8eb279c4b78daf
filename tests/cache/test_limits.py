"""A connector's rate limit counted across instances through Redis."""

from __future__ import annotations

import time

import pytest

from cache.backend import MemoryBackend
from cache.limits import SharedRate
from cache.redis_backend import RedisBackend
from connectors.errors import AgencyRateLimited
from tests.conftest import ConnectorFactory


async def test_two_instances_share_one_budget_per_second(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.25)  # one and the same second
    one, other = RedisBackend(redis_url), RedisBackend(redis_url)
    try:
        first, second = SharedRate(one), SharedRate(other)
        pauses = [await (first if k % 2 else second).allow("transit", 3) for k in range(10)]
    finally:
        await one.close()
        await other.close()
    assert pauses[:3] == [0.0, 0.0, 0.0]  # three calls in that second, whichever instance made them
    assert all(p == pytest.approx(0.75) for p in pauses[3:])  # the rest wait for the next second


async def test_a_call_the_shared_budget_cannot_fit_in_its_timeout_is_refused_unsent(
    make_connector: ConnectorFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    connector = await make_connector("health", timeout_seconds=0.5)
    client = connector.client
    object.__setattr__(client.endpoint, "rate_limit", (1.0, 10))  # the manifest's rate_limit
    client._limiter = None  # only the shared budget here
    spent = SharedRate(MemoryBackend())
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)
    await spent.allow("health", 1)  # another instance used this second's call
    client.shared_rate = spent  # what LiveConnectors gives each client when the cache is shared
    sent = client.stats.calls
    with pytest.raises(AgencyRateLimited):
        await client.get("/openapi.json")
    assert client.stats.last_error == "RATE_LIMITED"
    assert client.stats.calls == sent + 1  # counted as a refused call, never sent
