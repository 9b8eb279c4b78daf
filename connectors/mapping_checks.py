"""A manifest's mapping, checked against the section's own types when the manifest is parsed.

Every field of the section is mapped, no field is mapped that the section does not have, each value
is read in a way its type allows (money for amounts, a date format for dates, enum values that
exist), and every resource path names what exists. Each problem names its path in the manifest.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import typing
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.manifest import FieldMap, ListMap, Manifest, ManifestError, Problem
from connectors.section_types import SECTION_TYPES, Target, targets


def check(manifest: Manifest) -> None:
    problems = _resource_problems(manifest)
    if manifest.mapping is not None:
        problems.extend(_mapping_problems(manifest))
    if problems:
        raise ManifestError(problems)


def _resource_problems(manifest: Manifest) -> list[Problem]:
    problems: list[Problem] = []
    singles = {n for n, r in manifest.resources.items() if r.items is None}
    for name, resource in manifest.resources.items():
        for placeholder in resource.placeholders():
            where = f"resources.{name}.path"
            if placeholder == "card_number":
                continue
            head, _, rest = placeholder.partition(".")
            if not rest:
                problems.append(
                    Problem(path=where, reason=f"{{{placeholder}}}: use {{card_number}} or {{resource.field}}")
                )
            elif head not in manifest.resources:
                problems.append(Problem(path=where, reason=f"{{{placeholder}}}: no resource {head!r}"))
            elif (
                head == name
                or head not in singles
                or any(p != "card_number" for p in manifest.resources[head].placeholders())
            ):
                problems.append(
                    Problem(
                        path=where,
                        reason=f"{{{placeholder}}}: may name only a single (not list) resource whose own path "
                        "needs nothing but {card_number}",
                    )
                )
    return problems


def _mapping_problems(manifest: Manifest) -> list[Problem]:
    assert manifest.mapping is not None
    problems: list[Problem] = []
    section_cls = SECTION_TYPES[manifest.section]
    wanted = targets(section_cls)
    singles = {n for n, r in manifest.resources.items() if r.items is None}
    lists = {n for n, r in manifest.resources.items() if r.items is not None}
    used: set[str] = set()

    for name, spec in manifest.mapping.fields.items():
        where = f"mapping.fields.{name}"
        target = wanted.get(name)
        if target is None:
            problems.append(_no_such_field(where, manifest.section, wanted))
            continue
        if dataclasses.is_dataclass(target.item):
            problems.append(Problem(path=where, reason=f"{name} is a list of records: map it under mapping.lists"))
            continue
        fm = spec
        for path in _paths(fm):
            head = path.split(".", 1)[0]
            if head not in manifest.resources:
                problems.append(Problem(path=where, reason=f"{path!r}: no resource {head!r}"))
            elif head not in singles:
                problems.append(Problem(path=where, reason=f"{path!r}: {head!r} is a list resource"))
            elif "." not in path:
                problems.append(Problem(path=where, reason=f"{path!r}: name a field inside the resource"))
            used.add(head)
        problems.extend(_spec_problems(where, fm, target))

    for name, lm in manifest.mapping.lists.items():
        where = f"mapping.lists.{name}"
        target = wanted.get(name)
        if target is None:
            problems.append(_no_such_field(where, manifest.section, wanted))
            continue
        if not dataclasses.is_dataclass(target.item):
            problems.append(Problem(path=where, reason=f"{name} is not a list of records: map it under mapping.fields"))
            continue
        if lm.from_ not in lists:
            problems.append(Problem(path=f"{where}.from", reason=f"{lm.from_!r} is not a list resource"))
        used.add(lm.from_)
        problems.extend(_list_problems(where, lm, targets(typing.cast(type[Any], target.item))))

    mapped = set(manifest.mapping.fields) | set(manifest.mapping.lists)
    for name, target in wanted.items():
        if name not in mapped:
            problems.append(
                Problem(path=f"mapping.fields.{name}", reason=f"required: the section's {target.describe()}")
            )
    for name in manifest.resources:
        referenced = any(p.split(".", 1)[0] == name for r in manifest.resources.values() for p in r.placeholders())
        if name not in used and not referenced:
            problems.append(
                Problem(path=f"resources.{name}", reason="not used by the mapping (every resource is a call)")
            )
    return problems


def _list_problems(where: str, lm: ListMap, item_targets: dict[str, Target]) -> list[Problem]:
    problems: list[Problem] = []
    for name, spec in lm.fields.items():
        target = item_targets.get(name)
        if target is None:
            known = ", ".join(item_targets)
            problems.append(Problem(path=f"{where}.fields.{name}", reason=f"the item has no field {name!r} ({known})"))
            continue
        problems.extend(_spec_problems(f"{where}.fields.{name}", spec, target))
    for name, target in item_targets.items():
        if name not in lm.fields:
            problems.append(Problem(path=f"{where}.fields.{name}", reason=f"required: the item's {target.describe()}"))
    if lm.sort_by is not None and lm.sort_by not in item_targets:
        problems.append(Problem(path=f"{where}.sort_by", reason=f"the item has no field {lm.sort_by!r}"))
    return problems


def _spec_problems(where: str, fm: FieldMap, target: Target) -> list[Problem]:
    problems: list[Problem] = []

    def bad(option: str, reason: str) -> None:
        problems.append(Problem(path=f"{where}.{option}", reason=reason))

    base = target.item if target.base is tuple else target.base
    kind = target.describe()
    if fm.sum is not None and base is not Decimal:
        bad("sum", f"only amounts can be summed; this is a {kind}")
    if base is Decimal and fm.money is None:
        bad("money", 'an amount needs money = "fen" or "decimal_string"')
    if base is not Decimal and fm.money is not None:
        bad("money", f"not an amount: {kind}")
    if fm.date is not None and base is not date:
        bad("date", f"not a date: {kind}")
    if base is date and fm.date is None:
        bad("date", 'a date needs its format: a strptime format such as "%Y-%m-%d", "epoch_ms" or "iso8601"')
    if fm.date is not None and fm.date not in ("epoch_ms", "iso8601") and not _strptime_format(fm.date):
        bad("date", f"{fm.date!r} is not a strptime format (such as %Y-%m-%d)")
    if fm.reformat is not None and not (_strptime_format(fm.reformat.from_) and _strptime_format(fm.reformat.to)):
        bad("reformat", "from and to must be strptime formats (such as %Y%m and %Y-%m)")
    if fm.datetime is not None and base is not datetime:
        bad("datetime", f"not an instant: {kind}")
    if base is datetime and fm.datetime is None:
        bad("datetime", 'an instant needs datetime = "iso8601" or "epoch_ms"')
    if fm.reformat is not None and base is not str:
        bad("reformat", f"only text can be reformatted; this is a {kind}")
    if fm.min is not None and base is not int:
        bad("min", f"not a whole number: {kind}")
    if fm.nullable and not target.optional:
        bad("nullable", f"{target.name} is never null in the hub's types ({kind})")
    if fm.each is not None and target.base is not tuple:
        bad("each", f"not a list: {kind}")
    if isinstance(base, type) and issubclass(base, enum.Enum):
        if fm.enum is None:
            bad("enum", f"map the agency's values to {', '.join(m.name for m in base)}")
        else:
            for wire, value in fm.enum.items():
                if not isinstance(value, str) or value not in base.__members__:
                    bad(f"enum.{wire}", f"{value!r} is not one of {', '.join(base.__members__)}")
    elif fm.enum is not None:
        if base is bool:
            for wire, value in fm.enum.items():
                if not isinstance(value, bool):
                    bad(f"enum.{wire}", f"{target.name} is true or false, not {value!r}")
        else:
            bad("enum", f"not an enumeration: {kind}")
    if fm.unknown == "skip" and target.base is not tuple:
        bad("unknown", "only a list of values can skip unknown ones")
    if target.base is tuple and dataclasses.is_dataclass(target.item):
        bad("", "a list of records is mapped under mapping.lists")
    return problems


def _strptime_format(fmt: str) -> bool:
    """A format strptime reads back what strftime writes with it, with at least one directive."""
    if not re.search(r"%[^%]", fmt.replace("%%", "")):
        return False
    try:
        sample = datetime(2024, 3, 5, 6, 7, 8).strftime(fmt)
        datetime.strptime(sample, fmt)
    except (ValueError, re.error):  # strptime turns the format into a regex: "%d %d" names a group twice
        return False
    return True


def _no_such_field(where: str, section: str, wanted: Mapping[str, Target]) -> Problem:
    return Problem(path=where, reason=f"the {section} section has no such field (fields: {', '.join(wanted)})")


def _paths(fm: FieldMap) -> list[str]:
    return [fm.path] if fm.path is not None else list(fm.sum or [])
