"""The audit hash chain stays whole when several processes append to one database at once, on
SQLite and on PostgreSQL (where it runs)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

WRITER = """
import asyncio, sys
from auth import audit
from auth.audit import Decision
from hub import database

async def main(url: str, n: int, tag: str) -> None:
    async with database.connected(url):
        for i in range(n):
            await audit.append(f"{tag}-{i}", "writer-" + tag, [Decision("350200000001", "transit", "ALLOWED")])

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
"""
PROCESSES, EACH = 3, 40


CHECK = """
import asyncio, sys
from auth import audit
from hub import database

async def main(url: str) -> None:
    async with database.connected(url):
        checked, broken = await audit.verify()
        print(checked, await audit.AuditEntry.all().count(), broken is None)

asyncio.run(main(sys.argv[1]))
"""


async def run(*args: str) -> str:
    """In a process of its own: this one's models are bound to the test session's hub database."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def appended_by_processes(url: str) -> tuple[int, bool, int]:
    await run(CHECK, url)  # the schema, before the writers race for it
    writers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER, url, str(EACH), str(k), stderr=asyncio.subprocess.PIPE
        )
        for k in range(PROCESSES)
    ]
    for writer in writers:
        _, err = await asyncio.wait_for(writer.communicate(), 120)
        assert writer.returncode == 0, err.decode()
    checked, count, whole = (await run(CHECK, url)).split()
    return int(checked), whole == "True", int(count)


async def test_concurrent_writers_on_sqlite_keep_the_chain(tmp_path: Path) -> None:
    checked, whole, count = await appended_by_processes(f"sqlite://{tmp_path / 'audit.sqlite3'}")
    assert whole
    assert checked == count == PROCESSES * EACH


async def test_concurrent_writers_on_postgresql_keep_the_chain(postgres_url: str) -> None:
    checked, whole, count = await appended_by_processes(postgres_url)
    assert whole
    assert checked == count == PROCESSES * EACH


FORK = """
import asyncio, sys
from auth import audit
from hub import database

async def main(url: str) -> None:
    async with database.connected(url):
        await audit.append("r1", "c", [audit.Decision("1", "transit", "ALLOWED")])
        head = await audit.AuditEntry.all().order_by("-id").first()
        # A second writer that read the same head appends after the first one's next entry.
        await audit.append("r2", "c", [audit.Decision("1", "transit", "ALLOWED")])
        await audit.AuditEntry.create(
            at_ms=head.at_ms, request_id="r3", client_id="c", citizen="1", sections="transit", outcome="ALLOWED",
            reason="", prev_hash=head.hash,
            hash=audit.entry_hash(head.hash, head.at_ms, "r3", "c", "1", "transit", "ALLOWED", ""),
        )
        _, broken = await audit.verify()
        print("forked" if broken is not None else "whole")

asyncio.run(main(sys.argv[1]))
"""


async def test_two_appends_from_the_same_head_are_caught(tmp_path: Path) -> None:
    """What the lock prevents: two appends that read the same head fork the chain, and verify says so."""
    assert (await run(FORK, f"sqlite://{tmp_path / 'forked.sqlite3'}")).strip() == "forked"
