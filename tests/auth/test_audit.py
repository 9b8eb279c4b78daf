"""The audit log's hash chain: appends, verification, tampering found and named."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import audit
from auth.audit import AuditEntry, Decision, Outcome


@pytest.fixture
async def audit_db() -> AsyncIterator[TortoiseContext]:
    """An isolated database of its own; the session hub's is untouched."""
    async with tortoise_test_context(["auth.audit"]) as ctx:
        yield ctx


def reads(citizen: str) -> list[Decision]:
    return [
        Decision(citizen, "transit", Outcome.ALLOWED),
        Decision(citizen, "library", Outcome.ALLOWED),
        Decision(citizen, "health", Outcome.DENIED, "CONSENT_REQUIRED"),
    ]


async def test_append_groups_decisions_and_chains_entries(audit_db: TortoiseContext) -> None:
    assert await audit.append("req-1", "city-app", reads("350200000001")) == 2
    assert await audit.append("req-2", "city-app", reads("350200000002")) == 2
    entries = await AuditEntry.all().order_by("id")
    assert [(e.request_id, e.outcome, e.sections, e.reason) for e in entries] == [
        ("req-1", "ALLOWED", "library,transit", ""),
        ("req-1", "DENIED", "health", "CONSENT_REQUIRED"),
        ("req-2", "ALLOWED", "library,transit", ""),
        ("req-2", "DENIED", "health", "CONSENT_REQUIRED"),
    ]
    assert entries[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert await audit.verify() == (4, None)
    assert await audit.append("req-3", "city-app", []) == 0


async def test_concurrent_appends_keep_one_valid_chain(audit_db: TortoiseContext) -> None:
    await asyncio.gather(*(audit.append(f"req-{i}", "app", reads(f"3502{i:08d}")) for i in range(40)))
    assert await audit.verify() == (80, None)


async def test_a_changed_entry_is_named(audit_db: TortoiseContext) -> None:
    for i in range(5):
        await audit.append(f"req-{i}", "app", reads(f"3502{i:08d}"))
    victim = (await AuditEntry.all().order_by("id"))[4]
    await AuditEntry.filter(id=victim.id).update(outcome="DENIED", sections="transit")
    checked, broken = await audit.verify()
    assert broken is not None
    assert broken.entry_id == victim.id
    assert "changed" in broken.why
    assert checked == 4


async def test_a_removed_entry_breaks_the_link_of_the_next(audit_db: TortoiseContext) -> None:
    for i in range(5):
        await audit.append(f"req-{i}", "app", reads(f"3502{i:08d}"))
    entries = await AuditEntry.all().order_by("id")
    await AuditEntry.filter(id=entries[3].id).delete()
    _, broken = await audit.verify(batch=2)
    assert broken is not None
    assert broken.entry_id == entries[4].id
    assert "link" in broken.why


async def test_a_rehashed_forgery_still_breaks_the_chain_after_it(audit_db: TortoiseContext) -> None:
    for i in range(3):
        await audit.append(f"req-{i}", "app", reads(f"3502{i:08d}"))
    entries = await AuditEntry.all().order_by("id")
    forged = entries[2]
    new_hash = audit.entry_hash(
        forged.prev_hash, forged.at_ms, forged.request_id, forged.client_id, forged.citizen, "transit", "DENIED", ""
    )
    await AuditEntry.filter(id=forged.id).update(sections="transit", outcome="DENIED", reason="", hash=new_hash)
    _, broken = await audit.verify()
    assert broken is not None
    assert broken.entry_id == entries[3].id  # the forger would have to rewrite every later entry too


async def test_citizen_log_is_their_own_newest_first(audit_db: TortoiseContext) -> None:
    await audit.append("req-a", "app", reads("350200000001"))
    await audit.append("req-b", "app", reads("350200000002"))
    await audit.append("req-c", "other-app", reads("350200000001"))
    mine = await audit.for_citizen("350200000001")
    assert {e.citizen for e in mine} == {"350200000001"}
    assert [e.request_id for e in mine] == ["req-c", "req-c", "req-a", "req-a"]
