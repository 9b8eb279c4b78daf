"""The section cache: an agency's answers for one citizen, kept per resource for the connector's TTL.

A section is built from its agency's resources (cache/resources.py), and a read asks only for the
resources its selected fields need. The order of things, on every read (``cache/source.py`` calls
``fetch``):

1. the consent check has already run: reads are reached only from resolvers behind ``RequireScope``
   (schema/permissions.py), so nothing is read here for a client that may not see it;
2. each resource with a fresh copy (younger than the connector's ``cache_ttl_seconds``) is served as
   it is; a keyed resource (``/cards/{card.cardNumber}/trips``) only while its parent's copy is fresh
   and still names the same key;
3. the others are fetched in one agency round, each resource once per citizen however many requests
   ask at once in this process (single-flight, per resource), and each answer is stored;
4. when that call fails and a copy of a resource younger than TTL + ``stale_seconds`` exists, the copy
   is served and the section says ``meta.stale = true`` (stale-if-error); otherwise the failure goes
   to the client as before. ``meta.fetchedAt`` is when the oldest resource used was fetched.

"No account at this agency" is cached too, under the resources that said so. Keys name the section,
the resource, two generations (one for the section, bumped when its connector changes; one for
everything, bumped by a purge) and an HMAC of the card number under the ``cache_key`` (a bare hash of a
12-digit number is reversed by trying them all); values hold the agency's answer and when it was
stored, sealed with AES-256-GCM under the same key (bound to their cache key, so a value moved under
another citizen's key does not open) whenever the backend is shared. Neither holds a token. A
rotation of the key leaves the old entries unreadable: a cold cache, nothing worse.
The backend failing (Redis away) makes every read a miss and every write a no-op: requests go to
the agency, never to a copy the backend could not vouch for, and the cache is used again as soon
as the backend answers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cache.backend import CacheBackend, CacheUnavailable
from cache.limits import SharedRate
from cache.resources import Resources, read_uncached, resources_of
from connectors.base import Connector
from connectors.declarative import Refs
from connectors.domain import Section, SectionMeta
from connectors.errors import AgencyError, AgencyRateLimited, AgencyTimeout, AgencyUnavailable
from keys.keyring import CACHE, KeySet
from keys.sealing import Sealer, SealError
from telemetry import metrics

log = logging.getLogger("cardhub.cache")

ALL = "all"


@dataclass(frozen=True, slots=True)
class Stored:
    """One resource's answer for one citizen."""

    stored_at: float  # unix time
    value: Any  # the agency's answer (a JSON document, or a list resource's items)
    found: bool = True  # False: the citizen has no account at this agency
    refs: Refs = ()  # a keyed resource: the parent's values its path was filled with
    stale: bool = False  # served past its TTL because the agency failed (never stored as True)


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
        self._flights: dict[str, asyncio.Future[Stored]] = {}
        self._rounds: set[asyncio.Task[None]] = set()
        self._shared = backend.name != "memory"  # values cross processes: encode and seal them
        keys = keys or KeySet.ephemeral(CACHE)
        self._name_key = keys.derive("cache names hmac-sha256")
        self._sealer = Sealer(keys, "cache values")

    def shared_rate(self) -> SharedRate | None:
        """The agencies' rate limits counted with every instance: only when the backend is shared."""
        return SharedRate(self.backend) if self._shared else None

    async def fetch(
        self, connector: Connector, card_number: str, fields: Collection[str] | None = None
    ) -> Section | None:
        """The section with at least the ``fields`` asked for (domain field names; None: all of them)."""
        if connector.cache_ttl_seconds <= 0:
            return await read_uncached(connector, card_number, fields)
        source = resources_of(connector)
        needed = source.resources_for(fields)
        keys = await self._keys(source.section, needed, card_number)
        stored = await self._read_many(keys, source.section)
        ttl = source.cache_ttl_seconds
        now = time.time()
        fresh = {n: s for n, s in stored.items() if s is not None and now - s.stored_at < ttl}
        if any(not s.found for s in fresh.values()):
            self._hit()
            return None
        fresh = _consistent(source, fresh)
        missing = [n for n in needed if n not in fresh]
        if not missing:
            self._hit()
            return _assemble(source, fresh)
        self.stats.misses += 1
        metrics.cache_event("miss")
        got = await self._fly(source, card_number, missing, fresh, stored, keys)
        pieces = {**fresh, **got}
        if any(not p.found for p in pieces.values()):
            return None
        return _assemble(source, pieces)

    def _hit(self) -> None:
        self.stats.hits += 1
        metrics.cache_event("hit")

    async def _fly(
        self,
        source: Resources,
        card_number: str,
        missing: list[str],
        fresh: dict[str, Stored],
        old: dict[str, Stored | None],
        keys: dict[str, str | None],
    ) -> dict[str, Stored]:
        """The missing resources, each fetched once however many requests want it now (single-flight)."""
        waiting: dict[str, asyncio.Future[Stored]] = {}
        mine: dict[str, asyncio.Future[Stored]] = {}
        loop = asyncio.get_running_loop()
        for name in missing:
            # Not the cache key: with the backend away there is none, and the flights must still be shared.
            flight_key = f"{source.section}:{name}:{card_number}"
            if (flight := self._flights.get(flight_key)) is not None:
                waiting[name] = flight
                continue
            mine[name] = flight = loop.create_future()
            flight.add_done_callback(_retrieved)
            self._flights[flight_key] = flight
            flight.add_done_callback(functools.partial(self._landed, flight_key))
        if mine:
            round_ = asyncio.ensure_future(self._round(source, card_number, mine, waiting, fresh, old, keys))
            self._rounds.add(round_)
            round_.add_done_callback(self._rounds.discard)
        # Shielded: one caller giving up (a client going away) does not cancel the others' call.
        both = {**waiting, **mine}
        results = await asyncio.shield(asyncio.gather(*both.values()))
        return dict(zip(both, results, strict=True))

    def _landed(self, flight_key: str, _: asyncio.Future[Stored]) -> None:
        self._flights.pop(flight_key, None)

    async def _round(
        self,
        source: Resources,
        card_number: str,
        mine: dict[str, asyncio.Future[Stored]],
        waiting: dict[str, asyncio.Future[Stored]],
        fresh: dict[str, Stored],
        old: dict[str, Stored | None],
        keys: dict[str, str | None],
    ) -> None:
        """One agency round for this request's own flights; every flight ends resolved."""
        try:
            known = {n: s.value for n, s in fresh.items()}
            if mine.keys() & source.keyed:  # a parent another request is fetching: its answer, not a second call
                for name in source.parents & waiting.keys():
                    try:
                        parent = await waiting[name]
                    except AgencyError:
                        continue
                    if parent.found and not parent.stale:
                        known[name] = parent.value
            pieces = await self._call(source, card_number, list(mine), known, old, keys)
            for name, flight in mine.items():
                flight.set_result(pieces[name])
        except BaseException as exc:
            for flight in mine.values():
                if not flight.done():
                    flight.set_exception(exc)
            if not isinstance(exc, Exception):
                raise

    async def _call(
        self,
        source: Resources,
        card_number: str,
        names: list[str],
        known: dict[str, Any],
        old: dict[str, Stored | None],
        keys: dict[str, str | None],
    ) -> dict[str, Stored]:
        section = source.section
        try:
            if await self._circuit_open(section):
                self.stats.circuit_refusals += 1
                metrics.cache_event("circuit_refusal")
                raise AgencyUnavailable(
                    source.agency, "failed repeatedly just now; the hub is sparing it for a few seconds"
                )
            try:
                fetched = await source.fetch_resources(card_number, names, known)
            except (AgencyUnavailable, AgencyTimeout) as exc:
                if not isinstance(exc, AgencyRateLimited):  # our own limit says nothing about the agency
                    await self._failed(section)
                raise
        except AgencyError:
            stale = self._stale(source, names, known, old)
            if stale is None:
                raise
            return stale
        now = time.time()
        expire = source.cache_ttl_seconds + self.stale_seconds
        if fetched is None:
            pieces = {n: Stored(now, None, found=False) for n in names}
        else:
            refs = source.ref_values({**known, **fetched}) if fetched.keys() & source.keyed else None
            pieces = {n: Stored(now, v, refs=refs or () if n in source.keyed else ()) for n, v in fetched.items()}
        await asyncio.gather(*(self._write(keys.get(n), p, expire) for n, p in pieces.items()))
        return pieces

    def _stale(
        self, source: Resources, names: list[str], known: dict[str, Any], old: dict[str, Stored | None]
    ) -> dict[str, Stored] | None:
        """Stale-if-error: the last copies of ``names``, within the bound; None when one has none."""
        now = time.time()
        bound = source.cache_ttl_seconds + self.stale_seconds
        pieces: dict[str, Stored] = {}
        for name in names:
            copy = old.get(name)
            if copy is None or not copy.found or now - copy.stored_at >= bound:
                return None
            pieces[name] = dataclasses.replace(copy, stale=True)
        stale_parents = {n: p.value for n, p in pieces.items() if n in source.parents}
        try:
            refs = source.ref_values({**known, **stale_parents}) if pieces.keys() & source.keyed else None
        except AgencyError:
            return None
        if refs is not None and any(p.refs != refs for n, p in pieces.items() if n in source.keyed):
            return None  # a keyed copy of another key than the parent names now: never shown
        self.stats.stale_served += 1
        metrics.cache_event("stale")
        age = now - min(p.stored_at for p in pieces.values())
        log.info("serving a stale %s section (%.0f s old): the agency failed", source.section, age)
        return pieces

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

    async def forget_citizen(self, card_number: str, connectors: Iterable[Connector]) -> None:
        """Drop a citizen's cached answers for the connectors' sections (a consent withdrawn)."""
        keys: list[str] = []
        for connector in connectors:
            source = resources_of(connector)
            names = source.resources_for(None)
            found = await self._keys(source.section, names, card_number)
            keys += [k for k in found.values() if k]
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

    async def _keys(self, section: str, names: Iterable[str], card_number: str) -> dict[str, str | None]:
        """Each resource's key; None for all when the backend cannot say which generation is current."""
        try:
            everything, this = await self.backend.generations([ALL, section])
        except CacheUnavailable as exc:
            self._backend_failed(exc)
            return dict.fromkeys(names)
        digest = hmac.new(self._name_key, card_number.encode(), hashlib.sha256).hexdigest()[:32]
        return {n: f"s:{section}:{everything}.{this}:{n}:{digest}" for n in names}

    async def _read_many(self, keys: dict[str, str | None], section: str) -> dict[str, Stored | None]:
        """Every resource's copy, in one round trip."""
        found: dict[str, Stored | None] = dict.fromkeys(keys)
        asked = {n: k for n, k in keys.items() if k is not None}
        try:
            raws = await self.backend.get_many(list(asked.values()))
        except CacheUnavailable as exc:
            self._backend_failed(exc)
            return found
        for (name, key), raw in zip(asked.items(), raws, strict=True):
            found[name] = self._opened(key, raw, section)
        return found

    async def _read(self, key: str, section: str) -> Stored | None:
        try:
            raw = await self.backend.get(key)
        except CacheUnavailable as exc:
            self._backend_failed(exc)
            return None
        return self._opened(key, raw, section)

    def _opened(self, key: str, raw: Any, section: str) -> Stored | None:
        if raw is None:
            return None
        if not self._shared:
            found: Stored = raw
            return found
        try:
            data = json.loads(self._sealer.open(raw, key.encode()))
            refs = tuple((str(p), str(v)) for p, v in data["r"])
            return Stored(float(data["t"]), data["v"], bool(data["f"]), refs)
        except (SealError, ValueError, KeyError, TypeError) as exc:  # another version or key: a miss, not an error
            log.warning("unreadable cache entry for %s dropped: %s", section, type(exc).__name__)
            return None

    async def _write(self, key: str | None, stored: Stored, expire_seconds: float) -> None:
        if key is None:
            return
        value: Any = stored
        if self._shared:
            plain = json.dumps(
                {"t": stored.stored_at, "v": stored.value, "f": stored.found, "r": stored.refs},
                ensure_ascii=False,
                separators=(",", ":"),
            )
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
        for round_ in list(self._rounds):
            round_.cancel()
        await asyncio.gather(*self._rounds, return_exceptions=True)
        await self.backend.close()


def _consistent(source: Resources, fresh: dict[str, Stored]) -> dict[str, Stored]:
    """The fresh copies without keyed ones whose parent is not fresh or names another key now."""
    keyed = fresh.keys() & source.keyed
    if not keyed:
        return fresh
    try:
        refs = source.ref_values({n: s.value for n, s in fresh.items() if n in source.parents})
    except AgencyError:
        refs = None
    return {n: s for n, s in fresh.items() if n not in keyed or (refs is not None and s.refs == refs)}


def _assemble(source: Resources, pieces: Mapping[str, Stored]) -> Section:
    oldest = min(p.stored_at for p in pieces.values())
    meta = SectionMeta(
        source=source.agency,
        fetched_at=datetime.fromtimestamp(oldest, UTC),
        stale=any(p.stale for p in pieces.values()),
    )
    return source.assemble({n: p.value for n, p in pieces.items()}, meta)


def _retrieved(flight: asyncio.Future[Stored]) -> None:
    """A flight whose callers all went away must not log its failure as never retrieved."""
    if not flight.cancelled():
        flight.exception()
