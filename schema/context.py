"""The per-request context every resolver sees: who asks, and the per-request loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from strawberry.types import Info as StrawberryInfo

from auth import consent
from auth.audit import Decision
from auth.audit.group import AuditAppends
from auth.consent import Standing
from auth.epoch import NO_FENCE, Fence, Memory
from auth.export import ExportPolicy
from auth.principal import Principal
from auth.receipts import ReceiptIssuer
from auth.registry import Citizen as CitizenRecord
from auth.registry import find_citizen
from cache.source import SectionSource
from connectors.base import Connector
from connectors.policy import ConnectorPolicy
from schema.card_credential import CardCredentials
from schema.loaders import SectionLoaders

T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """Long-lived parts the hub assembles once and hands to every request."""

    connectors: Mapping[str, Connector]
    # The one read path to the agencies: connector lookup, the cache and its invalidations (cache/source.py).
    sections: SectionSource
    default_page_size: int = 20
    max_page_size: int = 100
    connector_policy: ConnectorPolicy = field(default_factory=ConnectorPolicy)  # the operator's rules for agencies
    card: CardCredentials | None = None  # the virtual card's issuer (None: Mutation.issueCardCredential is off)
    receipts: ReceiptIssuer | None = None  # signs consent receipts (None: Consent.receipts is empty)
    exports: ExportPolicy | None = None  # data exports' limits (None: requestDataExport is off)
    # Token, registry and consent lookups remembered across requests, fenced by the revocation epoch.
    memory: Memory = field(default_factory=Memory)
    audit: AuditAppends = field(default_factory=AuditAppends)  # access-log appends, group-committed


@dataclass
class HubContext:
    services: Services
    principal: Principal | None
    request_id: str
    sections: SectionLoaders = field(init=False)
    # Every access decision on citizen data in this request, written to the audit log before the
    # response leaves (schema/extensions/audit_trail.py).
    decisions: list[Decision] = field(default_factory=list)
    # This request's view of the process's remembered lookups (auth/epoch.py); NO_FENCE reads the database.
    fence: Fence = NO_FENCE
    _consents: dict[tuple[str, str], asyncio.Future[Standing]] = field(default_factory=dict)
    _own_record: asyncio.Future[CitizenRecord | None] | None = None

    async def consent_for(self, citizen: str, client_id: str) -> Standing:
        """The citizen's consent for the client, read once per request however many sections ask."""
        return await self._consent_future(citizen, client_id)

    async def own_record(self) -> CitizenRecord | None:
        """The card-registry record of the token's citizen (``Query.me``), read once per request."""
        citizen = self.principal.citizen if self.principal else None
        if citizen is None:
            return None
        if self._own_record is None:
            self._own_record = _quiet(asyncio.ensure_future(find_citizen(citizen, self.fence)))
        return await self._own_record

    def _consent_future(self, citizen: str, client_id: str) -> asyncio.Future[Standing]:
        key = (citizen, client_id)
        if key not in self._consents:
            self._consents[key] = _quiet(asyncio.ensure_future(consent.standing(citizen, client_id, self.fence)))
        return self._consents[key]

    def __post_init__(self) -> None:
        self.sections = SectionLoaders(self.services.sections)
        principal = self.principal
        if principal is not None and principal.citizen is not None:
            # A citizen's token reads that citizen: start the two lookups every such query needs while
            # the query is still being parsed. Reads only; the checks themselves run where they did.
            self._consent_future(principal.citizen, principal.client_id)
            self._own_record = _quiet(asyncio.ensure_future(find_citizen(principal.citizen, self.fence)))


def _quiet(future: asyncio.Future[T]) -> asyncio.Future[T]:
    """A prefetch no resolver awaits (a query that fails validation) must not log its failure as lost."""
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


Info = StrawberryInfo[HubContext, None]
