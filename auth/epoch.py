"""The revocation epoch: token, registry and consent lookups served from process memory, kept exact.

Every change that may take access away (a token revoked, a consent withdrawn, paused, narrowed or
expired, a client disabled or deleted, a citizen or card changed, a trusted document revoked) bumps
one counter in the hub's own database, ``revocation_epoch``. Database triggers do it
(hub/migrations/0008_revocation_epoch.py), in the same transaction as the change, so no code path,
process or operator's SQL can change access without bumping it, and no request can see the new epoch
before the change is visible.

A request reads the epoch once, first (``Memory.fence``). If it moved, the process drops everything it
remembered; lookups then read the database and fill memory again under the new epoch. A lookup read
under an older epoch than memory's is served and not kept. So on every instance, the first request
that starts after a revocation commits sees it: no window, no time-to-live.

If the epoch cannot be read (a database without the table, a failing query), the request gets no
fence: every lookup goes to the database, as if there were no memory at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar, cast

from tortoise import connections

log = logging.getLogger("cardhub.epoch")

T = TypeVar("T")
MAX_ENTRIES = 50_000  # a bound on memory: past it, memory starts afresh (a burst of database reads)


class EpochStore(Protocol):
    """Where the epoch lives. It must move in the same commit as the change it announces."""

    async def read(self) -> int: ...


class DatabaseEpoch:
    """``revocation_epoch`` in the hub's database (PostgreSQL or SQLite), bumped by triggers."""

    async def read(self) -> int:
        _, rows = await connections.get("default").execute_query("SELECT value FROM revocation_epoch WHERE id = 1")
        if not rows:
            raise LookupError("revocation_epoch has no row")
        return int(rows[0]["value"])


@dataclass
class Memory:
    """One process's remembered lookups, and the epoch they were read under."""

    store: EpochStore | None = field(default_factory=DatabaseEpoch)
    max_entries: int = MAX_ENTRIES
    epoch: int | None = None
    entries: dict[Hashable, object] = field(default_factory=dict)
    failures: int = 0  # epoch reads that failed, each served from the database

    async def fence(self) -> Fence:
        """Read the epoch (once per request) and drop what memory holds if it moved."""
        if self.store is None:
            return NO_FENCE
        try:
            epoch = await self.store.read()
        except Exception as exc:
            self.failures += 1
            # Forget everything too: what changed while the epoch could not be read is unknown.
            self.entries, self.epoch = {}, None
            if self.failures == 1 or self.failures % 1000 == 0:
                log.warning("revocation epoch unavailable (%s); lookups read the database", type(exc).__name__)
            return NO_FENCE
        if epoch != self.epoch:
            self.entries = {}
            self.epoch = epoch
        return Fence(self, epoch)


@dataclass(frozen=True, slots=True)
class Fence:
    """A request's view of memory: usable only while memory is at the epoch the request read."""

    memory: Memory | None
    epoch: int | None

    async def lookup(self, key: Hashable, load: Callable[[], Awaitable[T]], *, keep_none: bool = True) -> T:
        """``load()``'s value, remembered under ``key`` while the epoch holds (``keep_none=False``: an
        absence is not remembered, so guessed keys cannot fill memory)."""
        memory = self.memory
        if memory is None or memory.epoch != self.epoch:
            return await load()
        if key in memory.entries:
            return cast(T, memory.entries[key])
        value = await load()
        if value is None and not keep_none:
            return value
        if memory.epoch == self.epoch:  # not kept if a newer epoch came meanwhile: it may predate it
            if len(memory.entries) >= memory.max_entries:
                memory.entries = {}
            memory.entries[key] = value
        return value


NO_FENCE = Fence(None, None)
"""No memory: every lookup reads the database (CLI, tests, an unreadable epoch)."""
