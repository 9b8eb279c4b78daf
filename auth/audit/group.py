"""Group commit for the access log: the records of concurrent requests share one transaction.

Each request still waits for the commit that carries its own records, and hears of its failure (the
response is then withheld, fail closed: schema/extensions/audit_trail.py). The mechanism is
``auth/group_commit.py``'s.

The records are the plain inserts of ``auth/audit/records.py``; the sequencer places them in the tree
later, as it does for any insert.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from auth.audit.records import AuditRecord, Decision, rows
from auth.group_commit import GroupCommit


@dataclass
class AuditAppends(GroupCommit[AuditRecord]):
    model: type[AuditRecord] = AuditRecord

    async def append(self, request_id: str, client_id: str, decisions: Iterable[Decision]) -> int:
        """Record the request's decisions; returns once they are committed (how many records)."""
        return await self.insert(rows(request_id, client_id, decisions))
