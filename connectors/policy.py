"""The operator's rules for agency connectors, in one object the hub builds from its settings.

- Where a connector may point: the outbound policy (``connectors.outbound``) and the operator's URL
  prefixes. Checked on the manifest before anything is sent, and again on every call.
- Which agency may serve a section: each section is bound to one agency. Only that agency's manifest
  may be registered, updated, enabled or disabled for it; a disabled connector keeps its section.
- The key the connectors' secrets are sealed under in the database (``keys.sealing``).

Every operation that reads or writes connectors takes it: ``connectors.lifecycle`` (registration),
``connectors.live`` (what runs), the agencies' GraphQL API and the operator's CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from connectors.domain import AGENCY_IDS
from connectors.manifest import Manifest, ManifestError
from connectors.outbound import OutboundPolicy, OutboundRefused
from keys.keyring import SECRETS, KeySet
from keys.sealing import Sealer

DEFAULT_SECTION_OWNERS: Mapping[str, str] = {section: section for section in AGENCY_IDS}
SEALING_LABEL = "connector secrets"


class NotYourSection(PermissionError):
    """An agency acting on a section (or another agency's connector) the operator did not bind to it.
    ``path`` is the manifest key at fault."""

    path = "section"


def sealer_for(keys: KeySet) -> Sealer:
    return Sealer(keys, SEALING_LABEL)


@dataclass(frozen=True)
class ConnectorPolicy:
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy.sandbox)
    url_prefixes: tuple[str, ...] = ()  # settings.agency_url_prefixes; empty: any allowed address
    section_owners: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_SECTION_OWNERS))
    sealer: Sealer = field(default_factory=lambda: sealer_for(KeySet.sandbox(SECRETS)))

    def owner_of(self, section: str) -> str | None:
        return self.section_owners.get(section) or None

    def check_section(self, agency: str, section: str) -> None:
        owner = self.owner_of(section)
        if owner != agency:
            bound = f"bound to agency {owner!r}" if owner else "bound to no agency"
            raise NotYourSection(f"the {section} section is {bound} by the hub's operator, not to {agency!r}")

    def check_address(self, manifest: Manifest) -> None:
        """The manifest's base URL against the outbound policy and the operator's prefixes, before any call."""
        try:
            self.outbound.check_url(manifest.base_url)
        except OutboundRefused as exc:
            raise ManifestError.at("base_url", str(exc)) from None
        if self.url_prefixes and not any(manifest.base_url.startswith(p) for p in self.url_prefixes):
            raise ManifestError.at("base_url", "not among the addresses the hub's operator allows for agencies")
