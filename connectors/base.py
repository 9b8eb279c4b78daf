"""The Connector interface: one adapter per agency, small, mapping wire format to domain types."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, overload

from connectors.domain import Section, SectionMeta
from connectors.errors import AgencyBadResponse
from connectors.runtime import AgencyClient, AgencyResponse

T1 = TypeVar("T1")
T2 = TypeVar("T2")
T3 = TypeVar("T3")


@overload
async def gather_or_cancel(a: Awaitable[T1], b: Awaitable[T2], /) -> tuple[T1, T2]: ...
@overload
async def gather_or_cancel(a: Awaitable[T1], b: Awaitable[T2], c: Awaitable[T3], /) -> tuple[T1, T2, T3]: ...
@overload
async def gather_or_cancel(*calls: Awaitable[T1]) -> tuple[T1, ...]: ...
async def gather_or_cancel(*calls: Awaitable[Any]) -> tuple[Any, ...]:
    """Run agency calls together; the first failure cancels the rest instead of letting them wait out
    their own timeouts against an agency that is already failing."""
    tasks = [asyncio.ensure_future(c) for c in calls]
    try:
        return tuple(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()


# A list can be long (a commuter's trips); adapters walk the agency's pages up to this many items.
MAX_ITEMS = 200

T = TypeVar("T")


class Connector(ABC):
    """Fetches one profile section for one citizen from one agency."""

    agency: str  # agency id, e.g. "transit"
    name: str  # the agency's display name
    section: str  # the profile section it serves, e.g. "transit"
    health_path: str = "/openapi.json"
    cache_ttl_seconds: int = 0  # how long an answer may be served from the cache (0: never cached)

    def __init__(self, client: AgencyClient) -> None:
        self.client = client

    @abstractmethod
    async def fetch(self, card_number: str) -> Section | None:
        """The citizen's section, or None when the citizen has no account at this agency.

        Raises ``AgencyError`` subclasses for every failure; never anything else.
        """

    async def ping(self) -> None:
        """Raise ``AgencyError`` unless the agency answers its health path."""
        response = await self.client.get(self.health_path)
        if response.status != 200:
            raise AgencyBadResponse(self.agency, f"health check answered HTTP {response.status}")

    def meta(self) -> SectionMeta:
        return SectionMeta(source=self.agency, fetched_at=datetime.now(UTC))

    def mapped(self, what: str, build: Callable[[], T]) -> T:
        """Run a mapping; turn any shape or value error into AgencyBadResponse naming ``what``."""
        try:
            return build()
        # ArithmeticError: decimal's InvalidOperation and OverflowError are not ValueErrors, and an
        # agency's numbers must never reach the client as an internal error.
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
            raise AgencyBadResponse(self.agency, f"unexpected {what}: {exc}") from exc

    def unexpected(self, response: AgencyResponse, what: str) -> AgencyBadResponse:
        return AgencyBadResponse(self.agency, f"unexpected answer to {what} (HTTP {response.status})")
