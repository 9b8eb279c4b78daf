"""A manifest's mapping compiled into plain functions that build the section's domain dataclass from
the agency's payloads (checked beforehand by connectors/mapping_checks.py). Each raises ``ValueError``
naming the field on bad data, which the connector reports as ``AGENCY_BAD_RESPONSE``.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
import typing
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors import domain, formats
from connectors.manifest import FieldMap, Manifest
from connectors.section_types import SECTION_TYPES, Target, targets

Reader = Callable[[object], Any]


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
