"""The access log's records: every access decision on citizen data, written before the answer leaves.

Writing is a plain insert, one row per (citizen, outcome, reason) of a request, in one transaction:
no lock, no read of a head, so instances never wait for each other. The record's place in the Merkle
tree (``seq``) is given later by the sequencer (``auth/audit/sequencer.py``); until then it is null.

What the tree commits to is the record's canonical encoding (``canonical``): a JSON object with its
keys sorted, no whitespace and UTF-8 text, which for the strings and integers it holds is the JSON
Canonicalization Scheme of RFC 8785. ``nonce`` (16 random bytes) makes the leaf hash of a record
unguessable, so the sibling hashes in a citizen's inclusion proof tell nothing about other citizens.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model
from tortoise.transactions import in_transaction

from auth.audit.merkle import leaf_hash


class Outcome:
    ALLOWED = "ALLOWED"  # the section was released to the client (the agency was asked)
    DENIED = "DENIED"  # refused before any agency call (no token scope, wrong citizen, ...)


class AuditRecord(Model):
    id = fields.BigIntField(primary_key=True)
    at_ms = fields.BigIntField()  # unix time in milliseconds: an integer encodes the same on every database
    request_id = fields.CharField(max_length=64)
    client_id = fields.CharField(max_length=64)
    citizen = fields.CharField(max_length=20)
    sections = fields.TextField()  # comma-separated, sorted
    outcome = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=64, default="")  # the error code for a denial
    nonce = fields.CharField(max_length=32)  # hex
    seq = fields.BigIntField(null=True, unique=True)  # the leaf index, once sequenced

    class Meta:
        table = "audit_record"
        indexes = (
            # A citizen's log, newest first, a page at a time; and the same for one outcome, so that
            # reads are found straight off the index however many refusals sit between them.
            Index(fields=("citizen", "id"), name="audit_record_citizen_id"),
            Index(fields=("citizen", "outcome", "id"), name="audit_record_citizen_outcome_id"),
        )

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.at_ms / 1000, tz=UTC)

    def canonical(self) -> bytes:
        return canonical(self.fields())

    def leaf(self) -> bytes:
        return leaf_hash(self.canonical())

    def fields(self) -> dict[str, Any]:
        return {
            "at_ms": self.at_ms,
            "citizen": self.citizen,
            "client_id": self.client_id,
            "id": self.id,
            "nonce": self.nonce,
            "outcome": self.outcome,
            "reason": self.reason,
            "request_id": self.request_id,
            "sections": self.sections,
        }


def canonical(record: dict[str, Any]) -> bytes:
    """RFC 8785 for objects of strings and integers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class Decision:
    citizen: str
    section: str
    outcome: str
    reason: str = ""


def new_nonce() -> str:
    return secrets.token_hex(16)


async def append(request_id: str, client_id: str, decisions: Iterable[Decision]) -> int:
    """Record one entry per (citizen, outcome, reason), all or nothing. Returns how many.

    Raises whatever the database raises: the caller fails the read closed (schema/extensions/audit_trail.py).
    """
    made = rows(request_id, client_id, decisions)
    if made:
        async with in_transaction():
            for row in made:
                await row.save()
    return len(made)


def rows(request_id: str, client_id: str, decisions: Iterable[Decision]) -> list[AuditRecord]:
    """The request's records, unsaved: one per (citizen, outcome, reason). ``auth/audit/group.py`` saves
    those of concurrent requests in one transaction."""
    groups: dict[tuple[str, str, str], set[str]] = {}
    for d in decisions:
        groups.setdefault((d.citizen, d.outcome, d.reason), set()).add(d.section)
    if not groups:
        return []
    at_ms = int(time.time() * 1000)
    return [
        AuditRecord(
            at_ms=at_ms,
            request_id=request_id,
            client_id=client_id,
            citizen=citizen,
            sections=",".join(sorted(sections)),
            outcome=outcome,
            reason=reason,
            nonce=new_nonce(),
        )
        for (citizen, outcome, reason), sections in sorted(groups.items())
    ]
