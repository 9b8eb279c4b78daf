"""A section as the agency calls it is built from (its resources), so a read makes only the calls its
selected fields need and the cache keeps each call's answer on its own.

A manifest connector (connectors/declarative.py) knows which resource feeds which field. Any other
connector (a Python adapter, registered by entry point) is one resource: its whole section.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from cache import codec
from connectors.base import Connector
from connectors.declarative import ManifestConnector, Refs
from connectors.domain import Section, SectionMeta
from connectors.section_types import SECTION_TYPES

WHOLE = "section"


class Resources(Protocol):
    """What the read path asks of a connector, resource by resource."""

    agency: str
    section: str
    cache_ttl_seconds: int
    keyed: frozenset[str]  # resources whose path names a field of another
    parents: frozenset[str]  # the resources those fields are read from

    def resources_for(self, fields: Collection[str] | None) -> tuple[str, ...]: ...

    def ref_values(self, resources: Mapping[str, Any]) -> Refs | None: ...

    async def fetch_resources(
        self, card_number: str, wanted: Collection[str], known: Mapping[str, Any]
    ) -> dict[str, Any] | None: ...

    def assemble(self, resources: Mapping[str, Any], meta: SectionMeta) -> Section: ...


class WholeSection:
    """A connector that fetches its section in one piece, as one resource. Its answer is kept as JSON
    (cache/codec.py), so a shared cache can hold it like any agency answer."""

    keyed: frozenset[str] = frozenset()
    parents: frozenset[str] = frozenset()

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self.agency, self.section = connector.agency, connector.section
        self.cache_ttl_seconds = connector.cache_ttl_seconds

    def resources_for(self, fields: Collection[str] | None) -> tuple[str, ...]:
        return (WHOLE,)

    def ref_values(self, resources: Mapping[str, Any]) -> Refs | None:
        return ()

    async def fetch_resources(
        self, card_number: str, wanted: Collection[str], known: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        section = await self.connector.fetch(card_number)
        return None if section is None else {WHOLE: codec.encode(section)}

    def assemble(self, resources: Mapping[str, Any], meta: SectionMeta) -> Section:
        whole: Section = codec.decode(SECTION_TYPES[self.section], resources[WHOLE])
        return dataclasses.replace(whole, meta=meta)


def resources_of(connector: Connector) -> Resources:
    return connector if isinstance(connector, ManifestConnector) else WholeSection(connector)


async def read_uncached(connector: Connector, card_number: str, fields: Collection[str] | None) -> Section | None:
    """The selected fields' resources, straight from the agency."""
    if fields is None:  # the connector's own path: a whole section, as before there were selections
        return await connector.fetch(card_number)
    source = resources_of(connector)
    fetched = await source.fetch_resources(card_number, source.resources_for(fields), {})
    return None if fetched is None else source.assemble(fetched, connector.meta())
