from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from graphql import parse
from strawberry.types import ExecutionResult

from auth.audit import Decision, Outcome
from auth.consent import ConsentStatus, Standing
from auth.epoch import Fence, Memory
from auth.principal import Principal
from cache.backend import MemoryBackend
from cache.sections import SectionCache
from cache.source import SectionSource
from connectors.base import Connector
from schema.context import HubContext, Services
from schema.responses import ResponseCache

CITIZEN = "350200000001"
READ = "query($n: ID!) { citizen(cardNumber: $n) { name transit { balance } } }"
ANSWER = {"citizen": {"name": "Li Lei", "transit": {"balance": "12.00"}}}


@dataclass
class Transit:
    section: str = "transit"
    cache_ttl_seconds: int = 60


@dataclass
class Audit:
    appended: list[list[Decision]] = field(default_factory=list)
    down: bool = False

    async def append(self, request_id: str, client_id: str, decisions: list[Decision]) -> int:
        if self.down:
            raise ConnectionError("database away")
        self.appended.append(list(decisions))
        return len(decisions)


class World:
    def __init__(self) -> None:
        self.cache = SectionCache(MemoryBackend())
        self.source = SectionSource({"transit": cast(Connector, Transit())}, self.cache)
        self.audit = Audit()
        self.services = Services(connectors={}, sections=self.source, audit=self.audit)  # type: ignore[arg-type]
        self.responses = ResponseCache(self.source)
        self.memory = Memory(None)
        self.memory.epoch = 7
        self.standing = Standing(ConsentStatus.ACTIVE, frozenset({"card", "transit"}), frozenset())
        self.principal = Principal(client_id="bus-app", scopes=frozenset({"card", "transit"}))

    def context(self, epoch: int = 7) -> HubContext:
        context = HubContext(services=self.services, principal=self.principal, request_id="req",
                             fence=Fence(self.memory, epoch))  # fmt: skip
        future: asyncio.Future[Standing] = asyncio.get_running_loop().create_future()
        future.set_result(self.standing)
        context._consents[(CITIZEN, "bus-app")] = future
        return context

    def key(self, context: HubContext, text: str = READ, variables: dict[str, Any] | None = None) -> Any:
        return self.responses.key(context, parse(text), text, None, variables or {"n": CITIZEN})

    async def full_run(self) -> None:
        """What the schema does on a miss: decisions, then the answer kept."""
        context = self.context()
        context.decisions += [Decision(CITIZEN, "profile", Outcome.ALLOWED), Decision(CITIZEN, "card", Outcome.ALLOWED),
                              Decision(CITIZEN, "transit", Outcome.ALLOWED)]  # fmt: skip
        await self.responses.keep(self.key(context), context, ExecutionResult(data=ANSWER, errors=None))

    async def hit(self, epoch: int = 7) -> tuple[ExecutionResult | None, HubContext]:
        context = self.context(epoch)
        return await self.responses.serve(self.key(context), context), context


@pytest.fixture
async def world() -> World:
    return World()


async def test_a_kept_answer_is_served_after_the_consent_is_checked_and_the_read_recorded(world: World) -> None:
    await world.full_run()
    served, context = await world.hit()
    assert served is not None and served.data == ANSWER
    assert [d.section for d in context.decisions] == ["profile", "card", "transit"]
    assert [d.section for d in world.audit.appended[-1]] == ["card", "transit"]  # the lookup says no more
    assert world.responses.hits == 1


async def test_a_withdrawn_or_paused_scope_is_a_miss(world: World) -> None:
    await world.full_run()
    world.standing = Standing(ConsentStatus.ACTIVE, frozenset({"card"}), frozenset({"transit"}))
    assert (await world.hit())[0] is None
    world.standing = Standing(ConsentStatus.PAUSED, frozenset({"card", "transit"}), frozenset())
    assert (await world.hit())[0] is None
    assert world.audit.appended == [], "a miss records nothing here: the full run records its refusal"


async def test_a_moved_epoch_a_connector_change_or_a_purge_drops_the_answer(world: World) -> None:
    await world.full_run()
    assert (await world.hit(epoch=8))[0] is None
    await world.full_run()
    await world.source.connector_changed("transit")
    assert (await world.hit())[0] is None
    await world.full_run()
    await world.source.purge()
    assert (await world.hit())[0] is None
    await world.full_run()
    assert (await world.hit())[0] is not None


async def test_the_answer_lives_no_longer_than_its_shortest_section(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.full_run()
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + 61)  # the module reads time.monotonic()
    assert (await world.hit())[0] is None


async def test_an_unrecorded_hit_is_withheld(world: World) -> None:
    await world.full_run()
    world.audit.down = True
    served, _ = await world.hit()
    assert served is not None and served.data is None
    assert served.errors is not None and served.errors[0].extensions == {"code": "AUDIT_UNAVAILABLE"}


@pytest.mark.parametrize(
    "text",
    [
        "mutation { revokeConsent(consentId: 1) { status } }",
        "{ me { accessLog { id } } }",
        "{ me { consents { id } } }",
        "{ me { name @include(if: true) } }",
        "{ connectors { id } }",
    ],
)
async def test_only_profile_queries_are_kept(world: World, text: str) -> None:
    assert world.key(world.context(), text) is None


async def test_refusals_errors_and_unfenced_requests_are_never_kept(world: World) -> None:
    context = world.context()
    context.decisions.append(Decision(CITIZEN, "transit", Outcome.DENIED, "CONSENT_REQUIRED"))
    await world.responses.keep(world.key(context), context, ExecutionResult(data=ANSWER, errors=None))
    assert (await world.hit())[0] is None
    assert world.key(world.context(epoch=None), READ) is None  # type: ignore[arg-type]


async def test_variables_and_tokens_key_apart(world: World) -> None:
    await world.full_run()
    context = world.context()
    assert world.key(context, READ, {"n": "350200000002"}) != world.key(context, READ)
    world.principal = Principal(client_id="bus-app", scopes=frozenset({"transit"}))
    assert (await world.hit())[0] is None
