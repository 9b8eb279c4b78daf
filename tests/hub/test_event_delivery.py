"""Push delivery of the event outbox to a recording receiver: in order, at least once, retried with a
bound, then left for a poll; a receiver answering garbage or hanging is marked failing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from aiohttp import web
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import consent, events, jws
from auth.events import EventStream, StreamState
from connectors.outbound import OutboundPolicy
from connectors.push import PushSender
from hub.event_delivery import EventDelivery
from keys.keyring import EVENTS, KeySet
from sandbox.runner import free_port

ALICE = "350200000001"
APP = "receiver-app"
ISSUER = "https://hub.example"


@dataclass
class Receiver:
    """A data user's endpoint: answers as ``mode`` says and records what it accepted."""

    port: int
    mode: str = "ok"  # ok (202), garbage (200 and junk), hang, or 400
    received: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    async def handle(self, request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        if self.mode == "hang":
            await asyncio.sleep(5)
        if self.mode == "garbage":
            return web.Response(status=200, text="<html>oops")
        if self.mode == "400":
            return web.json_response({"err": "invalid_key"}, status=400)
        assert request.headers["Content-Type"] == "application/secevent+jwt"
        self.received.append(body)
        return web.Response(status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/events", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    models = ["auth.consent", "auth.events", "auth.clients", "auth.tokens", "auth.oauth.grants"]
    async with tortoise_test_context(models) as ctx:
        yield ctx


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver(free_port())
    yield made
    await made.stop()


def delivery(signer: events.EventSigner, *, attempts: int = 3, timeout: float = 0.5) -> EventDelivery:
    return EventDelivery(signer, PushSender(OutboundPolicy.sandbox(), timeout), max_attempts=attempts,
                         backoff_seconds=0.01)  # fmt: skip


async def changes() -> list[str]:
    """Pause, resume and narrow a consent: three events, in this order."""
    record = await consent.grant(ALICE, APP, frozenset({"transit", "library"}), "p")
    await consent.pause(ALICE, record.id)
    await consent.resume(ALICE, record.id)
    await consent.revoke(ALICE, record.id, frozenset({"library"}))
    return ["PAUSED", "RESUMED", "NARROWED"]


def change_of(token: str, signer: events.EventSigner) -> str:
    claims = jws.verify(token, signer.signer.public_keys(), events.SET_TYPE)
    assert claims["aud"] == APP and claims["iss"] == ISSUER and claims["sub_id"] == {"format": "opaque", "id": ALICE}
    change: str = claims["events"][events.CONSENT_EVENT]["change"]
    return change


async def test_events_reach_a_receiver_that_was_down_in_order_after_retries(
    db: TortoiseContext, receiver: Receiver
) -> None:
    signer = events.EventSigner(KeySet.ephemeral(EVENTS), ISSUER)
    await events.register(APP, receiver.url, OutboundPolicy.sandbox())
    expected = await changes()
    worker = delivery(signer)
    assert await worker.run_once() == 0  # down: nothing delivered, nothing lost
    stream = await EventStream.get(client_id=APP)
    assert stream.failures == 1 and stream.retry_at is not None and "connection failed" in stream.last_error
    await receiver.start()
    await asyncio.sleep(0.05)  # past the back-off
    assert await worker.run_once() == 3
    assert [change_of(t, signer) for t in receiver.received] == expected
    assert await events.pending(APP, 10) == []
    assert (await EventStream.get(client_id=APP)).failures == 0
    await worker.close()


async def test_a_receiver_that_stays_down_is_marked_failing_and_its_events_wait_for_a_poll(
    db: TortoiseContext, receiver: Receiver
) -> None:
    signer = events.EventSigner(KeySet.ephemeral(EVENTS), ISSUER)
    await events.register(APP, receiver.url, OutboundPolicy.sandbox())
    expected = await changes()
    worker = delivery(signer, attempts=2)
    for _ in range(4):
        await worker.run_once()
        await asyncio.sleep(0.05)
    stream = await EventStream.get(client_id=APP)
    assert stream.state is StreamState.FAILING and stream.failures == 2  # bounded: not tried again
    waiting = await events.pending(APP, 10)
    assert [change_of(signer.sign(e), signer) for e in waiting] == expected
    assert await events.acknowledge(APP, [e.jti for e in waiting], "poll") == 3
    assert await events.pending(APP, 10) == []
    await worker.close()


@pytest.mark.parametrize("mode", ["garbage", "hang", "400"])
async def test_a_receiver_answering_garbage_or_hanging_is_retried_with_a_bound(
    db: TortoiseContext, receiver: Receiver, mode: str
) -> None:
    receiver.mode = mode
    await receiver.start()
    signer = events.EventSigner(KeySet.ephemeral(EVENTS), ISSUER)
    await events.register(APP, receiver.url, OutboundPolicy.sandbox())
    await changes()
    worker = delivery(signer, attempts=2, timeout=0.3)
    started = datetime.now(UTC)
    for _ in range(3):
        await worker.run_once()
        await asyncio.sleep(0.05)
    stream = await EventStream.get(client_id=APP)
    assert stream.state is StreamState.FAILING
    assert {"garbage": "HTTP 200", "hang": "no answer within", "400": "HTTP 400: 'invalid_key'"}[
        mode
    ] in stream.last_error
    assert (datetime.now(UTC) - started).total_seconds() < 3  # a hanging receiver holds a round 0.3 s at most
    assert len(await events.pending(APP, 10)) == 3  # nothing marked delivered
    await worker.close()


async def test_registering_again_starts_a_failing_stream_afresh(db: TortoiseContext, receiver: Receiver) -> None:
    await events.register(APP, receiver.url, OutboundPolicy.sandbox())
    await EventStream.filter(client_id=APP).update(state=StreamState.FAILING, failures=8)
    stream = await events.register(APP, receiver.url, OutboundPolicy.sandbox())
    assert stream.state is StreamState.ENABLED and stream.failures == 0


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9/events", "https://10.0.0.7/events", "https://169.254.169.254/latest", "https://[::1]/e",
     "ftp://receiver.example/e", "https://user:pw@receiver.example/e"],
)  # fmt: skip
async def test_an_internal_or_odd_receiver_address_is_refused_outside_sandbox(db: TortoiseContext, url: str) -> None:
    with pytest.raises(events.EventStreamError, match="does not push events"):
        await events.register(APP, url, OutboundPolicy())
    assert await EventStream.get_or_none(client_id=APP) is None


async def test_no_stream_no_event_and_grants_are_not_events(db: TortoiseContext) -> None:
    await changes()
    assert await events.SecurityEvent.all().count() == 0  # the client registered no stream
    await events.register(APP, "", OutboundPolicy())  # poll only
    record = await consent.grant(ALICE, APP, frozenset({"health"}), "p")
    assert await events.SecurityEvent.all().count() == 0
    await consent.pause(ALICE, record.id)
    assert await events.SecurityEvent.all().count() == 1
