"""The citizen's access log, as the citizen sees it (``me { accessLog refusedProbes }``), with the proof
that each entry is in the signed log (``auth/audit/``, docs/audit.md)."""

from __future__ import annotations

import base64
import enum
from datetime import UTC, datetime

import strawberry

from auth.audit import access_log
from auth.audit.records import AuditRecord, canonical


@strawberry.enum(description="What the hub decided about a request for the citizen's data.")
class AccessOutcome(enum.Enum):
    ALLOWED = "ALLOWED"
    DENIED = "DENIED"


@strawberry.type(
    description="The proof that an entry is in the hub's signed access log (RFC 9162 inclusion proof). "
    "Check it with a verifier of your own, or `auth.audit.proofs.verify_entry` (docs/audit.md), against "
    "the log's verifier key published at `/.well-known/cardhub-audit-keys`."
)
class AccessLogProof:
    record: str = strawberry.field(description="The entry exactly as the log hashed it (canonical JSON, RFC 8785).")
    leaf_index: str = strawberry.field(description="The entry's position in the log (decimal; may exceed 32 bits).")
    tree_size: str = strawberry.field(description="The size of the log the proof is for (decimal).")
    hashes: list[str] = strawberry.field(description="The inclusion proof, leaf to root, each base64.")
    checkpoint: str = strawberry.field(description="The signed checkpoint (C2SP signed note) the proof leads to.")


@strawberry.type(description="One entry of the citizen's access log: who asked for which parts, and the decision.")
class AccessLogEntry:
    id: strawberry.ID = strawberry.field(description="Pass it as `before` for the next page.")
    at: datetime
    client_id: str = strawberry.field(description="The app or agency whose token made the request.")
    sections: list[str] = strawberry.field(
        description="Scopes of the profile (`card`, `transit`, ...), `profile` for a refused "
        "`citizen(cardNumber:)`, or `consents` / `access_log` for a refused attempt to list these."
    )
    outcome: AccessOutcome
    reason: str | None = strawberry.field(description="For a denial, the error code the client got.")
    request_id: str = strawberry.field(description="The request's `X-Request-Id`.")
    _record: strawberry.Private[AuditRecord]

    @strawberry.field(description="Null until the entry is in a signed checkpoint (within about a second).")
    async def proof(self) -> AccessLogProof | None:
        found = await access_log.inclusion(self._record)
        if found is None:
            return None
        bundle = found.bundle()
        return AccessLogProof(
            record=canonical(bundle["record"]).decode(),
            leaf_index=str(found.leaf_index),
            tree_size=str(found.tree_size),
            hashes=[base64.b64encode(h).decode() for h in found.hashes],
            checkpoint=found.checkpoint,
        )

    @classmethod
    def from_record(cls, entry: AuditRecord) -> AccessLogEntry:
        return cls(
            id=strawberry.ID(str(entry.id)),
            at=entry.at,
            client_id=entry.client_id,
            sections=[s for s in entry.sections.split(",") if s],
            outcome=AccessOutcome(entry.outcome),
            reason=entry.reason or None,
            request_id=entry.request_id,
            _record=entry,
        )


@strawberry.type(
    description="Refused requests by one client the citizen never gave a consent to, counted rather than "
    "listed, so that they never push real reads out of `accessLog`. `accessLog(client:)` lists them."
)
class RefusedProbes:
    client_id: str
    attempts: int
    first_at: datetime
    last_at: datetime

    @classmethod
    def from_group(cls, group: access_log.ProbeGroup) -> RefusedProbes:
        return cls(
            client_id=group.client_id,
            attempts=group.attempts,
            first_at=datetime.fromtimestamp(group.first_at_ms / 1000, tz=UTC),
            last_at=datetime.fromtimestamp(group.last_at_ms / 1000, tz=UTC),
        )
