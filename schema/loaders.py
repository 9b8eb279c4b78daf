"""One DataLoader per section per request: however many fields of a section a query asks for, and
however many times, the agency is called once per citizen."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping, Sequence

from strawberry.dataloader import DataLoader

from cache.sections import SectionCache
from connectors.base import Connector
from connectors.domain import Section
from connectors.errors import AgencyUnavailable


class SectionLoaders:
    def __init__(self, connectors: Mapping[str, Connector], cache: SectionCache | None = None) -> None:
        self._connectors = connectors
        self._cache = cache
        self._loaders: dict[str, DataLoader[str, Section | None]] = {}

    def loader(self, section: str) -> DataLoader[str, Section | None]:
        if section not in self._loaders:
            connector = self._connectors.get(section)  # the one in force now, kept for the whole request

            async def batch(card_numbers: Sequence[str]) -> list[Section | BaseException | None]:
                if connector is None:  # disabled, or never registered
                    return [AgencyUnavailable(section, "no connector serves this section now")] * len(card_numbers)
                # Agencies answer one citizen per call: fan out, keep each failure with its key.
                cache = self._cache
                fetch = connector.fetch if cache is None else functools.partial(cache.fetch, connector)
                return await asyncio.gather(*(fetch(n) for n in card_numbers), return_exceptions=True)

            self._loaders[section] = DataLoader(load_fn=batch)
        return self._loaders[section]

    async def load(self, section: str, card_number: str) -> Section | None:
        return await self.loader(section).load(card_number)
