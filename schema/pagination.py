"""Cursor pagination over a section's lists (``first``/``after``), with a cap on ``first``.

Agencies paginate in their own ways; the connector collects a bounded list, and the schema pages
through it with opaque cursors so clients see one style everywhere.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import strawberry

from connectors.base import MAX_ITEMS
from schema.context import Info
from schema.errors import BadUserInput

T = TypeVar("T")
D = TypeVar("D")

_CURSOR_PREFIX = "offset:"


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Page(Generic[T]):
    nodes: list[T]
    total_count: int = strawberry.field(
        description=f"Items the hub holds for this list: the agency's, newest first, up to {MAX_ITEMS} per list."
    )
    page_info: PageInfo


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        offset = int(text.removeprefix(_CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadUserInput("invalid cursor: pass an endCursor from a previous page", argument="after") from None
    if offset < 0:
        raise BadUserInput("invalid cursor: pass an endCursor from a previous page", argument="after")
    return offset


def paginate(
    info: Info, items: Sequence[D], convert: Callable[[D], T], first: int | None, after: str | None
) -> Page[T]:
    services = info.context.services
    size = services.default_page_size if first is None else first
    if size < 0 or size > services.max_page_size:
        raise BadUserInput(
            f"first must be between 0 and {services.max_page_size}", argument="first", max=services.max_page_size
        )
    start = 0 if after is None else decode_cursor(after) + 1
    window = items[start : start + size]
    end = start + len(window) - 1
    return Page(
        nodes=[convert(item) for item in window],
        total_count=len(items),
        page_info=PageInfo(
            has_next_page=start + len(window) < len(items),
            end_cursor=encode_cursor(end) if window else None,
        ),
    )
