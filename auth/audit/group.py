"""Group commit for the access log: the records of concurrent requests share one transaction.

A request's records are queued; whoever finds no transaction in flight starts one, and every record
queued while a transaction runs goes into the next. Each caller still waits for the commit that
carries its own records, and hears of its failure (the response is then withheld, fail closed:
schema/extensions/audit_trail.py). Under load the database sees one insert statement and one commit
per round instead of one transaction per request; alone, a request waits for its own transaction only.

The records are the plain inserts of ``auth/audit/records.py``; the sequencer places them in the tree
later, as it does for any insert.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from tortoise.transactions import in_transaction

from auth.audit.records import AuditRecord, Decision, rows

MAX_ROUND = 500  # records per transaction: a bound on one statement's size


@dataclass
class _Queued:
    records: list[AuditRecord]
    committed: asyncio.Future[int]


@dataclass
class GroupCommit:
    max_round: int = MAX_ROUND
    rounds: int = 0  # transactions committed (for tests and benchmarks)
    _queue: list[_Queued] = field(default_factory=list)
    _running: asyncio.Task[None] | None = None

    async def append(self, request_id: str, client_id: str, decisions: Iterable[Decision]) -> int:
        """Record the request's decisions; returns once they are committed (how many records)."""
        records = rows(request_id, client_id, decisions)
        if not records:
            return 0
        committed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(records, committed))
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._commit_rounds())
        return await committed

    async def _commit_rounds(self) -> None:
        while self._queue:
            batch: list[_Queued] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].records) <= self.max_round):
                queued = self._queue.pop(0)
                batch.append(queued)
                size += len(queued.records)
            try:
                async with in_transaction():
                    await AuditRecord.bulk_create([r for q in batch for r in q.records])
            except Exception as exc:
                for queued in batch:
                    if not queued.committed.done():
                        queued.committed.set_exception(exc)
                continue
            self.rounds += 1
            for queued in batch:
                if not queued.committed.done():  # a request that went away (its budget) still has its record
                    queued.committed.set_result(len(queued.records))
