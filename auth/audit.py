"""The audit log: every access decision on citizen data, append-only and tamper-evident.

Each entry is chained to the one before it: ``hash = SHA-256(prev_hash || canonical entry)``. Changing
an entry breaks its own hash; deleting one breaks the next entry's link; ``verify`` walks the chain
and names the first entry that does not hold. (Cutting entries off the end leaves a shorter valid
chain: compare the head hash with a copy kept elsewhere to catch that; see docs/consent.md.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

GENESIS = "0" * 64


class Outcome:
    ALLOWED = "ALLOWED"  # the section was released to the client (the agency was asked)
    DENIED = "DENIED"  # refused before any agency call (no token scope, wrong citizen, ...)


class AuditEntry(Model):
    id = fields.BigIntField(primary_key=True)
    at_ms = fields.BigIntField()  # unix time in milliseconds: an integer hashes the same on every database
    request_id = fields.CharField(max_length=64)
    client_id = fields.CharField(max_length=64)
    citizen = fields.CharField(max_length=20)
    sections = fields.TextField()  # comma-separated, sorted
    outcome = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=64, default="")  # the error code for a denial
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_log"
        indexes = (
            # for_citizen(): a citizen's log, newest first (id order is time order), read a page at a
            # time. With id in the index the newest entries come straight off its end, however long
            # the citizen's history; append() and verify() walk the primary key.
            Index(fields=("citizen", "id"), name="audit_log_citizen_id"),
        )

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.at_ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Decision:
    citizen: str
    section: str
    outcome: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Broken:
    entry_id: int
    why: str


def entry_hash(prev_hash: str, at_ms: int, request_id: str, client_id: str, citizen: str,
               sections: str, outcome: str, reason: str) -> str:  # fmt: skip
    canonical = json.dumps(
        [prev_hash, at_ms, request_id, client_id, citizen, sections, outcome, reason],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# Appends in this process take turns, so each reads the head the one before it wrote; appends from
# several processes on one database take turns through a database lock (_lock_the_chain).
_append_lock = asyncio.Lock()

CHAIN_LOCK_KEY = 7_302_514_001  # PostgreSQL advisory lock id of the audit chain


async def _lock_the_chain(connection: BaseDBAsyncClient) -> None:
    """Hold the chain until this transaction ends, so no other process reads the same head.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a write that matches nothing, which
    still takes the database's write lock at once (a deferred transaction would take it only at its
    first insert, after two processes could both have read the same head); others wait for it.
    """
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})")
    else:
        await connection.execute_query("UPDATE audit_log SET hash = hash WHERE id < 0")


async def append(request_id: str, client_id: str, decisions: Iterable[Decision]) -> int:
    """Append one entry per (citizen, outcome, reason), all or nothing. Returns how many."""
    groups: dict[tuple[str, str, str], set[str]] = {}
    for d in decisions:
        groups.setdefault((d.citizen, d.outcome, d.reason), set()).add(d.section)
    if not groups:
        return 0
    at_ms = int(time.time() * 1000)
    async with _append_lock, in_transaction() as connection:
        await _lock_the_chain(connection)
        head = await AuditEntry.all().order_by("-id").only("hash").first()
        prev = head.hash if head else GENESIS
        for (citizen, outcome, reason), sections in sorted(groups.items()):
            joined = ",".join(sorted(sections))
            digest = entry_hash(prev, at_ms, request_id, client_id, citizen, joined, outcome, reason)
            await AuditEntry.create(
                at_ms=at_ms,
                request_id=request_id,
                client_id=client_id,
                citizen=citizen,
                sections=joined,
                outcome=outcome,
                reason=reason,
                prev_hash=prev,
                hash=digest,
            )
            prev = digest
    return len(groups)


async def verify(batch: int = 1000) -> tuple[int, Broken | None]:
    """Walk the chain from the start. Returns (entries checked, the first broken entry or None)."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = await AuditEntry.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            return checked, None
        for row in rows:
            if row.prev_hash != prev:
                return checked, Broken(row.id, "does not link to the entry before it (one was changed or removed)")
            expected = entry_hash(
                row.prev_hash, row.at_ms, row.request_id, row.client_id, row.citizen, row.sections, row.outcome,
                row.reason,
            )  # fmt: skip
            if row.hash != expected:
                return checked, Broken(row.id, "its contents do not match its hash (it was changed)")
            prev = row.hash
            checked += 1
            last_id = row.id


async def for_citizen(citizen: str, limit: int = 100) -> list[AuditEntry]:
    """A citizen's own access log, newest first: who read what, and what was refused."""
    return await AuditEntry.filter(citizen=citizen).order_by("-id").limit(limit)
