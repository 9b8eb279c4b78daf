"""The access log: plain-insert appends, the sequencer's batches and checkpoints, proofs, and every
tamper ``verify`` must name (auth/audit/)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymerkle import InmemoryTree  # type: ignore[import-untyped]
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import audit
from auth.audit import access_log, merkle, sequencer, tree
from auth.audit.checkpoints import AuditCheckpoint, CheckpointError, CheckpointSigner, VerifierKey, parse_and_verify
from auth.audit.proofs import verify_entry
from auth.audit.records import AuditRecord, Decision, Outcome
from auth.audit.verify import verify
from keys.keyring import CHECKPOINT, KeySet

SIGNER = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "https://hub.example")
KEYS = SIGNER.verifier_keys()


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


async def fill(requests: int, batch: int = 4) -> list[AuditRecord]:
    """``requests`` reads (two records each), sequenced in batches of ``batch``."""
    for i in range(requests):
        await audit.append(f"req-{i}", "city-app", reads(f"3502{i % 3:08d}"))
    while await sequencer.integrate(SIGNER, batch):
        pass
    return await AuditRecord.all().order_by("seq")


async def test_append_is_a_plain_insert_of_grouped_records_not_yet_in_the_tree(audit_db: TortoiseContext) -> None:
    assert await audit.append("req-1", "city-app", reads("350200000001")) == 2
    assert await audit.append("req-2", "city-app", []) == 0
    rows = await AuditRecord.all().order_by("id")
    assert [(r.request_id, r.outcome, r.sections, r.reason, r.seq) for r in rows] == [
        ("req-1", "ALLOWED", "library,transit", "", None),
        ("req-1", "DENIED", "health", "CONSENT_REQUIRED", None),
    ]
    assert rows[0].nonce != rows[1].nonce and len(rows[0].nonce) == 32
    assert await AuditCheckpoint.all().count() == 0


async def test_the_sequencer_integrates_in_id_order_and_signs_each_batch(audit_db: TortoiseContext) -> None:
    rows = await fill(5, batch=4)  # 10 records: batches of 4, 4, 2
    assert [r.seq for r in rows] == list(range(10))
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    checkpoints = await AuditCheckpoint.all().order_by("tree_size")
    assert [c.tree_size for c in checkpoints] == [4, 8, 10]
    independent = InmemoryTree(algorithm="sha256")
    for r in rows:
        independent.append_entry(r.canonical())
    for c in checkpoints:
        signed = parse_and_verify(c.note, KEYS)
        assert (signed.size, signed.root) == (c.tree_size, bytes(c.root))
        assert signed.root == independent.get_root(c.tree_size)
        assert c.note.startswith(f"hub.example/audit\n{c.tree_size}\n{signed.root_b64}\n\n\u2014 hub.example/audit ")
    assert await sequencer.integrate(SIGNER) is None  # nothing waiting: no empty checkpoint


async def test_every_entry_proves_with_the_citizens_verifier(audit_db: TortoiseContext) -> None:
    rows = await fill(7, batch=5)
    vkeys = [k.vkey for k in KEYS]
    first = await AuditCheckpoint.get(tree_size=5)
    for r in rows:
        proof = await access_log.inclusion(r)
        assert proof is not None
        assert verify_entry(proof.bundle(), vkeys).size == 14
        if r.seq is not None and r.seq < 5:  # and against an older checkpoint
            older = await access_log.inclusion(r, first)
            assert older is not None and verify_entry(older.bundle(), vkeys).size == 5
    bundle = await access_log.inclusion(rows[3])
    assert bundle is not None
    flipped = "ALLOWED" if rows[3].outcome == "DENIED" else "DENIED"
    forged = bundle.bundle() | {"record": rows[3].fields() | {"outcome": flipped}}
    with pytest.raises(merkle.ProofError):
        verify_entry(forged, vkeys)
    with pytest.raises(CheckpointError):
        other = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "https://hub.example")
        verify_entry(bundle.bundle(), [k.vkey for k in other.verifier_keys()])
    latest = await AuditCheckpoint.get(tree_size=14)
    consistency = await tree.consistency_proof(5, 14)
    merkle.verify_consistency(5, 14, bytes(first.root), bytes(latest.root), consistency)


async def test_racing_integrations_sequence_each_record_once(audit_db: TortoiseContext) -> None:
    for i in range(30):
        await audit.append(f"req-{i}", "app", reads("350200000001"))
    await asyncio.gather(*(sequencer.integrate(SIGNER, 7) for _ in range(12)))
    seqs = [r.seq for r in await AuditRecord.all().order_by("seq")]
    assert seqs == list(range(60))
    assert (await verify(KEYS)).fault is None


async def test_an_intact_log_verifies(audit_db: TortoiseContext) -> None:
    await fill(6)
    await audit.append("late", "app", reads("350200000009"))  # waiting for the sequencer: fine
    report = await verify(KEYS)
    assert (report.fault, report.records, report.pending, report.checkpoints) == (None, 12, 2, 3)


async def test_an_edited_record_is_named(audit_db: TortoiseContext) -> None:
    rows = await fill(6)
    await AuditRecord.filter(id=rows[5].id).update(sections="housing_fund")
    report = await verify(KEYS)
    assert report.fault is not None
    assert (report.fault.what, report.fault.ref, report.records) == ("record", str(rows[5].id), 5)
    assert "changed" in report.fault.why


async def test_a_deleted_record_leaves_a_gap_that_is_named(audit_db: TortoiseContext) -> None:
    rows = await fill(6)
    await AuditRecord.filter(id=rows[4].id).delete()
    fault = (await verify(KEYS)).fault
    assert fault is not None
    assert (fault.what, fault.ref) == ("record", str(rows[5].id))
    assert "leaf 4 is missing" in fault.why


async def test_a_deletion_renumbered_over_is_named(audit_db: TortoiseContext) -> None:
    """Deleting a record and moving the later ones up (the re-chaining of a hash chain)."""
    rows = await fill(6)
    await AuditRecord.filter(id=rows[4].id).delete()
    for r in rows[5:]:
        await AuditRecord.filter(id=r.id).update(seq=r.seq - 1)  # type: ignore[operator]
    fault = (await verify(KEYS)).fault
    assert fault is not None
    assert (fault.what, fault.ref) == ("record", str(rows[5].id))


async def test_a_deletion_with_the_stored_tree_rewritten_is_named_by_its_checkpoint(audit_db: TortoiseContext) -> None:
    rows = await fill(6)  # checkpoints at 4, 8, 12
    await AuditRecord.filter(id=rows[4].id).delete()
    for r in rows[5:]:
        await AuditRecord.filter(id=r.id).update(seq=r.seq - 1)  # type: ignore[operator]
    await tree.AuditNode.all().delete()  # and rebuild every node from the doctored records
    edge = merkle.Frontier()
    survivors = await AuditRecord.all().order_by("seq")
    done = edge.extend(r.leaf() for r in survivors)
    await tree.AuditNode.bulk_create([tree.AuditNode(level=lv, index=ix, hash=h) for lv, ix, h in done])
    fault = (await verify(KEYS)).fault
    assert fault is not None
    assert (fault.what, fault.ref) == ("checkpoint", "8")  # the first signed root that no longer holds
    assert "leaves 4-7" in fault.why


async def test_truncation_is_named_and_a_kept_checkpoint_catches_it_when_checkpoints_go_too(
    audit_db: TortoiseContext,
) -> None:
    rows = await fill(6)
    kept = (await AuditCheckpoint.get(tree_size=12)).note  # a witness's copy
    await AuditRecord.filter(seq__gte=9).delete()
    fault = (await verify(KEYS)).fault
    assert fault is not None and (fault.what, fault.ref) == ("checkpoint", "12")
    assert "cut off the end" in fault.why

    await AuditRecord.filter(seq__gte=8).delete()
    await tree.AuditNode.filter(level=0, index__gte=8).delete()
    await AuditCheckpoint.filter(tree_size__gt=8).delete()
    assert (await verify(KEYS)).fault is None  # alone, a clean cut looks like a shorter log
    fault = (await verify(KEYS, against=kept)).fault
    assert fault is not None and (fault.what, fault.ref) == ("checkpoint", "12")
    assert "kept elsewhere" in fault.why
    assert len(rows) == 12


async def test_a_kept_checkpoint_of_another_history_is_named(audit_db: TortoiseContext) -> None:
    await fill(6)
    forged = SIGNER.sign(8, merkle.leaf_hash(b"another history"))
    fault = (await verify(KEYS, against=forged)).fault
    assert fault is not None and (fault.what, fault.ref) == ("checkpoint", "8")


@pytest.mark.parametrize("how", ["edited note", "another key", "row differs from note"])
async def test_a_forged_checkpoint_is_named(audit_db: TortoiseContext, how: str) -> None:
    await fill(6)
    victim = await AuditCheckpoint.get(tree_size=8)
    fake_root = merkle.leaf_hash(b"forged")
    if how == "edited note":
        lines = victim.note.split("\n")
        lines[2] = merkle.EMPTY_ROOT.hex()[:43] + "="
        await AuditCheckpoint.filter(id=victim.id).update(note="\n".join(lines))
    elif how == "another key":
        other = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "https://hub.example")
        await AuditCheckpoint.filter(id=victim.id).update(note=other.sign(8, fake_root), root=fake_root)
    else:
        await AuditCheckpoint.filter(id=victim.id).update(root=fake_root)
    fault = (await verify(KEYS)).fault
    assert fault is not None and (fault.what, fault.ref) == ("checkpoint", "8")


async def test_a_record_slipped_in_after_the_last_checkpoint_is_named(audit_db: TortoiseContext) -> None:
    rows = await fill(2)
    extra = await AuditRecord.create(
        at_ms=1, request_id="x", client_id="x", citizen="1", sections="transit", outcome="ALLOWED", nonce="0" * 32,
        seq=len(rows),
    )  # fmt: skip
    await tree.AuditNode.create(level=0, index=len(rows), hash=extra.leaf())
    fault = (await verify(KEYS)).fault
    assert fault is not None and "in no signed checkpoint" in fault.why


async def test_the_sequencer_refuses_to_extend_a_tree_that_does_not_match_its_checkpoint(
    audit_db: TortoiseContext,
) -> None:
    await fill(2)
    await tree.AuditNode.filter(level=2, index=0).update(hash=merkle.leaf_hash(b"x"))  # the frontier of 4
    await audit.append("next", "app", reads("350200000001"))
    with pytest.raises(sequencer.TreeMismatch):
        await sequencer.integrate(SIGNER)
    assert await AuditRecord.filter(seq=None).count() == 2  # nothing half-done


async def test_a_rotated_key_still_verifies_old_checkpoints(audit_db: TortoiseContext) -> None:
    old = KeySet.ephemeral(CHECKPOINT)
    await audit.append("r1", "app", reads("350200000001"))
    await sequencer.integrate(CheckpointSigner.from_keys(old, "https://hub.example"))
    new = KeySet.ephemeral(CHECKPOINT)
    rotated = CheckpointSigner.from_keys(KeySet(CHECKPOINT, (new.current, old.current)), "https://hub.example")
    await audit.append("r2", "app", reads("350200000001"))
    await sequencer.integrate(rotated)
    kids = [c.key_id for c in await AuditCheckpoint.all().order_by("tree_size")]
    assert kids == [old.current.kid, new.current.kid]
    assert (await verify(rotated.verifier_keys())).fault is None
    only_new = CheckpointSigner.from_keys(new, "https://hub.example")
    fault = (await verify(only_new.verifier_keys())).fault
    assert fault is not None and (fault.what, fault.ref) == ("checkpoint", "2")


def test_verifier_keys_parse_back_whatever_their_base64_holds() -> None:
    for _ in range(64):  # base64 of a key often holds "+", the separator of a verifier key's parts
        key = CheckpointSigner.from_keys(KeySet.ephemeral(CHECKPOINT), "https://hub.example").verifier_keys()[0]
        parsed = VerifierKey.parse(key.vkey)
        assert (parsed.name, parsed.raw, parsed.key_hash) == (key.name, key.raw, key.key_hash)
    with pytest.raises(CheckpointError):
        VerifierKey.parse("hub.example/audit+00000000+" + key.vkey.split("+", 2)[2])
