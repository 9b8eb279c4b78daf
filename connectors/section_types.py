"""The profile sections' own types, as a manifest's mapping sees them: which fields a section and its
list items have, and of what type. Read from the domain dataclasses (connectors/domain.py)."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

from connectors import domain

SECTION_TYPES: dict[str, type[Any]] = {
    "social_security": domain.SocialSecurity,
    "transit": domain.Transit,
    "health": domain.Health,
    "housing_fund": domain.HousingFund,
    "library": domain.Library,
}


@dataclasses.dataclass(frozen=True)
class Target:
    """What a section field holds: its base type, whether it may be None, and for tuples the item type."""

    name: str
    base: Any
    optional: bool
    item: Any = None  # tuple[X, ...] -> X

    def describe(self) -> str:
        base = self.item if self.item is not None else self.base
        label = getattr(base, "__name__", str(base))
        label = f"list of {label}" if self.item is not None else label
        return f"{label} or null" if self.optional else label


def targets(cls: type[Any]) -> dict[str, Target]:
    hints = typing.get_type_hints(cls)
    found: dict[str, Target] = {}
    for f in dataclasses.fields(cls):
        if f.name == "meta":
            continue
        hint = hints[f.name]
        optional = False
        if typing.get_origin(hint) in (Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional, hint = True, args[0]
        if typing.get_origin(hint) is tuple:
            found[f.name] = Target(f.name, tuple, optional, typing.get_args(hint)[0])
        else:
            found[f.name] = Target(f.name, hint, optional)
    return found


def fields_table(section: str) -> list[tuple[str, str]]:
    """(field, type) of a section and of its list items, for the docs."""
    rows: list[tuple[str, str]] = []
    for name, target in targets(SECTION_TYPES[section]).items():
        rows.append((name, target.describe()))
        if dataclasses.is_dataclass(target.item):
            item_cls = typing.cast(type[Any], target.item)
            rows.extend((f"{name}[].{sub}", t.describe()) for sub, t in targets(item_cls).items())
    return rows
