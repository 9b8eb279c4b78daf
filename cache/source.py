"""The one read path: every agency-backed section a request reads comes through ``SectionSource``.

It stands in front of the connectors in force (connectors/live.py) and owns what lies between a
resolver and an agency: which connector serves a section, the cache (cache/sections.py, with its
single-flight, stale-if-error and circuit) and the rate limit shared by every instance (given to the
connectors when the cache is shared). Its invalidations are explicit methods, called by whoever
changes what they depend on: ``connector_changed`` (LiveConnectors, on a new version, a disable or a
refused binding), ``consent_withdrawn`` (the hub passes it to the pages and the schema's mutations:
auth does not know the cache), ``purge`` (``cardhub cache purge``, through the database, at every poll).

The consent check runs before ``read`` is called, never inside it (schema/permissions.py).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping

from cache.purges import PurgeFollower
from cache.resources import read_uncached
from cache.sections import SectionCache
from connectors.base import Connector
from connectors.domain import Section
from connectors.errors import AgencyUnavailable
from connectors.live import LiveConnectors

log = logging.getLogger("cardhub.cache")


class SectionSource:
    def __init__(self, connectors: Mapping[str, Connector], cache: SectionCache | None = None) -> None:
        self.connectors = connectors
        self.cache = cache  # None: every read goes to the agency
        self._purges = PurgeFollower()
        if isinstance(connectors, LiveConnectors):
            connectors.listener = self  # its changes reach this source's cache

    async def read(self, section: str, card_number: str, fields: Collection[str] | None = None) -> Section | None:
        """The citizen's section with at least ``fields`` (domain field names; None: all), or None when
        the citizen has no account there. Raises ``AgencyError`` subclasses."""
        connector = self.connectors.get(section)  # the one in force now
        if connector is None:  # disabled, or never registered
            raise AgencyUnavailable(section, "no connector serves this section now")
        if self.cache is None:
            return await read_uncached(connector, card_number, fields)
        return await self.cache.fetch(connector, card_number, fields)

    # --- invalidation ------------------------------------------------------------------------------

    async def connector_changed(self, section: str) -> None:
        """Copies made by the section's old connector go, for every citizen (and every instance sharing
        the cache)."""
        if self.cache is not None:
            await self.cache.forget_section(section)

    async def consent_withdrawn(self, citizen: str, scopes: Iterable[str]) -> None:
        """The citizen's copies of the withdrawn scopes' sections go. The withdrawal itself is enforced
        by the consent check on the next request; this keeps no more than the citizen still allows."""
        if self.cache is None:
            return
        sections = set(scopes)
        withdrawn = [c for s, c in self.connectors.items() if s in sections]
        try:
            await self.cache.forget_citizen(citizen, withdrawn)
        except Exception:  # the withdrawal stands, and is enforced before any cache read
            log.exception("dropping the cached copies of a withdrawn consent failed")

    async def purge(self, section: str | None = None) -> None:
        if self.cache is None:
            return
        if section is None:
            await self.cache.purge()
        else:
            await self.cache.forget_section(section)

    async def polled(self) -> None:
        """Apply the purges recorded by ``cardhub cache purge`` anywhere since the last poll."""
        await self._purges.apply(self.cache)

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if isinstance(self.connectors, LiveConnectors):
            await self.connectors.start()
        await self._purges.apply(self.cache)  # from now on, purges requested elsewhere reach this process

    async def close(self) -> None:
        if isinstance(self.connectors, LiveConnectors):
            await self.connectors.close()
        if self.cache is not None:
            await self.cache.close()
