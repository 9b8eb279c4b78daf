"""One DataLoader per section per request: however many fields of a section a query asks for, and
however many times, the agency is called once per citizen, for the resources the fields need.

Resolvers pass the section's selected fields (``requested_fields``) as plain domain field names: the
read path (cache/source.py) fetches only the resources those fields are built from.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Sequence
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.types import Info
from strawberry.types.nodes import SelectedField, Selection

from cache.source import SectionSource
from connectors.domain import Section

Key = tuple[str, frozenset[str] | None]  # card number, the section fields asked for (None: all)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class SectionLoaders:
    def __init__(self, source: SectionSource) -> None:
        self._source = source
        self._loaders: dict[str, DataLoader[Key, Section | None]] = {}

    def loader(self, section: str) -> DataLoader[Key, Section | None]:
        if section not in self._loaders:

            async def batch(keys: Sequence[Key]) -> list[Section | BaseException | None]:
                # Several selections of one citizen's section in one batch: one read, for all their fields.
                wanted: dict[str, frozenset[str] | None] = {}
                for card_number, fields in keys:
                    before = wanted.get(card_number, frozenset())
                    wanted[card_number] = None if fields is None or before is None else before | fields
                # Agencies answer one citizen per call: fan out, keep each failure with its key.
                read = [self._source.read(section, n, f) for n, f in wanted.items()]
                results = dict(zip(wanted, await asyncio.gather(*read, return_exceptions=True), strict=True))
                return [results[n] for n, _ in keys]

            self._loaders[section] = DataLoader(load_fn=batch)
        return self._loaders[section]

    async def load(self, section: str, card_number: str, fields: Collection[str] | None = None) -> Section | None:
        key: Key = (card_number, None if fields is None else frozenset(fields))
        return await self.loader(section).load(key)


def requested_fields(info: Info[Any, Any]) -> frozenset[str]:
    """The fields selected under the field being resolved (fragments included), as domain field names
    (``cardNumber`` -> ``card_number``). ``@skip``/``@include`` are not evaluated: a field they leave
    out is still fetched, never the reverse."""
    names: set[str] = set()

    def walk(selections: Sequence[Selection]) -> None:
        for selection in selections:
            if isinstance(selection, SelectedField):
                names.add(_CAMEL.sub("_", selection.name).lower())
            else:
                walk(selection.selections)

    for field in info.selected_fields:
        walk(field.selections)
    return frozenset(names)
