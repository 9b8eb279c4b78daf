"""Group commit: the rows of concurrent callers share one transaction.

A caller's rows are queued; whoever finds no transaction in flight starts one, and every row queued
while a transaction runs goes into the next. Each caller still waits for the commit that carries its
own rows, and hears of its failure. Under load the database sees one insert statement and one commit
per round instead of one transaction per caller; alone, a caller waits for its own transaction only.

Used for the access log (``auth/audit/group.py``) and for client-credentials tokens
(``auth/oauth/client_credentials.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tortoise.models import Model
from tortoise.transactions import in_transaction

M = TypeVar("M", bound=Model)
MAX_ROUND = 500  # rows per transaction: a bound on one statement's size


@dataclass
class _Queued(Generic[M]):
    rows: Sequence[M]
    committed: asyncio.Future[int]


@dataclass
class GroupCommit(Generic[M]):
    model: type[M]
    max_round: int = MAX_ROUND
    rounds: int = 0  # transactions committed (for tests and benchmarks)
    _queue: list[_Queued[M]] = field(default_factory=list)
    _running: asyncio.Task[None] | None = None

    async def insert(self, rows: Sequence[M]) -> int:
        """Insert ``rows`` (unsaved instances of ``model``); returns once they are committed (how many)."""
        if not rows:
            return 0
        committed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(rows, committed))
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._commit_rounds())
        return await committed

    async def _commit_rounds(self) -> None:
        while self._queue:
            batch: list[_Queued[M]] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].rows) <= self.max_round):
                queued = self._queue.pop(0)
                batch.append(queued)
                size += len(queued.rows)
            try:
                async with in_transaction():
                    await self.model.bulk_create([r for q in batch for r in q.rows])
            except Exception as exc:
                for queued in batch:
                    if not queued.committed.done():
                        queued.committed.set_exception(exc)
                continue
            self.rounds += 1
            for queued in batch:
                if not queued.committed.done():  # a caller that went away (its budget) still has its rows
                    queued.committed.set_result(len(queued.rows))
