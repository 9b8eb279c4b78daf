"""A manifest's mapping, checked against the section's own types and compiled into plain functions.

``check`` runs when a manifest is parsed: every field of the section is mapped, no field is mapped that
the section does not have, each value is read in a way its type allows (money for amounts, a date
format for dates, enum values that exist). ``compile_section`` then turns the mapping into closures that
build the domain dataclass from the agency's payloads; each raises ``ValueError`` naming the field on
bad data, which the connector reports as ``AGENCY_BAD_RESPONSE``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Union

from connectors import domain, formats
from connectors.manifest import FieldMap, ListMap, Manifest, ManifestError, Problem

SECTION_TYPES: dict[str, type[Any]] = {
    "social_security": domain.SocialSecurity,
    "transit": domain.Transit,
    "health": domain.Health,
    "housing_fund": domain.HousingFund,
    "library": domain.Library,
}

Reader = Callable[[object], Any]


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


# --- checking ------------------------------------------------------------------------------------


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
    except ValueError:
        return False
    return True


def _no_such_field(where: str, section: str, wanted: Mapping[str, Target]) -> Problem:
    return Problem(path=where, reason=f"the {section} section has no such field (fields: {', '.join(wanted)})")


def _paths(fm: FieldMap) -> list[str]:
    return [fm.path] if fm.path is not None else list(fm.sum or [])


# --- compiling --------------------------------------------------------------------------------------


class Missing(ValueError):
    pass


class UnknownValue(ValueError):
    """An enumeration value the manifest does not map (skippable in lists with unknown = "skip")."""


@functools.lru_cache(maxsize=4096)
def path_reader(path: str, nullable: bool = False) -> Reader:
    """A function reading a dotted path out of a JSON document; null on the way gives None if nullable."""
    parts = path.split(".")
    if len(parts) == 1:  # most item fields: one key, read without the loop
        key = parts[0]

        def read_key(doc: object) -> Any:
            if type(doc) is dict and key in doc:
                return doc[key]
            if doc is None and nullable:
                return None
            if not isinstance(doc, dict):
                raise ValueError(f"expected an object at 'the answer', got {type(doc).__name__}")
            raise Missing(f"missing field {key!r}")

        return read_key

    def read(doc: object) -> Any:
        value = doc
        for i, part in enumerate(parts):
            if value is None and nullable:
                return None
            if not isinstance(value, dict):
                where = ".".join(parts[:i]) or "the answer"
                raise ValueError(f"expected an object at {where!r}, got {type(value).__name__}")
            if part not in value:
                raise Missing(f"missing field {'.'.join(parts[: i + 1])!r}")
            value = value[part]
        return value

    return read


def _converter(fm: FieldMap, target: Target, label: str) -> Callable[[Any], Any]:
    base = target.item if target.base is tuple else target.base
    if base is Decimal:
        parse_money = formats.money_from_fen if fm.money == "fen" else formats.money_from_decimal_string
        return parse_money
    if base is date:
        fmt = fm.date or ""
        if fmt == "epoch_ms":
            return lambda v: formats.datetime_from_epoch_millis(v).astimezone(formats.CHINA_TZ).date()
        if fmt == "iso8601":
            return lambda v: formats.datetime_from_iso(v).astimezone(formats.CHINA_TZ).date()
        return lambda v: formats.date_from(v, fmt)
    if base is datetime:
        return formats.datetime_from_epoch_millis if fm.datetime == "epoch_ms" else formats.datetime_from_iso
    if fm.enum is not None:
        table = dict(fm.enum)
        members: Mapping[str, Any] = base.__members__ if isinstance(base, type) and issubclass(base, enum.Enum) else {}

        def mapped(v: Any) -> Any:
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)  # TOML keys are text: code 1 is mapped as "1"
            if not isinstance(v, str) or v not in table:
                raise UnknownValue(f"{label}: unknown value {v!r}")
            value = table[v]
            return members[str(value)] if members else value

        return mapped
    if base is bool:

        def boolean(v: Any) -> bool:
            if not isinstance(v, bool):
                raise ValueError(f"{label} should be true or false, got {v!r}")
            return v

        return boolean
    if base is int:
        lowest = fm.min

        def integer(v: Any) -> int:
            if isinstance(v, bool) or not isinstance(v, int) or (lowest is not None and v < lowest):
                raise ValueError(
                    f"{label} should be a whole number{'' if lowest is None else f' >= {lowest}'}, got {v!r}"
                )
            return v

        return integer
    reformat = fm.reformat

    def text(v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool) and reformat is None:
            return str(v)  # a numeric account or card number
        if not isinstance(v, str):
            raise ValueError(f"{label} should be text, got {v!r}")
        if reformat is not None:
            return formats.date_from(v, reformat.from_).strftime(reformat.to)
        return v

    return text


def _named(exc: ValueError, label: str) -> ValueError:
    """The error of a value conversion, naming the section field ("balance: expected a decimal ...")."""
    message = str(exc)
    return ValueError(message if message.startswith(label) else f"{label}: {message}")


def _labelled(convert: Callable[[Any], Any], label: str) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        try:
            return convert(value)
        except UnknownValue:
            raise
        except ValueError as exc:
            raise _named(exc, label) from exc

    return run


def field_reader(spec: FieldMap, target: Target, label: str) -> Reader:
    """Compile one field. Top-level fields read from ``{resource name: data}``, list items from the item."""
    fm = spec
    raw_convert = _converter(fm, target, label)
    convert = _labelled(raw_convert, label)
    if fm.sum is not None:
        readers = [path_reader(p) for p in fm.sum]
        return lambda doc: sum((convert(r(doc)) for r in readers), Decimal("0.00"))
    assert fm.path is not None
    read = path_reader(fm.path, nullable=fm.nullable)
    if target.base is tuple:
        each = path_reader(fm.each) if fm.each else (lambda v: v)
        skip = fm.unknown == "skip"

        def many(doc: object) -> tuple[Any, ...]:
            items = read(doc)
            if not isinstance(items, list):
                raise ValueError(f"{label} should be a list, got {type(items).__name__}")
            found: dict[Any, None] = {}
            for item in items:
                try:
                    found[convert(each(item))] = None
                except UnknownValue:  # only an unmapped value is skippable; a broken element is not
                    if not skip:
                        raise
            return tuple(found)

        return many
    nullable = fm.nullable

    def one(doc: object) -> Any:
        value = read(doc)
        if value is None:
            if nullable:
                return None
            raise ValueError(f"{label} is null")
        try:  # the conversion, with errors naming the field (one frame less than _labelled: hot path)
            return raw_convert(value)
        except UnknownValue:
            raise
        except ValueError as exc:
            raise _named(exc, label) from exc

    return one


@dataclasses.dataclass(frozen=True)
class CompiledList:
    resource: str
    build_item: Callable[[object], Any]
    sort_key: Callable[[Any], Any] | None
    descending: bool


@dataclasses.dataclass(frozen=True)
class CompiledSection:
    cls: type[Any]
    fields: dict[str, Reader]  # read from {resource name: data}
    lists: dict[str, CompiledList]

    def build(self, singles: Mapping[str, object], lists: Mapping[str, list[object]], meta: domain.SectionMeta) -> Any:
        values: dict[str, Any] = {}
        for name, read in self.fields.items():
            values[name] = read(singles)
        for name, cl in self.lists.items():
            items = [cl.build_item(raw) for raw in lists[cl.resource]]
            if cl.sort_key is not None:
                items.sort(key=cl.sort_key, reverse=cl.descending)  # stable: the agency's order breaks ties
            values[name] = tuple(items)
        return self.cls(**values, meta=meta)


def compile_section(manifest: Manifest) -> CompiledSection:
    assert manifest.mapping is not None
    cls = SECTION_TYPES[manifest.section]
    wanted = targets(cls)
    fields = {name: field_reader(spec, wanted[name], name) for name, spec in manifest.mapping.fields.items()}
    lists: dict[str, CompiledList] = {}
    for name, lm in manifest.mapping.lists.items():
        item_cls = typing.cast(type[Any], wanted[name].item)
        item_targets = targets(item_cls)
        readers = {sub: field_reader(spec, item_targets[sub], f"{name}.{sub}") for sub, spec in lm.fields.items()}

        def build_item(raw: object, _cls: type[Any] = item_cls, _readers: dict[str, Reader] = readers) -> Any:
            return _cls(**{sub: read(raw) for sub, read in _readers.items()})

        sort_field = lm.sort_by
        lists[name] = CompiledList(
            resource=lm.from_,
            build_item=build_item,
            sort_key=None if sort_field is None else operator.attrgetter(sort_field),
            descending=lm.order == "desc",
        )
    return CompiledSection(cls, fields, lists)
