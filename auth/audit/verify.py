"""The auditor's check (``cardhub audit verify``): recompute the whole tree from the records and hold
every signed checkpoint against it.

Walks the sequenced records in leaf order, hashing each (RFC 9162 2.1.1) and growing the tree; at
each checkpoint's size the recomputed root must be the signed one, and the signature must verify
with a listed checkpoint key. As every checkpoint's root is recomputed from one sequence of leaves,
each is consistent with every other (RFC 9162 2.1.4). Each leaf is also compared with the leaf hash
the sequencer stored, which names an edited or shifted record exactly; where the stored tree was
rewritten too, the first checkpoint that no longer holds is named instead.

What it finds, first fault only:
- a record edited, or removed and the rest renumbered: the record (its leaf no longer matches);
- a record removed without renumbering: the gap;
- records cut off the end: the checkpoint that signed more records than there are; if the
  checkpoints were cut too, only a checkpoint kept elsewhere tells (``against``: a witness's copy);
- a forged or altered checkpoint: the checkpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from auth.audit.checkpoints import AuditCheckpoint, Checkpoint, CheckpointError, VerifierKey, parse_and_verify
from auth.audit.merkle import Frontier
from auth.audit.records import AuditRecord
from auth.audit.tree import AuditNode

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Fault:
    what: str  # "record" or "checkpoint"
    ref: str  # the record id, or the checkpoint's tree size
    why: str

    def __str__(self) -> str:
        return f"{self.what} {self.ref}: {self.why}"


@dataclass(frozen=True, slots=True)
class Report:
    records: int  # sequenced records checked
    pending: int  # records not yet in the tree
    checkpoints: int
    fault: Fault | None


async def _records() -> AsyncIterator[AuditRecord]:
    last = -1
    while rows := await AuditRecord.filter(seq__gt=last).order_by("seq").limit(BATCH):
        for row in rows:
            yield row
        last = rows[-1].seq or 0


async def _stored_leaves(start: int, end: int) -> dict[int, bytes]:
    rows = await AuditNode.filter(level=0, index__gte=start, index__lt=end).values_list("index", "hash")
    return {int(i): bytes(h) for i, h in rows}


async def verify(keys: Sequence[VerifierKey], against: str | None = None) -> Report:
    checkpoints = await AuditCheckpoint.all().order_by("tree_size")
    signed: list[tuple[AuditCheckpoint | None, Checkpoint]] = []
    for row in checkpoints:
        try:
            cp = parse_and_verify(row.note, keys, any_name=True)
        except CheckpointError as exc:
            return Report(0, 0, 0, Fault("checkpoint", str(row.tree_size), f"{exc} (forged or altered)"))
        if cp.size != row.tree_size or cp.root != bytes(row.root):
            return Report(
                0, 0, 0, Fault("checkpoint", str(row.tree_size), "its stored size or root differs from its signed note")
            )
        signed.append((row, cp))
    if against is not None:
        try:
            kept = parse_and_verify(against, keys, any_name=True)
        except CheckpointError as exc:
            return Report(0, 0, len(signed), Fault("checkpoint", "kept elsewhere", str(exc)))
        signed.append((None, kept))
        signed.sort(key=lambda pair: pair[1].size)
    pending = await AuditRecord.filter(seq=None).count()
    fault, checked = await _walk(signed)
    return Report(checked, pending, len(checkpoints), fault)


async def _walk(signed: list[tuple[AuditCheckpoint | None, Checkpoint]]) -> tuple[Fault | None, int]:
    edge = Frontier()
    stored: dict[int, bytes] = {}
    since = 0  # the leaf after the last checkpoint that held
    last_record: AuditRecord | None = None
    position = 0
    records = _records()
    async for record in records:
        while position < len(signed) and signed[position][1].size == edge.size:
            fault = _check(signed[position], edge, since, last_record)
            if fault:
                return fault, edge.size
            since, position = edge.size, position + 1
        if record.seq != edge.size:
            return Fault(
                "record",
                str(record.id),
                f"is leaf {record.seq}, but leaf {edge.size} is missing (a record was removed)",
            ), edge.size
        if edge.size not in stored:
            stored = await _stored_leaves(edge.size, edge.size + BATCH)
        leaf = record.leaf()
        if stored.get(edge.size) != leaf:
            why = "its contents do not match the leaf the tree recorded (it was changed, or one before it removed)"
            return Fault("record", str(record.id), why), edge.size
        edge.append(leaf)
        last_record = record
    while position < len(signed):
        row, cp = signed[position]
        if cp.size > edge.size:
            name = "the checkpoint kept elsewhere" if row is None else f"checkpoint {cp.size}"
            return Fault(
                "checkpoint",
                str(cp.size),
                f"{name} signed {cp.size} records, the log holds {edge.size}: records were cut off the end",
            ), edge.size
        fault = _check(signed[position], edge, since, last_record)
        if fault:
            return fault, edge.size
        position += 1
    newest = signed[-1][1].size if signed else 0
    if edge.size > newest:
        return Fault(
            "record",
            "at leaf " + str(newest),
            "is in the tree but in no signed checkpoint (added outside the sequencer)",
        ), edge.size
    return None, edge.size


def _check(pair: tuple[AuditCheckpoint | None, Checkpoint], edge: Frontier, since: int,
           last: AuditRecord | None) -> Fault | None:  # fmt: skip
    row, cp = pair
    if edge.root() == cp.root:
        return None
    name = "the checkpoint kept elsewhere" if row is None else "its root"
    return Fault(
        "checkpoint",
        str(cp.size),
        f"{name} does not match the records: one of leaves {since}-{cp.size - 1} was changed, removed or added "
        "(and the stored tree rewritten to hide it)",
    )
