"""Cache fixtures: a section cache on each backend, Redis on 127.0.0.1:6379 where it runs."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from cache.backend import CacheBackend, MemoryBackend
from cache.redis_backend import RedisBackend

REDIS_TEST_URL = "redis://127.0.0.1:6379/15"  # a database of its own, emptied by each test


def redis_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


async def _empty_redis() -> None:
    client = aioredis.Redis.from_url(REDIS_TEST_URL)
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    await _empty_redis()
    yield REDIS_TEST_URL
    await _empty_redis()


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[CacheBackend]:
    if request.param == "memory":
        yield MemoryBackend()
        return
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    await _empty_redis()
    made = RedisBackend(REDIS_TEST_URL)
    yield made
    await made.close()
    await _empty_redis()
