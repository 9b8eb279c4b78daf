from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.backends.base import executor

from auth.audit import AuditRecord, Decision
from auth.audit.group import AuditAppends
from hub import database


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    executor.EXECUTOR_CACHE.clear()  # tortoise keys its statements by connection name, not dialect
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/hub.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


def read(citizen: str) -> list[Decision]:
    return [Decision(citizen, "transit", "ALLOWED"), Decision(citizen, "health", "ALLOWED")]


async def test_concurrent_appends_share_transactions_and_each_waits_for_its_own(database_url: str) -> None:
    async with database.connected(database_url):
        group = AuditAppends()
        counts = await asyncio.gather(*(group.append(f"req-{i}", "app", read(f"3502{i:08d}")) for i in range(40)))
        assert counts == [1] * 40  # one record per (citizen, outcome, reason)
        assert 1 <= group.rounds < 40, "concurrent requests should have shared commits"
        stored = await AuditRecord.all().order_by("id")
        assert sorted(r.request_id for r in stored) == sorted(f"req-{i}" for i in range(40))
        assert {r.sections for r in stored} == {"health,transit"}
        assert await group.append("alone", "app", []) == 0


async def test_a_failed_commit_fails_every_request_in_it_and_the_next_round_recovers(database_url: str) -> None:
    async with database.connected(database_url):
        group = AuditAppends()
        await connections.get("default").execute_script("ALTER TABLE audit_record RENAME TO audit_record_away")
        results = await asyncio.gather(
            *(group.append(f"req-{i}", "app", read("350200000001")) for i in range(5)), return_exceptions=True
        )
        assert all(isinstance(r, Exception) for r in results)
        await connections.get("default").execute_script("ALTER TABLE audit_record_away RENAME TO audit_record")
        assert await group.append("after", "app", read("350200000001")) == 1
        assert [r.request_id for r in await AuditRecord.all()] == ["after"]
