"""Migration 0006: the first release's hash chain is verified, then moves into the tree as its first
leaves; a broken chain stops the migration and changes nothing."""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.migrations.executor import MigrationTarget

from auth.audit import sequencer
from auth.audit.checkpoints import CheckpointSigner
from auth.audit.legacy import GENESIS, BrokenChain, entry_hash
from auth.audit.records import AuditRecord
from auth.audit.verify import verify
from hub import database
from keys.keyring import CHECKPOINT, KeySet

MIGRATION = importlib.import_module("hub.migrations.0006_audit_tree")
BEFORE = MIGRATION.Migration.dependencies[0][1]
SIGNER = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "https://hub.example")
OLD = [(1_700_000_000_000 + i, f"req-{i}", "city-app", f"3502{i:08d}", "transit", "ALLOWED", "") for i in range(7)]


async def old_hub_database(url: str, *, break_at: int | None = None) -> None:
    """A database as the first release left it: migrated up to before 0006, a chained audit_log."""
    async with database.opened(url):
        await database._executor().migrate([MigrationTarget(database.APP, BEFORE)], direction="forward")
        client = connections.get("default")
        pg = client.capabilities.dialect == "postgres"
        marks = ", ".join(f"${i}" if pg else "?" for i in range(1, 10))
        prev = GENESIS
        for i, values in enumerate(OLD):
            digest = entry_hash(prev, *values)
            stored = list(values)
            if i == break_at:
                stored[5] = "DENIED"  # changed after it was chained
            await client.execute_query(
                "INSERT INTO audit_log (at_ms, request_id, client_id, citizen, sections, outcome, reason, prev_hash, "
                f"hash) VALUES ({marks})",
                [*stored, prev, digest],
            )
            prev = digest


async def moved(url: str) -> None:
    await old_hub_database(url)
    async with database.opened(url):
        assert "0006_audit_tree" in await database.upgrade()
        await sequencer.catch_up(SIGNER)
        rows = await AuditRecord.all().order_by("seq")
        assert [(r.seq, r.id) for r in rows] == [(i, i + 1) for i in range(len(OLD))]
        assert [(r.at_ms, r.request_id, r.client_id, r.citizen, r.sections, r.outcome, r.reason) for r in rows] == OLD
        assert (await verify(SIGNER.verifier_keys())).fault is None
        next_one = await AuditRecord.create(at_ms=1, request_id="new", client_id="a", citizen="1", sections="transit",
                                            outcome="ALLOWED", nonce="0" * 32)  # fmt: skip
        assert next_one.id == len(OLD) + 1
        tables = await database._columns(connections.get("default"))
        assert "audit_log" not in tables


async def test_the_chain_becomes_the_first_leaves(tmp_path: Path) -> None:
    await moved(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_the_chain_becomes_the_first_leaves_on_postgresql(postgres_url: str) -> None:
    """In a process of its own: this one's models are bound to the test session's SQLite."""
    script = "import asyncio, sys; from tests.auth.test_audit_migration import moved; asyncio.run(moved(sys.argv[1]))"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, postgres_url, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()


async def test_a_broken_chain_stops_the_migration(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'broken.sqlite3'}"
    await old_hub_database(url, break_at=3)
    async with database.opened(url):
        with pytest.raises(BrokenChain, match="audit_log entry 4"):
            await database.upgrade()
        assert "0006_audit_tree" in await database.pending()
        _, rows = await connections.get("default").execute_query("SELECT count(*) AS n FROM audit_log")
        assert rows[0]["n"] == len(OLD)
