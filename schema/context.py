"""The per-request context every resolver sees: who asks, and the per-request loaders."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

from strawberry.types import Info as StrawberryInfo

from auth import consent
from auth.audit import Decision
from auth.consent import Standing
from auth.principal import Principal
from connectors.base import Connector
from connectors.lifecycle import Policy
from schema.loaders import SectionLoaders


@dataclass(frozen=True)
class Services:
    """Long-lived parts the hub assembles once and hands to every request."""

    connectors: Mapping[str, Connector]
    default_page_size: int = 20
    max_page_size: int = 100
    connector_policy: Policy = field(default_factory=Policy)  # where agency connectors may point


@dataclass
class HubContext:
    services: Services
    principal: Principal | None
    request_id: str
    sections: SectionLoaders = field(init=False)
    # Every access decision on citizen data in this request, written to the audit log before the
    # response leaves (schema/extensions/audit_trail.py).
    decisions: list[Decision] = field(default_factory=list)
    _consents: dict[tuple[str, str], asyncio.Future[Standing]] = field(default_factory=dict)

    async def consent_for(self, citizen: str, client_id: str) -> Standing:
        """The citizen's consent for the client, read once per request however many sections ask."""
        key = (citizen, client_id)
        if key not in self._consents:
            self._consents[key] = asyncio.ensure_future(consent.standing(citizen, client_id))
        return await self._consents[key]

    def __post_init__(self) -> None:
        self.sections = SectionLoaders(self.services.connectors)


Info = StrawberryInfo[HubContext, None]
