"""A connector change is in force on every instance at the very next request, not at the next poll:
two hubs on one PostgreSQL and Redis, polling once an hour, and the operator's CLI in a process of its
own (connectors/live.py ``follow``, through the revocation epoch)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.personas import PERSONAS
from tests.hub.test_instances import Hub, cli, env, graphql

__all__ = ["env"]  # the fixture, shared with test_instances

CITIZEN = PERSONAS[0].card_number  # has a library account


@pytest.fixture
async def slow_polling(env: dict[str, str], tmp_path: Path) -> AsyncIterator[tuple[Hub, Hub, dict[str, str]]]:
    quiet = {**env, "CARDHUB_CONNECTOR_POLL_SECONDS": "3600"}
    first = Hub(quiet, tmp_path / "first.log")
    await asyncio.to_thread(first.wait_ready)
    second = Hub(quiet, tmp_path / "second.log")
    try:
        await asyncio.to_thread(second.wait_ready)
        yield first, second, quiet
    finally:
        first.stop()
        second.stop()


async def test_a_connector_disabled_by_the_cli_is_off_on_every_instance_at_the_next_request(
    slow_polling: tuple[Hub, Hub, dict[str, str]],
) -> None:
    one, other, env = slow_polling
    token = cli(env, "token", "--persona", CITIZEN)
    for hub in (one, other):
        _, body = await graphql(hub, "{ me { library { fines } } }", token)
        assert body["data"]["me"]["library"] is not None, body
    cli(env, "connectors", "disable", "library")
    for hub in (one, other):  # the very next request, an hour before either would poll
        _, body = await graphql(hub, "{ me { library { fines } } }", token)
        assert body["data"]["me"]["library"] is None, body
        assert body["errors"][0]["extensions"]["code"] == "AGENCY_UNAVAILABLE"
    cli(env, "connectors", "enable", "library")
    _, body = await graphql(other, "{ me { library { fines } } }", token)
    assert body["data"]["me"]["library"] is not None, body
