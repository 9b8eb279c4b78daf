"""The section cache: an agency's answer for one citizen, kept for the connector's TTL.

The order of things, on every read (``schema/loaders.py`` calls ``fetch``):

1. the consent check has already run: the loaders are reached only from resolvers behind
   ``RequireScope`` (schema/permissions.py), so nothing is read here for a client that may not see it;
2. a fresh copy (younger than the connector's ``cache_ttl_seconds``) is served as it is;
3. otherwise one agency call per citizen and section, however many requests ask at once in this
   process (single-flight), and its answer is stored;
4. when that call fails and a copy younger than TTL + ``stale_seconds`` exists, the copy is served
   with ``meta.stale = true`` (stale-if-error); otherwise the failure goes to the client as before.

"No account at this agency" is cached too. Keys name the section, two generations (one for the
section, bumped when its connector changes; one for everything, bumped by a purge) and an HMAC of the
card number under the ``cache_key`` (a bare hash of a 12-digit number is reversed by trying them all);
values hold the section's data and when it was stored, sealed with AES-256-GCM under the same key
(bound to their cache key, so a value moved under another citizen's key does not open) whenever the
backend is shared. Neither holds a token. A rotation of the key leaves the old entries unreadable:
a cold cache, nothing worse.
The backend failing (Redis away) makes every read a miss and every write a no-op: requests go to
the agency, and the cache is used again as soon as the backend answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cache import codec
from cache.backend import CacheBackend, CacheUnavailable
from connectors.base import Connector
from connectors.domain import AGENCY_IDS, Section
from connectors.errors import AgencyError, AgencyRateLimited, AgencyTimeout, AgencyUnavailable
from connectors.section_types import SECTION_TYPES
from keys.keyring import CACHE, KeySet
from keys.sealing import Sealer, SealError
from telemetry import metrics

log = logging.getLogger("cardhub.cache")

ALL = "all"


@dataclass(frozen=True, slots=True)
class Stored:
    stored_at: float  # unix time
    section: Section | None  # None: the citizen has no account at this agency


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    stale_served: int = 0
    backend_errors: int = 0
    circuit_refusals: int = 0


@dataclass(frozen=True, slots=True)
class Circuit:
    """After ``failures`` unavailable or timed-out reads of a section within ``window_seconds``, the
    section's agency is not called for ``open_seconds``: reads get a stale copy or fail at once
    instead of each waiting out the timeout. Kept in the backend: with Redis, every instance shares
    it, so a failing agency is spared the whole city's retries."""

    failures: int = 5
    window_seconds: float = 30.0
    open_seconds: float = 15.0


class SectionCache:
    def __init__(
        self,
        backend: CacheBackend,
        stale_seconds: float = 3600.0,
        circuit: Circuit = Circuit(),
        keys: KeySet | None = None,  # None: a key of this process only (instances sharing a backend need one key)
    ) -> None:
        self.backend = backend
        self.stale_seconds = stale_seconds
        self.circuit = circuit
        self.stats = CacheStats()
        self._flights: dict[str, asyncio.Future[Section | None]] = {}
        self._shared = backend.name != "memory"  # values cross processes: encode and seal them
        keys = keys or KeySet.ephemeral(CACHE)
        self._name_key = keys.derive("cache names hmac-sha256")
        self._sealer = Sealer(keys, "cache values")

    async def fetch(self, connector: Connector, card_number: str) -> Section | None:
        ttl = connector.cache_ttl_seconds
        if ttl <= 0:
            return await connector.fetch(card_number)
        key = await self._key(connector.section, card_number)
        stored = await self._read(key, connector.section) if key else None
        if stored is not None and time.time() - stored.stored_at < ttl:
            self.stats.hits += 1
            metrics.cache_event("hit")
            return stored.section
        self.stats.misses += 1
        metrics.cache_event("miss")
        flight_key = key or f"{connector.section}:{card_number}"
        flight = self._flights.get(flight_key)
        if flight is None:
            flight = asyncio.ensure_future(self._refresh(connector, card_number, key, stored))
            self._flights[flight_key] = flight
            flight.add_done_callback(lambda _: self._flights.pop(flight_key, None))
        # Shielded: one caller giving up (a client going away) does not cancel the others' call.
        return await asyncio.shield(flight)

    async def _refresh(
        self, connector: Connector, card_number: str, key: str | None, old: Stored | None
    ) -> Section | None:
        try:
            if await self._circuit_open(connector.section):
                self.stats.circuit_refusals += 1
                metrics.cache_event("circuit_refusal")
                raise AgencyUnavailable(
                    connector.agency, "failed repeatedly just now; the hub is sparing it for a few seconds"
                )
            try:
                section = await connector.fetch(card_number)
            except (AgencyUnavailable, AgencyTimeout) as exc:
                if not isinstance(exc, AgencyRateLimited):  # our own limit says nothing about the agency
                    await self._failed(connector.section)
                raise
        except AgencyError:
            if old is not None and old.section is not None:
                age = time.time() - old.stored_at
                if age < connector.cache_ttl_seconds + self.stale_seconds:
                    self.stats.stale_served += 1
                    metrics.cache_event("stale")
                    log.info("serving a stale %s section (%.0f s old): the agency failed", connector.section, age)
                    meta = dataclasses.replace(old.section.meta, stale=True)
                    stale: Section = dataclasses.replace(old.section, meta=meta)
                    return stale
            raise
        if key is not None:
            await self._write(key, Stored(time.time(), section), connector.cache_ttl_seconds + self.stale_seconds)
        return section

    async def _circuit_open(self, section: str) -> bool:
        try:
            is_open = await self.backend.get(f"circuit:{section}") is not None
        except CacheUnavailable as exc:
            self._backend_failed(exc)
            return False
        metrics.circuit(section, is_open)
        return is_open

    async def _failed(self, section: str) -> None:
        try:
            failures = await self.backend.count(f"failures:{section}", self.circuit.window_seconds)
            if failures >= self.circuit.failures:  # again at once when a first call after an opening fails
                await self.backend.set(f"circuit:{section}", "open", self.circuit.open_seconds)
                metrics.circuit(section, True)
                log.warning(
                    "%s failed %d times within %gs: not calling it for %gs",
                    section, failures, self.circuit.window_seconds, self.circuit.open_seconds,
                )  # fmt: skip
        except CacheUnavailable as exc:
            self._backend_failed(exc)

    # --- invalidation ------------------------------------------------------------------------------

    async def forget_citizen(self, card_number: str, sections: Iterable[str] = AGENCY_IDS) -> None:
        """Drop a citizen's cached sections (a consent withdrawn)."""
        keys = [k for k in [await self._key(s, card_number) for s in sections] if k]
        try:
            await self.backend.delete(*keys)
        except CacheUnavailable as exc:
            self._backend_failed(exc)

    async def forget_section(self, section: str) -> None:
        """Drop every citizen's copy of a section (its connector changed)."""
        await self._bump(section)

    async def purge(self) -> None:
        await self._bump(ALL)

    async def _bump(self, name: str) -> None:
        try:
            await self.backend.bump(name)
        except CacheUnavailable as exc:
            self._backend_failed(exc)

    # --- storage -------------------------------------------------------------------------------------

    async def _key(self, section: str, card_number: str) -> str | None:
        try:
            everything = await self.backend.generation(ALL)
            this = await self.backend.generation(section)
        except CacheUnavailable as exc:
            self._backend_failed(exc)
            return None
        digest = hmac.new(self._name_key, card_number.encode(), hashlib.sha256).hexdigest()[:32]
        return f"s:{section}:{everything}.{this}:{digest}"

    async def _read(self, key: str, section: str) -> Stored | None:
        try:
            raw = await self.backend.get(key)
        except CacheUnavailable as exc:
            self._backend_failed(exc)
            return None
        if raw is None:
            return None
        if not self._shared:
            found: Stored = raw
            return found
        try:
            data = json.loads(self._sealer.open(raw, key.encode()))
            body = data["section"]
            return Stored(
                float(data["stored_at"]), None if body is None else codec.decode(SECTION_TYPES[section], body)
            )
        except (SealError, ValueError, KeyError, TypeError) as exc:  # another version or key: a miss, not an error
            log.warning("unreadable cache entry for %s dropped: %s", section, type(exc).__name__)
            return None

    async def _write(self, key: str, stored: Stored, expire_seconds: float) -> None:
        value: Any = stored
        if self._shared:
            plain = codec.dumps({"stored_at": stored.stored_at, "section": stored.section})
            value = self._sealer.seal(plain.encode(), key.encode())
        try:
            await self.backend.set(key, value, expire_seconds)
        except CacheUnavailable as exc:
            self._backend_failed(exc)

    def _backend_failed(self, exc: CacheUnavailable) -> None:
        self.stats.backend_errors += 1
        metrics.cache_event("backend_error")
        log.warning("cache backend unavailable, reading the agency instead: %s", exc)

    async def close(self) -> None:
        await self.backend.close()
