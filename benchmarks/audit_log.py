"""``make bench``: the access log on PostgreSQL: what a read's audit append costs, and how many records a
second the sequencer integrates (and signs a checkpoint for).

- append: one read's records (two rows: what was released, what was refused), one after another, p50
  and p99; then from 32 tasks at once (what many requests of one instance do), records per second.
  For comparison, the first release's chained append (advisory lock, read the head, insert) on the
  same database.
- sequencer: 20,000 waiting records integrated in batches of 5,000, records per second.

Runs in a database of its own (created and dropped). Not a test: record the numbers in
docs/performance.md. ``--url`` picks another PostgreSQL server.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time

import asyncpg
from tortoise.transactions import in_transaction

from auth.audit import sequencer
from auth.audit.checkpoints import CheckpointSigner
from auth.audit.legacy import entry_hash
from auth.audit.records import AuditRecord, Decision, Outcome, append, new_nonce
from hub import database
from keys.keyring import CHECKPOINT, KeySet

SERVER = "postgres://postgres@127.0.0.1:5432"
DECISIONS = [Decision("350200000001", "transit", Outcome.ALLOWED), Decision("350200000001", "health", Outcome.DENIED)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def chained_append(request_id: str) -> None:
    """The first release's write path, for comparison: every append of every instance takes one lock."""
    async with in_transaction() as connection:
        await connection.execute_query("SELECT pg_advisory_xact_lock(7302514001)")
        head = await AuditRecord.all().order_by("-id").only("nonce").first()
        prev = head.nonce if head else "0" * 64
        for d in DECISIONS:
            digest = entry_hash(prev, 1, request_id, "bench", d.citizen, d.section, d.outcome, d.reason)
            await AuditRecord.create(
                at_ms=1, request_id=request_id, client_id="bench", citizen=d.citizen, sections=d.section,
                outcome=d.outcome, reason=d.reason, nonce=digest[:32],
            )  # fmt: skip
            prev = digest


async def timed(n: int, write: object) -> list[float]:
    samples = []
    for i in range(n):
        started = time.perf_counter()
        await write(f"b-{i}")  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def concurrent(total: int, tasks: int, write: object) -> float:
    async def worker(k: int) -> None:
        for i in range(total // tasks):
            await write(f"c-{k}-{i}")  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(worker(k) for k in range(tasks)))
    return total * len(DECISIONS) / (time.perf_counter() - started)


async def main(server: str) -> None:
    name = f"cardhub_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(f"{server}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        async with database.connected(f"{server}/{name}"):
            await run()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def run() -> None:
    async def plain(request_id: str) -> None:
        await append(request_id, "bench", DECISIONS)

    await timed(200, plain)  # warm the pool
    for label, write in (("plain insert (now)", plain), ("chained (before)", chained_append)):
        samples = await timed(2000, write)
        rate = await concurrent(4000, 32, write)
        print(f"audit append, {label:18}: p50 {statistics.median(samples):.2f} ms, "
              f"p99 {percentile(samples, 99):.2f} ms; 32 tasks: {rate:,.0f} records/s", flush=True)  # fmt: skip
    signer = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "https://bench.example")
    await sequencer.catch_up(signer)
    rows = [AuditRecord(at_ms=1, request_id=f"s-{i}", client_id="bench", citizen="350200000001",
                        sections="transit", outcome="ALLOWED", nonce=new_nonce()) for i in range(20_000)]  # fmt: skip
    await AuditRecord.bulk_create(rows, batch_size=2000)
    started = time.perf_counter()
    done = await sequencer.catch_up(signer, limit=5000)
    elapsed = time.perf_counter() - started
    print(f"sequencer: {done:,} records in {elapsed:.2f} s: {done / elapsed:,.0f} records/s "
          f"(target 2,000), {done // 5000} checkpoints signed", flush=True)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=SERVER, help="PostgreSQL server (no database name)")
    args = parser.parse_args()
    try:
        asyncio.run(main(args.url))
    except OSError as exc:
        print(f"audit_log benchmark: PostgreSQL is not reachable: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
