"""One DataLoader per agency per request: however many fields of a section a query asks for, and
however many times, the agency is called once per citizen."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from strawberry.dataloader import DataLoader

from connectors.base import Connector
from connectors.domain import Section


class SectionLoaders:
    def __init__(self, connectors: Mapping[str, Connector]) -> None:
        self._connectors = connectors
        self._loaders: dict[str, DataLoader[str, Section | None]] = {}

    def loader(self, agency: str) -> DataLoader[str, Section | None]:
        if agency not in self._loaders:
            connector = self._connectors[agency]

            async def batch(card_numbers: Sequence[str]) -> list[Section | BaseException | None]:
                # Agencies answer one citizen per call: fan out, keep each failure with its key.
                return await asyncio.gather(*(connector.fetch(n) for n in card_numbers), return_exceptions=True)

            self._loaders[agency] = DataLoader(load_fn=batch)
        return self._loaders[agency]

    async def load(self, agency: str, card_number: str) -> Section | None:
        return await self.loader(agency).load(card_number)
