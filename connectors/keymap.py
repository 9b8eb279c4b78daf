"""The agency's own key for a citizen (an e-tong card number, a library patron id), remembered.

Some agencies answer by their own key, found by a first lookup by citizen card number. Knowing the
key from an earlier request lets an adapter send the lookup and the keyed calls at the same time;
the adapter still checks the lookup's answer against the key it used and discards keyed results
that do not match, so a stale entry costs one more round trip and never shows another person's data.
Holds identifiers only, never profile data.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Generic, TypeVar

from connectors.errors import AgencyError

T = TypeVar("T")
V = TypeVar("V")


async def outcome(call: Awaitable[T]) -> T | AgencyError:
    """A keyed call made on a remembered key: its failure matters only if the key is still right."""
    try:
        return await call
    except AgencyError as exc:
        return exc


class KeyMap(Generic[V]):
    def __init__(self, max_entries: int = 100_000, ttl_seconds: float = 3600.0) -> None:
        self._entries: OrderedDict[str, tuple[V, float]] = OrderedDict()
        self._max_entries = max_entries
        self._ttl = ttl_seconds

    def get(self, card_number: str) -> V | None:
        entry = self._entries.get(card_number)
        if entry is None:
            return None
        key, expires_at = entry
        if expires_at < time.monotonic():
            del self._entries[card_number]
            return None
        self._entries.move_to_end(card_number)
        return key

    def put(self, card_number: str, key: V) -> None:
        self._entries[card_number] = (key, time.monotonic() + self._ttl)
        self._entries.move_to_end(card_number)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget(self, card_number: str) -> None:
        self._entries.pop(card_number, None)

    def __len__(self) -> int:
        return len(self._entries)
