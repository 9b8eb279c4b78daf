"""Housekeeping: deleting the records that only pile up (expired and revoked tokens, used codes).

Every hub instance runs the job (``Housekeeper``, started in the app's lifespan) about every
``prune_interval_seconds``, at a random point of each interval so that instances started together do
not run it together; ``cardhub db prune`` runs it once on demand. Several runs at once are safe: each
deletes bounded batches of rows found by an indexed expiry column, and a row one run deleted first is
simply not counted by the other. A run that fails (the database away) is logged and tried again at
the next interval; it never stops the hub.

What is deleted, ``prune_after_seconds`` after it expired or was revoked: access tokens, refresh tokens
and authorization codes; and the grants client-credentials tokens once started (none are made now).
The queries belong to the modules that own the records. Consents keep their full history and the
access log is never pruned: neither is listed here. Citizen sessions are signed cookies
(``auth/web/session.py``): there is no server-side session record to delete.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from auth import tokens
from auth.oauth import authorization_code, grants
from hub.periodic import Periodic

log = logging.getLogger("cardhub.housekeeping")

Batch = Callable[[datetime, int], Awaitable[tuple[int, int]]]  # (before, limit) -> (found, deleted)


@dataclass(frozen=True)
class Kind:
    name: str
    prune: Batch


KINDS = (
    Kind("access_tokens", tokens.prune),
    Kind("refresh_tokens", grants.prune),
    Kind("authorization_codes", authorization_code.prune),
    Kind("client_credentials_grants", grants.prune_client_credentials),
)


async def prune(after_seconds: float, batch_size: int, now: datetime | None = None) -> dict[str, int]:
    """Delete what expired or was revoked more than ``after_seconds`` ago; the rows deleted per kind."""
    before = (now or datetime.now(UTC)) - timedelta(seconds=after_seconds)
    counts: dict[str, int] = {}
    for kind in KINDS:
        counts[kind.name] = 0
        while True:
            found, deleted = await kind.prune(before, batch_size)
            counts[kind.name] += deleted
            if found < batch_size:
                break
            await asyncio.sleep(0)  # one batch per statement: requests get the database in between
    return counts


class Housekeeper(Periodic):
    name = "cardhub-housekeeping"

    """The periodic job of one hub instance."""

    def __init__(self, interval_seconds: float, after_seconds: float, batch_size: int) -> None:
        self.interval = interval_seconds
        self.after = after_seconds
        self.batch_size = batch_size
        super().__init__()

    async def round(self) -> None:
        await self.run_once()

    def first_delay(self) -> float:
        return random.uniform(0, self.interval)  # spreads instances started together

    async def run_once(self) -> dict[str, int] | None:
        """One run; None when it failed (logged, with the reason)."""
        try:
            counts = await prune(self.after, self.batch_size)
        except Exception as exc:  # the database away, a timeout: try again next interval, never stop the hub
            log.warning("housekeeping failed (%s: %s); trying again in %.0f s", type(exc).__name__, exc, self.interval)
            return None
        if any(counts.values()):
            log.info("housekeeping pruned %s", ", ".join(f"{n} {kind}" for kind, n in counts.items()))
        return counts
