"""A citizen's access log as the citizen reads it: pages, filters, grouped probes and inclusion proofs.

Refused probes by clients the citizen never gave a consent to (any client can ask for any card
number and be refused) are not listed one by one: they are counted per client (``refused_probes``),
so however many there are, they never push a real read out of the page. Asked for by client, they
are listed like everything else.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from tortoise.functions import Count, Max, Min

from auth.audit import tree
from auth.audit.checkpoints import AuditCheckpoint
from auth.audit.records import AuditRecord, Outcome
from auth.consent import Consent


async def consented_clients(citizen: str) -> list[str]:
    """Every client the citizen ever gave a consent to (active, withdrawn or expired)."""
    found = await Consent.filter(citizen=citizen).values_list("client_id", flat=True)
    return sorted({str(c) for c in found})


async def page(
    citizen: str,
    first: int,
    *,
    before: int | None = None,
    outcome: str | None = None,
    client_id: str | None = None,
) -> list[AuditRecord]:
    """Newest first, up to ``first``, older than record ``before``: reads, and refusals of clients the
    citizen consented to; ``client_id`` lists that client's entries, whoever it is."""
    base = AuditRecord.filter(citizen=citizen)
    if before is not None:
        base = base.filter(id__lt=before)
    if client_id is not None:
        query = base.filter(client_id=client_id)
        if outcome is not None:
            query = query.filter(outcome=outcome)
        return await query.order_by("-id").limit(first)
    found: list[AuditRecord] = []
    if outcome in (None, Outcome.ALLOWED):
        found += await base.filter(outcome=Outcome.ALLOWED).order_by("-id").limit(first)
    if outcome in (None, Outcome.DENIED):
        known = await consented_clients(citizen)
        if known:
            refused = base.filter(outcome=Outcome.DENIED, client_id__in=known)
            found += await refused.order_by("-id").limit(first)
    return sorted(found, key=lambda r: r.id, reverse=True)[:first]


@dataclass(frozen=True, slots=True)
class ProbeGroup:
    client_id: str
    attempts: int
    first_at_ms: int
    last_at_ms: int


async def refused_probes(citizen: str) -> list[ProbeGroup]:
    """Refusals by clients the citizen never consented to, one group per client, latest first."""
    query = AuditRecord.filter(citizen=citizen, outcome=Outcome.DENIED)
    known = await consented_clients(citizen)
    if known:
        query = query.exclude(client_id__in=known)
    rows = (
        await query.annotate(attempts=Count("id"), first=Min("at_ms"), last=Max("at_ms"))
        .group_by("client_id")
        .values("client_id", "attempts", "first", "last")
    )
    groups = [ProbeGroup(r["client_id"], int(r["attempts"]), int(r["first"]), int(r["last"])) for r in rows]
    return sorted(groups, key=lambda g: (-g.last_at_ms, g.client_id))


@dataclass(frozen=True, slots=True)
class InclusionProof:
    """What a citizen needs to check one entry without trusting the hub: the record as it was hashed,
    its leaf index, the proof, and the signed checkpoint it leads to (``auth.audit.proofs.verify_entry``)."""

    record: dict[str, Any]
    leaf_index: int
    tree_size: int
    hashes: list[bytes]
    checkpoint: str

    def bundle(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "proof": [base64.b64encode(h).decode() for h in self.hashes],
            "checkpoint": self.checkpoint,
        }


async def inclusion(record: AuditRecord, checkpoint: AuditCheckpoint | None = None) -> InclusionProof | None:
    """The record's proof against ``checkpoint`` (default: the latest); None until it is sequenced."""
    if record.seq is None:
        return None
    if checkpoint is None:
        checkpoint = await AuditCheckpoint.all().order_by("-tree_size").first()
    if checkpoint is None or record.seq >= checkpoint.tree_size:
        return None
    hashes = await tree.inclusion_proof(record.seq, checkpoint.tree_size)
    return InclusionProof(record.fields(), record.seq, checkpoint.tree_size, hashes, checkpoint.note)
