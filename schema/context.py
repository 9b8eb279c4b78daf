"""The per-request context every resolver sees: who asks, and the per-request loaders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from strawberry.types import Info as StrawberryInfo

from auth.audit import Decision
from auth.principal import Principal
from connectors.base import Connector
from schema.loaders import SectionLoaders


@dataclass(frozen=True)
class Services:
    """Long-lived parts the hub assembles once and hands to every request."""

    connectors: Mapping[str, Connector]
    default_page_size: int = 20
    max_page_size: int = 100


@dataclass
class HubContext:
    services: Services
    principal: Principal | None
    request_id: str
    sections: SectionLoaders = field(init=False)
    # Every access decision on citizen data in this request, written to the audit log before the
    # response leaves (schema/extensions/audit_trail.py).
    decisions: list[Decision] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sections = SectionLoaders(self.services.connectors)


Info = StrawberryInfo[HubContext, None]
