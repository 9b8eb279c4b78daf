"""Shared fixtures: the five sandbox agencies run once per session, on free loopback ports."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from connectors.base import Connector
from connectors.domain import AGENCY_IDS
from connectors.registry import build_connector
from sandbox import runner


@pytest.fixture(scope="session")
def sandbox() -> Iterator[runner.Sandbox]:
    # SANDBOX_AGENCIES=transit,library starts only some agencies (handy while working on one).
    chosen = [a for a in os.environ.get("SANDBOX_AGENCIES", ",".join(AGENCY_IDS)).split(",") if a]
    with runner.start(chosen, ephemeral=True) as running:
        yield running


def set_fault(sandbox: runner.Sandbox, agency: str, **fault: Any) -> None:
    """Set the process-wide fault of one agency (empty: clear it)."""
    req = urllib.request.Request(
        sandbox.url(agency) + "/_sandbox/fault", data=json.dumps(fault).encode(), method="PUT"
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.status == 200


@pytest.fixture
def clear_faults(sandbox: runner.Sandbox) -> Iterator[Callable[..., None]]:
    """Yields set_fault(agency, **fault); every fault set is cleared afterwards."""
    touched: set[str] = set()

    def _set(agency: str, **fault: Any) -> None:
        touched.add(agency)
        set_fault(sandbox, agency, **fault)

    yield _set
    for agency in touched:
        set_fault(sandbox, agency)


@pytest.fixture(params=AGENCY_IDS)
def agency(request: pytest.FixtureRequest) -> str:
    """Runs a test once per agency."""
    value: str = request.param
    return value


ConnectorFactory = Callable[..., Awaitable[Connector]]


@pytest.fixture
async def make_connector(sandbox: runner.Sandbox) -> AsyncIterator[ConnectorFactory]:
    """make_connector(agency, timeout_seconds=..., headers=..., cfg_overrides=...) -> started Connector."""
    made: list[Connector] = []

    async def _make(
        agency: str,
        *,
        timeout_seconds: float = 3.0,
        headers: dict[str, str] | None = None,
        **cfg_overrides: Any,
    ) -> Connector:
        cfg = {**sandbox.configs()[agency], **cfg_overrides}
        connector = build_connector(
            agency, cfg, timeout_seconds=timeout_seconds, extra_headers=tuple((headers or {}).items())
        )
        await connector.client.start()
        made.append(connector)
        return connector

    yield _make
    for connector in made:
        await connector.client.close()
