"""Where cached entries live: one small interface, an in-process backend and a Redis backend.

A backend stores opaque entries under string keys with an expiry, and a counter per name
(generations: bumping one makes every key built from it unreachable at once). It never sees a token.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


class CacheUnavailable(Exception):
    """The backend could not be reached; callers fall back to the agency."""


class CacheBackend(ABC):
    name: str

    @abstractmethod
    async def get(self, key: str) -> Any | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        """Several entries in one round trip where the backend can."""
        return [await self.get(k) for k in keys]

    @abstractmethod
    async def set(self, key: str, value: Any, expire_seconds: float) -> None: ...

    @abstractmethod
    async def delete(self, *keys: str) -> None: ...

    @abstractmethod
    async def count(self, name: str, window_seconds: float) -> int:
        """Add one to a counter that starts afresh ``window_seconds`` after its first count; return it."""

    @abstractmethod
    async def generation(self, name: str) -> int:
        """The counter's value (0 when never bumped)."""

    async def generations(self, names: Sequence[str]) -> list[int]:
        """Several counters in one round trip where the backend can."""
        return [await self.generation(n) for n in names]

    @abstractmethod
    async def bump(self, name: str) -> int:
        """Add one to the counter; return the new value."""

    async def close(self) -> None:
        return None


class MemoryBackend(CacheBackend):
    """A bounded LRU map in this process. Several hub processes each hold their own."""

    name = "memory"

    def __init__(self, max_entries: int = 100_000) -> None:
        self._entries: OrderedDict[str, tuple[Any, float]] = OrderedDict()
        self._counters: dict[str, int] = {}
        self._windows: dict[str, tuple[int, float]] = {}
        self._max_entries = max_entries

    async def get(self, key: str) -> Any | None:
        found = self._entries.get(key)
        if found is None:
            return None
        value, expires_at = found
        if expires_at <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: Any, expire_seconds: float) -> None:
        self._entries[key] = (value, time.monotonic() + expire_seconds)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def count(self, name: str, window_seconds: float) -> int:
        now = time.monotonic()
        value, expires_at = self._windows.get(name, (0, 0.0))
        if expires_at <= now:
            value, expires_at = 0, now + window_seconds
        self._windows[name] = (value + 1, expires_at)
        return value + 1

    async def generation(self, name: str) -> int:
        return self._counters.get(name, 0)

    async def bump(self, name: str) -> int:
        self._counters[name] = self._counters.get(name, 0) + 1
        return self._counters[name]

    def __len__(self) -> int:
        return len(self._entries)
