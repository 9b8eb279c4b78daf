"""The connectors in force follow the database: a version activated elsewhere (the CLI, another hub
instance) is picked up by the poll; the old connector keeps serving until it is retired; a version
that cannot run in this process leaves the old one in force."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors import versions
from connectors.domain import Library
from connectors.live import LiveConnectors
from connectors.manifest_parsing import from_data
from connectors.policy import ConnectorPolicy
from sandbox.personas import PERSONAS
from sandbox.runner import Sandbox
from tests.conftest import RunningHub, manifest_data

AGENCY = "library"
CARD = PERSONAS[0].card_number


@pytest.fixture
async def live(hub: RunningHub, sandbox: Sandbox) -> AsyncIterator[LiveConnectors]:
    """A second set of live connectors on the hub's database, as another hub process would hold."""
    before = (await versions.ConnectorState.get(agency=AGENCY)).version
    connectors = LiveConnectors(lambda agency: {**sandbox.configs()[agency], "timeout_seconds": 0.2}, poll_seconds=0.05)
    await connectors.start()
    yield connectors
    await connectors.close()
    await versions.point_to(AGENCY, before, "tests")
    await hub.app.state.connectors.refresh()


def library_data(sandbox: Sandbox) -> dict[str, Any]:
    data = manifest_data(sandbox, AGENCY)
    return data


async def eventually_version(live: LiveConnectors, version: int) -> None:
    for _ in range(100):
        if live.version_of(AGENCY) == version:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"still on version {live.version_of(AGENCY)}, not {version}")


async def test_a_version_activated_elsewhere_is_in_force_after_the_poll(live: LiveConnectors, sandbox: Sandbox) -> None:
    old = live[AGENCY]
    data = library_data(sandbox)
    data["cache_ttl_seconds"] = 5
    record = await versions.add_and_activate(from_data(data), "another instance", ConnectorPolicy().sealer)
    await eventually_version(live, record.version)
    assert live[AGENCY] is not old
    assert isinstance(await live[AGENCY].fetch(CARD), Library)
    # The old one still answers requests that took it before the swap, then is closed.
    assert isinstance(await old.fetch(CARD), Library)
    await asyncio.sleep(0.2 * 2 + 1.2)  # its timeout times its attempts, plus a second
    with pytest.raises(RuntimeError, match="before start"):
        _ = old.client.session


async def test_disable_and_enable_elsewhere_follow_too(live: LiveConnectors) -> None:
    await versions.disable(AGENCY, "another instance")
    for _ in range(100):
        if AGENCY not in live:
            break
        await asyncio.sleep(0.05)
    assert AGENCY not in live and live.disabled() == [AGENCY]
    state = await versions.ConnectorState.get(agency=AGENCY)
    await versions.point_to(AGENCY, state.version, "another instance")
    await eventually_version(live, state.version)
    assert AGENCY in live and live.disabled() == []


async def test_a_version_that_cannot_run_here_leaves_the_old_one_in_force(
    live: LiveConnectors, sandbox: Sandbox, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARDHUB_CONNECTOR_LIBRARY__TEST_KEY", raising=False)
    old, old_version = live[AGENCY], live.version_of(AGENCY)
    data = library_data(sandbox)
    del data["auth"]["secret"]
    data["auth"]["secret_env"] = "CARDHUB_CONNECTOR_LIBRARY__TEST_KEY"  # set on the instance that registered it only
    with caplog.at_level(logging.ERROR, logger="cardhub.connectors"):
        await versions.add_and_activate(from_data(data), "another instance", ConnectorPolicy().sealer)
        await live.refresh()
    assert live[AGENCY] is old and live.version_of(AGENCY) == old_version
    assert "CARDHUB_CONNECTOR_LIBRARY__TEST_KEY" in caplog.text
    assert isinstance(await live[AGENCY].fetch(CARD), Library)
