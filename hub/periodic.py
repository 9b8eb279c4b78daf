"""Work every hub instance does in the background, every ``interval`` seconds, for as long as it runs:
housekeeping, the export worker, security-event delivery. One lifecycle for all of them: started in
the app's lifespan, cancelled and awaited at shutdown; a failing round is logged and tried again at
the next, and never stops the hub."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger("cardhub")


class Periodic:
    name = "cardhub-periodic"  # the task's name, and the log's word for it
    interval: float  # seconds between rounds; 0 or less: never started

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def round(self) -> None:
        """One round of the work."""
        raise NotImplementedError()

    async def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay())
        while True:
            try:
                await self.round()
            except Exception as exc:  # the database away, say: try again next round, never stop the hub
                log.warning("%s round failed (%s: %s)", self.name, type(exc).__name__, exc)
            await asyncio.sleep(self.interval)

    def first_delay(self) -> float:
        return 0.0
