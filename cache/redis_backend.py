"""The Redis backend: one cache for every hub instance. Values are JSON text (cache/codec.py).

Redis is an optimisation, never a dependency of correctness: every failure becomes
``CacheUnavailable`` quickly (short socket timeouts), and the caller reads the agency instead. The
client reconnects by itself when the server is back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cache.backend import CacheBackend, CacheUnavailable

PREFIX = "cardhub:"


class RedisBackend(CacheBackend):
    name = "redis"

    def __init__(self, url: str, timeout_seconds: float = 0.25) -> None:
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry_on_timeout=False,
            health_check_interval=30,
        )

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self._redis.get(PREFIX + key)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)

    async def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        if not keys:
            return []
        try:
            raws = await self._redis.mget([PREFIX + k for k in keys])
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        return [None if r is None else r.decode() if isinstance(r, bytes) else str(r) for r in raws]

    async def set(self, key: str, value: Any, expire_seconds: float) -> None:
        try:
            await self._redis.set(PREFIX + key, value, px=max(1, int(expire_seconds * 1000)))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._redis.delete(*(PREFIX + k for k in keys))
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc

    async def count(self, name: str, window_seconds: float) -> int:
        key = PREFIX + "count:" + name
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.pexpire(key, max(1, int(window_seconds * 1000)), nx=True)
                value, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        return int(value)

    async def generation(self, name: str) -> int:
        try:
            raw = await self._redis.get(PREFIX + "gen:" + name)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        return int(raw) if raw is not None else 0

    async def generations(self, names: Sequence[str]) -> list[int]:
        try:
            raws = await self._redis.mget([PREFIX + "gen:" + n for n in names])
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        return [int(r) if r is not None else 0 for r in raws]

    async def bump(self, name: str) -> int:
        try:
            value: int = await self._redis.incr(PREFIX + "gen:" + name)
        except (RedisError, OSError) as exc:
            raise CacheUnavailable(f"redis: {type(exc).__name__}") from exc
        return value

    async def close(self) -> None:
        await self._redis.aclose()
