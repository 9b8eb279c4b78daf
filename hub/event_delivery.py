"""Delivering the event outbox by push (RFC 8935): every hub instance runs it, one per stream at a time.

Every ``interval`` seconds an instance first marks consents past their expiry EXPIRED (so their
clients hear of it without waiting for a read), then, for each stream with a push endpoint that is
not failing nor backing off, takes the stream's lease (so that two instances never push one client's
events at once, which keeps them in order) and sends its undelivered events oldest first, each
marked delivered only after the receiver answered 202. The first failure ends the round for that
stream: the next try waits ``backoff`` seconds, doubled per failure in a row up to ``MAX_BACKOFF``,
and after ``max_attempts`` failures in a row the stream is marked failing (its events wait for a
poll). A hub stopped between the commit of a change and the push loses nothing: the event is in the
outbox, and the next round sends it. A hub stopped after the receiver's 202 and before marking the
event sends it again: delivery is at least once, and receivers drop duplicates by ``jti``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from auth import consent, events
from connectors.push import PushFailed, PushSender
from hub.periodic import Periodic

log = logging.getLogger("cardhub.events")

BATCH = 20
MAX_BACKOFF = 300.0


class EventDelivery(Periodic):
    name = "cardhub-event-delivery"

    def __init__(
        self,
        signer: events.EventSigner,
        sender: PushSender,
        *,
        interval_seconds: float = 2.0,
        max_attempts: int = 8,
        backoff_seconds: float = 1.0,
    ) -> None:
        self.signer = signer
        self.sender = sender
        self.interval = interval_seconds
        self.max_attempts = max_attempts
        self.backoff = backoff_seconds
        self.lease_seconds = sender.timeout * BATCH + 5
        super().__init__()

    async def close(self) -> None:
        await super().close()
        await self.sender.close()

    async def round(self) -> None:
        await self.run_once()

    async def run_once(self) -> int:
        """One round; the number of events pushed."""
        await consent.expire_due()
        now = datetime.now(UTC)
        delivered = 0
        for stream in await events.pushable(now):
            if not await events.lease(stream, self.lease_seconds, now):
                continue  # another instance is pushing this client's events
            try:
                delivered += await self._push(stream)
            finally:
                await events.release(stream)
        return delivered

    async def _push(self, stream: events.EventStream) -> int:
        sent = 0
        for event in await events.pending(stream.client_id, BATCH):
            try:
                await self.sender.push(stream.push_url, self.signer.sign(event))
            except PushFailed as exc:
                pause = min(self.backoff * 2**stream.failures, MAX_BACKOFF)
                retry_at = datetime.now(UTC) + timedelta(seconds=pause)
                failing = await events.push_failed(stream, event, str(exc), retry_at, self.max_attempts)
                if failing:
                    log.warning("push to client %s failed %d times: marked failing (%s)", stream.client_id,
                                self.max_attempts, exc)  # fmt: skip
                else:
                    log.info("push to client %s failed (%s); next try in %.0f s", stream.client_id, exc, pause)
                return sent
            await events.push_succeeded(stream, event, datetime.now(UTC))
            sent += 1
        return sent
