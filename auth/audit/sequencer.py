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
from auth.audit.checkpoints import AuditCheckpoint, CheckpointSigner
from auth.audit.records import AuditRecord

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
    when there were none. ``on_batch`` runs inside the transaction, before it commits (tests)."""
    async with _in_process, in_transaction() as connection:
        await _lock_batch(connection)
        head = await AuditCheckpoint.all().using_db(connection).order_by("-tree_size").first()
        size = head.tree_size if head else 0
        pending = await AuditRecord.filter(seq=None).using_db(connection).order_by("id").limit(limit)
        if not pending:
            return None
        edge = await tree.frontier(size, connection)
        if head is not None and edge.root() != bytes(head.root):
            raise TreeMismatch(f"the stored tree of size {size} does not match its signed checkpoint")
        new_nodes = edge.extend(r.leaf() for r in pending)
        await _assign(connection, [[size + i, r.id] for i, r in enumerate(pending)])
        await tree.AuditNode.bulk_create(
            [tree.AuditNode(level=lv, index=ix, hash=h) for lv, ix, h in new_nodes], using_db=connection
        )
        root = edge.root()
        await AuditCheckpoint.create(
            tree_size=edge.size,
            root=root,
            at_ms=int(time.time() * 1000),
            key_id=signer.kid,
            note=signer.sign(edge.size, root),
            using_db=connection,
        )
        batch = Batch(size, edge.size, len(pending))
        if on_batch is not None:
            await on_batch(batch)
        return batch


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


async def _assign(connection: BaseDBAsyncClient, pairs: list[list[Any]]) -> None:
    mark = "$1, $2" if connection.capabilities.dialect == "postgres" else "?, ?"
    first, second = mark.split(", ")
    await connection.execute_many(f"UPDATE audit_record SET seq = {first} WHERE id = {second}", pairs)


async def look() -> tuple[int, int, float]:
    """(tree size, records waiting (up to BATCH_SIZE), age in seconds of the oldest waiting)."""
    head = await AuditCheckpoint.all().order_by("-tree_size").only("tree_size").first()
    waiting = await AuditRecord.filter(seq=None).order_by("id").limit(BATCH_SIZE).values_list("at_ms", flat=True)
    oldest = min((int(str(at)) for at in waiting), default=None)
    lag = max(0.0, time.time() - oldest / 1000) if oldest is not None else 0.0
    return (head.tree_size if head else 0), len(waiting), lag


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
                        if leader:
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
