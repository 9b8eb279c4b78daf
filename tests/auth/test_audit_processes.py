"""The access log across processes, on SQLite and on PostgreSQL (where it runs): three hubs' worth of
appends and sequencers at once leave no gap and no duplicate; a sequencer killed mid-batch (SIGKILL)
loses and doubles nothing."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from tests.production import CHECKPOINT_KEY

PRELUDE = f"""
import asyncio, json, sys
from auth import audit
from auth.audit import sequencer
from auth.audit.checkpoints import CheckpointSigner
from auth.audit.records import AuditRecord, Decision
from auth.audit.verify import verify
from hub import database
from keys.keyring import CHECKPOINT, KeySet

SIGNER = CheckpointSigner.from_keys(KeySet.parse(CHECKPOINT, {CHECKPOINT_KEY!r}), "https://hub.example")
"""

WRITER = (
    PRELUDE
    + """
async def main(url: str, n: int, tag: str) -> None:
    async with database.connected(url):
        running = sequencer.Sequencer(SIGNER, interval=0.05)  # every process runs one, as every hub does
        running.start()
        for i in range(n):
            await audit.append(f"{tag}-{i}", "writer-" + tag, [Decision("350200000001", "transit", "ALLOWED")])
            if i % 10 == 0:
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        await running.stop()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""
)

CHECK = (
    PRELUDE
    + """
async def main(url: str) -> None:
    async with database.connected(url):
        await sequencer.catch_up(SIGNER)
        report = await verify(SIGNER.verifier_keys())
        seqs = await AuditRecord.all().order_by("seq").values_list("seq", flat=True)
        ids = await AuditRecord.all().values_list("request_id", flat=True)
        print(json.dumps({"fault": str(report.fault) if report.fault else None, "seqs": seqs,
                          "unique_requests": len(set(ids)), "count": len(ids)}))

asyncio.run(main(sys.argv[1]))
"""
)

SLOW_SEQUENCER = (
    PRELUDE
    + """
async def main(url: str) -> None:
    async def stall(batch: sequencer.Batch) -> None:
        print(json.dumps({"mid_batch": batch.count}), flush=True)
        await asyncio.sleep(60)  # inside the transaction: the test kills the process here

    async with database.connected(url):
        await sequencer.integrate(SIGNER, 10_000, on_batch=stall)

asyncio.run(main(sys.argv[1]))
"""
)

FILL = (
    PRELUDE
    + """
async def main(url: str, n: int, tag: str) -> None:
    async with database.connected(url):
        for i in range(n):
            await audit.append(f"{tag}-{i}", "app", [Decision("350200000001", "transit", "ALLOWED")])

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""
)
PROCESSES, EACH = 3, 60


async def run(*args: str) -> str:
    """In a process of its own: this one's models are bound to the test session's hub database."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def appended_by_processes(url: str) -> dict[str, object]:
    await run(FILL, url, "0", "none")  # the schema, before the writers race for it
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, str(EACH), str(k), stderr=asyncio.subprocess.PIPE
        )
        for k in range(PROCESSES)
    ]
    for writer in writers:
        _, err = await asyncio.wait_for(writer.communicate(), 120)
        assert writer.returncode == 0, err.decode()
    result: dict[str, object] = json.loads(await run(CHECK, url))
    return result


def assert_whole(result: dict[str, object], total: int) -> None:
    assert result["fault"] is None
    assert result["seqs"] == list(range(total))  # no gap, no duplicate
    assert result["count"] == result["unique_requests"] == total


async def test_concurrent_writers_and_sequencers_on_sqlite(tmp_path: Path) -> None:
    assert_whole(await appended_by_processes(f"sqlite://{tmp_path / 'audit.sqlite3'}"), PROCESSES * EACH)


async def test_concurrent_writers_and_sequencers_on_postgresql(postgres_url: str) -> None:
    assert_whole(await appended_by_processes(postgres_url), PROCESSES * EACH)


async def killed_mid_batch(url: str) -> dict[str, object]:
    await run(FILL, url, "500", "before")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SLOW_SEQUENCER, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert json.loads(line) == {"mid_batch": 500}  # the batch is written, not committed
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL
    await run(FILL, url, "20", "after")  # the hub went on recording meanwhile
    result: dict[str, object] = json.loads(await run(CHECK, url))
    return result


async def test_a_sequencer_killed_mid_batch_loses_and_doubles_nothing_on_sqlite(tmp_path: Path) -> None:
    assert_whole(await killed_mid_batch(f"sqlite://{tmp_path / 'killed.sqlite3'}"), 520)


async def test_a_sequencer_killed_mid_batch_loses_and_doubles_nothing_on_postgresql(postgres_url: str) -> None:
    assert_whole(await killed_mid_batch(postgres_url), 520)
