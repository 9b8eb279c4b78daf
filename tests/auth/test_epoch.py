from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tortoise import connections
from tortoise.backends.base import executor

from auth import clients, consent, documents, registry, tokens
from auth.epoch import NO_FENCE, DatabaseEpoch, Memory
from hub import database


class Store:
    def __init__(self) -> None:
        self.value = 0
        self.reads = 0
        self.down = False

    async def read(self) -> int:
        self.reads += 1
        if self.down:
            raise ConnectionError("epoch store away")
        return self.value


class Loads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> int:
        self.count += 1
        return self.count


async def test_a_lookup_is_read_once_while_the_epoch_holds() -> None:
    store, load = Store(), Loads()
    memory = Memory(store)
    for _ in range(3):
        fence = await memory.fence()
        assert await fence.lookup("k", load) == 1
    assert load.count == 1 and store.reads == 3  # one epoch read per request


async def test_a_moved_epoch_drops_memory_on_the_next_request() -> None:
    store, load = Store(), Loads()
    memory = Memory(store)
    await (await memory.fence()).lookup("k", load)
    store.value = 1
    assert await (await memory.fence()).lookup("k", load) == 2


async def test_a_lookup_read_under_an_older_epoch_is_served_but_not_kept() -> None:
    store = Store()
    memory = Memory(store)
    old = await memory.fence()
    store.value = 1
    new = await memory.fence()  # a revocation committed between the two requests

    async def stale() -> str:
        return "before the revocation"

    assert await old.lookup("k", stale) == "before the revocation"

    async def fresh() -> str:
        return "after"

    assert await new.lookup("k", fresh) == "after"
    assert memory.entries == {"k": "after"}


async def test_an_unavailable_epoch_fails_toward_the_database() -> None:
    store, load = Store(), Loads()
    memory = Memory(store)
    await (await memory.fence()).lookup("k", load)
    store.down = True
    for expected in (2, 3):
        fence = await memory.fence()
        assert fence is NO_FENCE
        assert await fence.lookup("k", load) == expected  # every request reads the database
    store.down = False
    assert await (await memory.fence()).lookup("k", load) == 4, "what memory held before the outage is gone"


async def test_an_absence_is_remembered_only_when_asked() -> None:
    memory = Memory(Store())
    fence = await memory.fence()
    loads = Loads()

    async def nothing() -> str | None:
        loads.count += 1
        return None

    for _ in range(2):
        assert await fence.lookup("guessed", nothing, keep_none=False) is None
    assert loads.count == 2 and not memory.entries


async def test_memory_is_bounded() -> None:
    memory = Memory(Store(), max_entries=2)
    fence = await memory.fence()
    for key in "abc":
        await fence.lookup(key, Loads())
    assert len(memory.entries) <= 2


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/hub.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(autouse=True)
def fresh_statements() -> None:
    # tortoise caches insert statements per connection name, not per dialect: SQLite's "?" would reach
    # PostgreSQL when both run in one process.
    executor.EXECUTOR_CACHE.clear()


async def test_every_change_that_takes_access_away_bumps_the_epoch_in_its_own_commit(database_url: str) -> None:
    """The triggers of migration 0008, on SQLite and PostgreSQL: whatever code or process makes the change."""
    async with database.connected(database_url):
        epoch = DatabaseEpoch()
        now = datetime.now(UTC)
        await registry.seed([("C1", "Li Lei", "lilei", now.date(), False)])
        created, _ = await clients.create("Bus App", clients.ClientType.CONFIDENTIAL, ["https://bus.example/cb"],
                                          frozenset({"transit"}), "bus balance")  # fmt: skip
        document, _ = await documents.register(created.client_id, "{ me { cardNumber } }")
        before = await epoch.read()
        raw = await tokens.issue(created.client_id, frozenset({"transit"}), "C1", 3600)
        assert await epoch.read() == before, "issuing a token takes nothing away"

        memory = Memory()
        fence = await memory.fence()
        principal = await tokens.authenticate(raw, fence)
        assert principal.citizen == "C1"
        assert (await consent.standing("C1", created.client_id, fence)).status is None

        granted = await consent.grant("C1", created.client_id, frozenset({"transit"}), "bus balance")
        assert await epoch.read() > before
        fence = await memory.fence()
        assert (await consent.standing("C1", created.client_id, fence)).allows("transit")

        steps: list[Callable[[], Awaitable[object]]] = [
            lambda: consent.pause("C1", granted.id),
            lambda: consent.resume("C1", granted.id),
            lambda: clients.set_disabled(created.client_id, True, datetime.now(UTC)),
            lambda: connections.get("default").execute_query("UPDATE access_token SET revoked_at = expires_at"),
            lambda: tokens.prune(datetime.now(UTC) + timedelta(days=1), 10),
            lambda: documents.revoke(created.client_id, document.document_id),
        ]
        for step in steps:
            value = await epoch.read()
            await step()
            assert await epoch.read() > value
        fence = await memory.fence()
        with pytest.raises(tokens.InvalidToken):
            await tokens.authenticate(raw, fence)
