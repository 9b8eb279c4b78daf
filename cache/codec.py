"""Sections to JSON text and back, for a cache shared between processes (Redis).

Driven by the domain dataclasses' own type hints, so a new field needs no change here. Money stays
exact (Decimal as a string), dates and instants as ISO 8601, enums by value.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any, Union


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def decode(cls: Any, data: Any) -> Any:
    origin = typing.get_origin(cls)
    if origin in (Union, types.UnionType):
        if data is None:
            return None
        (inner,) = [a for a in typing.get_args(cls) if a is not type(None)]
        return decode(inner, data)
    if origin is tuple:
        item = typing.get_args(cls)[0]
        return tuple(decode(item, v) for v in data)
    if isinstance(cls, type) and dataclasses.is_dataclass(cls):
        hints = _hints(cls)
        return cls(**{f.name: decode(hints[f.name], data[f.name]) for f in dataclasses.fields(cls)})
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return cls(data)
    if cls is Decimal:
        return Decimal(data)
    if cls is datetime:
        return datetime.fromisoformat(data)
    if cls is date:
        return date.fromisoformat(data)
    return data


@cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def dumps(value: Any) -> str:
    return json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"))


def loads(cls: Any, text: str) -> Any:
    return decode(cls, json.loads(text))
