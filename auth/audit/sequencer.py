"""The sequencer: integrates new access records into the Merkle tree in batches and signs a checkpoint.

Like the sequencers of Trillian/Tessera and Rekor (and CT's "merge delay", RFC 9162 4.1), writes do
not wait for the tree: a request commits its record with a plain insert and leaves; the sequencer
picks up what arrived, at least once a second, gives each record its leaf index, stores the new
nodes, and signs the new tree head, all in one transaction. A crash at any point rolls that
transaction back: nothing is lost (the records are still there, unsequenced) and nothing is doubled
(the next batch starts from the last signed checkpoint).

One sequencer at a time:
- PostgreSQL: the leader holds a session advisory lock on a connection of its own; the others
  follow (they only report the lag) and take over when the leader's connection goes. Each batch
  also takes a transaction advisory lock, so even two leaders could never interleave.
- SQLite: each process sequences, and a batch's first statement takes the database's write lock,
  so batches from several processes run one after another; within a process, one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from auth.audit import tree
from auth.audit.checkpoints import CheckpointSigner
from auth.audit.records import AuditRecord
from telemetry import metrics

log = logging.getLogger("cardhub.audit")

LEADER_LOCK = 7_302_514_101  # pg_advisory_lock key held by the leading instance
BATCH_LOCK = 7_302_514_102  # pg_advisory_xact_lock key held by each batch
INTERVAL_SECONDS = 0.25
BATCH_SIZE = 5000
LAG_LIMIT_SECONDS = 10.0  # /readyz reports the log as behind past this

_in_process = asyncio.Lock()


class TreeMismatch(Exception):
    """The stored tree does not lead to the last signed root: the sequencer stops rather than extend it."""


@dataclass(frozen=True, slots=True)
class Batch:
    first: int  # leaf index of the batch's first record
    size: int  # tree size after it
    count: int


@dataclass(frozen=True, slots=True)
class Status:
    leader: bool
    tree_size: int
    pending: int  # records not yet in the tree (counted up to BATCH_SIZE)
    lag_seconds: float  # age of the oldest record not yet in the tree
    checked_at: float  # time.monotonic() of the last look
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "leader": self.leader,
            "tree_size": self.tree_size,
            "pending": self.pending,
            "lag_seconds": round(self.lag_seconds, 3),
            "error": self.error,
        }

    @property
    def ok(self) -> bool:
        stale = time.monotonic() - self.checked_at > LAG_LIMIT_SECONDS
        return self.error is None and not stale and self.lag_seconds <= LAG_LIMIT_SECONDS


OnBatch = Callable[[Batch], Awaitable[None]]


async def integrate(signer: CheckpointSigner, limit: int = BATCH_SIZE, on_batch: OnBatch | None = None) -> Batch | None:
    """One batch: the oldest unsequenced records, in id order, become the next leaves; returns None
    when there were none. ``on_batch`` runs inside the transaction, before it commits (tests).

    Plain SQL throughout, as ``look``: this runs in the background of every hub, and builds no ORM
    executor (tortoise caches each table's INSERT per connection name, whatever the database)."""
    async with _in_process, in_transaction() as connection:
        await _lock_batch(connection)
        mark = _marks(connection)
        _, heads = await connection.execute_query(
            "SELECT tree_size, root FROM audit_checkpoint ORDER BY tree_size DESC LIMIT 1"
        )
        size = int(heads[0]["tree_size"]) if heads else 0
        _, rows = await connection.execute_query(
            f"SELECT {RECORD_COLUMNS} FROM audit_record WHERE seq IS NULL ORDER BY id LIMIT {int(limit)}"
        )
        if not rows:
            return None
        pending = [AuditRecord(**dict(row)) for row in rows]
        edge = await tree.frontier(size, connection)
        if heads and edge.root() != bytes(heads[0]["root"]):
            raise TreeMismatch(f"the stored tree of size {size} does not match its signed checkpoint")
        new_nodes = edge.extend(r.leaf() for r in pending)
        await connection.execute_many(
            f"UPDATE audit_record SET seq = {mark(1)} WHERE id = {mark(2)}",
            [[size + i, r.id] for i, r in enumerate(pending)],
        )
        await connection.execute_many(
            f'INSERT INTO audit_node (level, "index", hash) VALUES ({mark(1)}, {mark(2)}, {mark(3)})',
            [[lv, ix, h] for lv, ix, h in new_nodes],
        )
        root = edge.root()
        await connection.execute_query(
            "INSERT INTO audit_checkpoint (tree_size, root, at_ms, key_id, note) "
            f"VALUES ({mark(1)}, {mark(2)}, {mark(3)}, {mark(4)}, {mark(5)})",
            [edge.size, root, int(time.time() * 1000), signer.kid, signer.sign(edge.size, root)],
        )
        batch = Batch(size, edge.size, len(pending))
        if on_batch is not None:
            await on_batch(batch)
        return batch


RECORD_COLUMNS = "id, at_ms, request_id, client_id, citizen, sections, outcome, reason, nonce, seq"


def _marks(connection: BaseDBAsyncClient) -> Callable[[int], str]:
    if connection.capabilities.dialect == "postgres":
        return lambda n: f"${n}"
    return lambda n: "?"


async def catch_up(signer: CheckpointSigner, limit: int = BATCH_SIZE) -> int:
    """Integrate until nothing is waiting; returns how many records were sequenced."""
    done = 0
    while (batch := await integrate(signer, limit)) is not None:
        done += batch.count
    return done


async def _lock_batch(connection: BaseDBAsyncClient) -> None:
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(f"SELECT pg_advisory_xact_lock({BATCH_LOCK})")
    else:  # a write that matches nothing takes SQLite's write lock now, not at the first real write
        await connection.execute_query("UPDATE audit_checkpoint SET id = id WHERE id < 0")


async def look() -> tuple[int, int, float]:
    """(tree size, records waiting (up to BATCH_SIZE), age in seconds of the oldest waiting).

    Plain SQL: it runs every tick in every instance, and builds no ORM executor (tortoise caches each
    table's INSERT per connection name, whatever the database: a process holding two, as tests do,
    would otherwise get the other one's placeholders)."""
    client = connections.get("default")
    _, head = await client.execute_query("SELECT MAX(tree_size) AS size FROM audit_checkpoint")
    _, waiting = await client.execute_query(
        f"SELECT at_ms FROM audit_record WHERE seq IS NULL ORDER BY id LIMIT {BATCH_SIZE}"
    )
    oldest = min((int(row["at_ms"]) for row in waiting), default=None)
    lag = max(0.0, time.time() - oldest / 1000) if oldest is not None else 0.0
    return int(head[0]["size"] or 0) if head else 0, len(waiting), lag


class Sequencer:
    """The background task of a hub: leads when it can, integrates every ``interval``, reports its state."""

    def __init__(self, signer: CheckpointSigner, *, interval: float = INTERVAL_SECONDS) -> None:
        self.signer = signer
        self.interval = interval
        self._task: asyncio.Task[None] | None = None
        self.status = Status(False, 0, 0, 0.0, time.monotonic())

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="audit-sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        while True:
            try:
                async with self._leadership() as lead:
                    while True:
                        leader = await lead()
                        await self._observe(leader)
                        if leader and self.status.pending:  # the ORM only when there is work (see look)
                            await catch_up(self.signer)
                            await self._observe(leader)
                        await asyncio.sleep(self.interval)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away, or the tree is damaged: report, retry
                log.exception("audit sequencer failed; retrying")
                self.status = Status(False, self.status.tree_size, self.status.pending, self.status.lag_seconds,
                                     time.monotonic(), type(exc).__name__)  # fmt: skip
                await asyncio.sleep(max(self.interval, 1.0))

    async def _observe(self, leader: bool) -> None:
        size, pending, lag = await look()
        self.status = Status(leader, size, pending, lag, time.monotonic())
        metrics.audit_sequencer(lag, pending)

    @contextlib.asynccontextmanager
    async def _leadership(self) -> AsyncIterator[Callable[[], Awaitable[bool]]]:
        """Yields ``lead()``: whether this instance leads now (trying to, when it does not)."""
        client = connections.get("default")
        if client.capabilities.dialect != "postgres":

            async def always() -> bool:
                return True

            yield always
            return
        async with client.acquire_connection() as connection:
            held = False

            async def lead() -> bool:
                nonlocal held
                if held:  # raises when the session, and with it the lock, is gone
                    await connection.fetchval("SELECT 1")
                else:
                    held = bool(await connection.fetchval(f"SELECT pg_try_advisory_lock({LEADER_LOCK})"))
                return held

            try:
                yield lead
            finally:
                if held:
                    with contextlib.suppress(Exception):
                        await connection.execute(f"SELECT pg_advisory_unlock({LEADER_LOCK})")
