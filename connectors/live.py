"""The connectors in force in this hub process, section by section, kept in step with the database.

``refresh`` compares each agency's ``ConnectorState`` with what this process runs and rebuilds what
changed: the new connector is built and started first, then swapped in with one assignment, so a
request either gets the old connector or the new one, never neither. The old one keeps serving the
requests that already hold it and is closed after its longest call could have ended. Every process
polls (``poll_seconds``), so a version activated by the CLI or by another instance reaches all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from connectors import versions
from connectors.base import Connector
from connectors.manifest import Manifest, ManifestError
from connectors.policy import ConnectorPolicy, NotYourSection
from connectors.registry import ConnectorConfigError, build_connector, with_overrides
from connectors.runtime import SharedRateLimit
from connectors.versions import ConnectorVersion

log = logging.getLogger("cardhub.connectors")

Overrides = Callable[[str], Mapping[str, Any]]  # agency -> the operator's settings for a built-in manifest


class ChangeListener(Protocol):
    """Who must hear that a section's connector changed: the read path in front of the connectors,
    whose cached copies the old connector made (cache/source.py)."""

    async def connector_changed(self, section: str) -> None: ...

    async def polled(self) -> None:
        """More work for the same poll (the cache's purge requests)."""
        ...


class LiveConnectors(Mapping[str, Connector]):
    """section -> the connector serving it."""

    def __init__(
        self,
        overrides: Overrides = lambda agency: {},
        *,
        policy: ConnectorPolicy | None = None,
        extra_headers: tuple[tuple[str, str], ...] = (),
        poll_seconds: float = 2.0,
        shared_rate: SharedRateLimit | None = None,
    ) -> None:
        self.policy = policy or ConnectorPolicy()
        self._shared_rate = shared_rate  # the rate limit counted with every instance, if the cache is shared
        self._overrides = overrides
        # The one read path in front (cache/source.py): told of every change, and polled with us.
        self.listener: ChangeListener | None = None
        self._extra_headers = extra_headers
        self._poll_seconds = poll_seconds
        self._by_section: dict[str, Connector] = {}
        self._loaded: dict[str, tuple[int, int, bool]] = {}  # agency -> (version, generation, enabled)
        self._versions: dict[str, int] = {}  # agency -> version running
        self._lock = asyncio.Lock()
        self._retiring: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self._epoch: int | None = None  # the revocation epoch the live set is current with (follow)
        self._following: tuple[int, asyncio.Future[None]] | None = None

    def __getitem__(self, section: str) -> Connector:
        return self._by_section[section]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_section)

    def __len__(self) -> int:
        return len(self._by_section)

    def version_of(self, agency: str) -> int | None:
        return self._versions.get(agency)

    def disabled(self) -> list[str]:
        """Agencies whose connector an operator or the agency turned off."""
        return sorted(agency for agency, (_, _, enabled) in self._loaded.items() if not enabled)

    def by_agency(self) -> dict[str, Connector]:
        return {c.agency: c for c in self._by_section.values()}

    async def start(self) -> None:
        await self.refresh()
        if self._poll_seconds > 0:
            self._poller = asyncio.create_task(self._poll(), name="connector-refresh")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await asyncio.gather(*(c.client.close() for c in self._by_section.values()))
        self._by_section.clear()

    async def follow(self, epoch: int | None) -> None:
        """Be current with the database as of ``epoch``, the revocation epoch a request read: every
        connector change bumps it (hub/migrations/0009), so a connector disabled or replaced elsewhere is
        in force here at the very next request, not at the next poll. None (no epoch could be read):
        refresh now, as checking the database is the safe way to fail."""
        if epoch is None:
            await self.refresh()
            return
        if epoch == self._epoch:
            return
        following = self._following
        if following is None or following[0] != epoch or _failed(following[1]):
            self._following = following = (epoch, asyncio.ensure_future(self._follow(epoch)))
        await asyncio.shield(following[1])

    async def _follow(self, epoch: int) -> None:
        await self.refresh()
        self._epoch = epoch

    async def refresh(self) -> None:
        async with self._lock:
            for state in await versions.all_states():
                wanted = (state.version, state.generation, state.enabled)
                if self._loaded.get(state.agency) == wanted:
                    continue
                self._loaded[state.agency] = wanted  # a broken version is not retried every poll
                old = self.by_agency().get(state.agency)
                if not state.enabled:
                    self._drop(state.agency)
                    self._versions.pop(state.agency, None)
                    log.info("connector %s is disabled", state.agency)
                    await self._changed(state.section)
                    continue
                record = await ConnectorVersion.get(agency=state.agency, version=state.version)
                try:
                    # Checked when registered; checked again here, where it would serve citizens: the
                    # binding or the environment may have changed, or the row been written by other means.
                    self.policy.check_section(record.agency, record.section)
                    connector = await self._start(record)
                except NotYourSection as exc:  # whatever ran before must not serve the section either
                    log.error("connector %s version %d refused: %s", state.agency, state.version, exc)
                    if old is not None:
                        self._drop(state.agency)
                        self._versions.pop(state.agency, None)
                        await self._changed(old.section)
                    continue
                except (ManifestError, ConnectorConfigError) as exc:
                    log.error("connector %s version %d cannot run here: %s", state.agency, state.version, exc)
                    continue
                if old is not None and old.section != connector.section:
                    self._by_section.pop(old.section, None)
                self._by_section[connector.section] = connector  # the swap: one assignment
                self._versions[state.agency] = state.version
                if old is not None:
                    self._retire(old)
                    await self._changed(connector.section)  # a new mapping: copies made by the old one go
                log.info("connector %s version %d is in force", state.agency, state.version)

    def effective(self, record: ConnectorVersion) -> Manifest:
        """The manifest as this hub runs it: a built-in one with the operator's settings applied."""
        manifest = record.parsed(self.policy.sealer)
        if record.registered_by == versions.BUILTIN:
            manifest = with_overrides(manifest, self._overrides(record.agency))
        return manifest

    async def _changed(self, section: str) -> None:
        if self.listener is not None:
            await self.listener.connector_changed(section)

    async def _start(self, record: ConnectorVersion) -> Connector:
        connector = build_connector(
            self.effective(record), extra_headers=self._extra_headers, outbound=self.policy.outbound
        )
        connector.client.shared_rate = self._shared_rate
        await connector.client.start()
        return connector

    def _drop(self, agency: str) -> None:
        for section, connector in list(self._by_section.items()):
            if connector.agency == agency:
                del self._by_section[section]
                self._retire(connector)

    def _retire(self, connector: Connector) -> None:
        endpoint = connector.client.endpoint
        grace = endpoint.timeout_seconds * endpoint.retry.attempts + 1.0

        async def close_later() -> None:
            try:
                await asyncio.sleep(grace)  # requests that took it before the swap finish first
            finally:
                await connector.client.close()

        task = asyncio.create_task(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await self.refresh()
                if self.listener is not None:
                    await self.listener.polled()
            except Exception:  # the database may be away for a moment; keep serving what runs
                log.exception("refreshing connectors failed; trying again in %gs", self._poll_seconds)


def _failed(future: asyncio.Future[None]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)
