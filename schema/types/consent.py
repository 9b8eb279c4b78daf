"""A citizen's consents, as the citizen sees them (``me { consents }``; the access log is in ``access_log.py``).

Read from the consent records (``auth/consent.py``); client names from the client registry
(``auth/clients.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from auth import clients
from auth.consent import Consent as ConsentRecord
from auth.consent import ConsentEvent as ConsentEventRecord
from auth.consent import ConsentStatus
from schema.context import Info

strawberry.enum(
    ConsentStatus,
    description="ACTIVE: in force. PAUSED: the citizen paused it; reads get CONSENT_PAUSED until resumed, "
    "tokens stay valid, the expiry keeps running. REVOKED: the citizen withdrew every scope. EXPIRED: past "
    "`expiresAt`; the client must ask again.",
)


@strawberry.type(description="The app or agency a consent was given to, as registered with the hub.")
class ConsentClient:
    client_id: str
    name: str | None = strawberry.field(description="Null when the client is no longer registered.")
    purpose: str | None = strawberry.field(
        description="What the client says it needs the data for. Null when the client is no longer registered."
    )


@strawberry.type(name="ConsentEvent", description="One change to a consent.")
class ConsentHistoryEvent:
    at: datetime
    action: str = strawberry.field(
        description="GRANTED, WIDENED (scopes added), RENEWED (same scopes, new expiry), NARROWED (some scopes "
        "withdrawn), REVOKED (all withdrawn), PAUSED, RESUMED or EXPIRED."
    )
    scopes: list[str] = strawberry.field(description="The scopes granted after the change.")
    receipt: str | None = strawberry.field(
        default=None,
        description="The hub's signed receipt of this change (a JWS, alg Ed25519; keys at "
        "/.well-known/cardhub-receipt-keys). Null when receipts are off.",
    )


def _scopes(joined: str) -> list[str]:
    return sorted(joined.split())


@strawberry.type(description="The citizen's standing permission for one client to read parts of their profile.")
class Consent:
    id: strawberry.ID = strawberry.field(description="Pass it to `revokeConsent`.")
    scopes: list[str] = strawberry.field(description="The scopes granted now (none once revoked).")
    revoked_scopes: list[str] = strawberry.field(description="The scopes the citizen withdrew.")
    purpose: str = strawberry.field(description="The purpose the consent was given for.")
    granted_at: datetime
    expires_at: datetime
    status: ConsentStatus
    _record: strawberry.Private[ConsentRecord]

    @strawberry.field
    async def client(self) -> ConsentClient:
        registered = await clients.find(self._record.client_id)
        return ConsentClient(
            client_id=self._record.client_id,
            name=registered.name if registered else None,
            purpose=registered.purpose if registered else None,
        )

    @strawberry.field(description="Every change to this consent, oldest first, each with its signed receipt.")
    async def history(self, info: Info) -> list[ConsentHistoryEvent]:
        events = await ConsentEventRecord.filter(consent_id=self._record.id).order_by("id")
        issuer = info.context.services.receipts
        name = ""
        if issuer is not None:
            registered = await clients.find(self._record.client_id)
            name = registered.name if registered else self._record.client_id
        return [
            ConsentHistoryEvent(
                at=e.at,
                action=e.action,
                scopes=_scopes(e.scope),
                receipt=issuer.issue(self._record, e, name).token if issuer else None,
            )
            for e in events
        ]

    @classmethod
    def from_record(cls, record: ConsentRecord) -> Consent:
        status = record.status
        if status in (ConsentStatus.ACTIVE, ConsentStatus.PAUSED) and record.expires_at <= datetime.now(UTC):
            status = ConsentStatus.EXPIRED  # past its expiry, even if not yet marked so in the store
        return cls(
            id=strawberry.ID(str(record.id)),
            scopes=_scopes(record.scope),
            revoked_scopes=_scopes(record.revoked_scope),
            purpose=record.purpose,
            granted_at=record.granted_at,
            expires_at=record.expires_at,
            status=status,
            _record=record,
        )
