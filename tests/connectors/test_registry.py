"""Building connectors from manifests: Python adapters found by entry point, behind the same interface."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import lifecycle
from connectors.domain import Library
from connectors.manifest import Manifest, ManifestError
from connectors.manifest_parsing import from_data
from connectors.policy import ConnectorPolicy
from connectors.registry import adapter_class, build_connector
from connectors.runtime import RetryPolicy
from sandbox.personas import PERSONAS
from sandbox.runner import Sandbox
from tests.conftest import manifest_data
from tests.connectors.plugin_adapter import PatronOnly

ENTRY_POINTS = """[cardhub.connectors]
library-patron = tests.connectors.plugin_adapter:PatronOnly
not-a-connector = tests.connectors.plugin_adapter:NotAConnector
broken = tests.connectors.no_such_module:Nothing
"""


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed distribution declaring adapters, as `pip install agency-adapter` would leave one."""
    dist = tmp_path / "agency_adapter-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: agency-adapter\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))


def adapter_manifest(sandbox: Sandbox, adapter: str) -> Manifest:
    data = manifest_data(sandbox, "library")
    del data["resources"], data["mapping"]
    data["adapter"] = adapter
    return from_data(data)


@pytest.mark.usefixtures("installed_plugin")
async def test_a_python_adapter_registered_by_entry_point_serves_its_section(sandbox: Sandbox) -> None:
    manifest = adapter_manifest(sandbox, "library-patron")
    assert adapter_class("library-patron") is PatronOnly
    connector = build_connector(manifest)
    assert isinstance(connector, PatronOnly)
    # The manifest still says who it is and how to reach and authenticate to the agency.
    assert (connector.agency, connector.section, connector.client.endpoint.base_url) == (
        "library",
        "library",
        sandbox.url("library"),
    )
    section = await lifecycle.contract_test(manifest, ConnectorPolicy())  # the same gate as any manifest
    assert isinstance(section, Library)
    assert section.loans == () and section.card_number


@pytest.mark.usefixtures("installed_plugin")
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("nope", "no adapter 'nope' is installed"),
        ("not-a-connector", "not a Connector class"),
        ("broken", "failed to load"),
    ],
)
def test_an_adapter_that_is_missing_or_broken_is_refused_at_path_adapter(
    sandbox: Sandbox, name: str, reason: str
) -> None:
    with pytest.raises(ManifestError) as refused:
        build_connector(adapter_manifest(sandbox, name))
    (problem,) = refused.value.problems
    assert problem.path == "adapter"
    assert reason in problem.reason


async def test_a_contract_test_fails_for_a_citizen_the_agency_does_not_know(sandbox: Sandbox) -> None:
    data = manifest_data(sandbox, "library")
    no_library = next(p for p in PERSONAS if p.has("no_library"))
    data["contract"]["test_card_number"] = no_library.card_number
    with pytest.raises(lifecycle.ContractFailed) as failed:
        await lifecycle.contract_test(from_data(data), ConnectorPolicy())
    assert failed.value.problems[0].path == "contract.test_card_number"


def test_the_manifests_operations_reach_the_runtime(sandbox: Sandbox) -> None:
    data = manifest_data(sandbox, "health")
    data |= {"timeout_seconds": 1.5, "max_connections": 7, "rate_limit": {"requests_per_second": 20, "burst": 5}}
    data["retry"] = {"attempts": 3, "backoff_ms": 20, "on": ["unavailable", "timeout"]}
    endpoint = build_connector(from_data(data)).client.endpoint
    assert (endpoint.timeout_seconds, endpoint.max_connections, endpoint.rate_limit) == (1.5, 7, (20, 5))
    assert endpoint.retry == RetryPolicy(attempts=3, backoff_seconds=0.02, on=frozenset({"unavailable", "timeout"}))
    assert endpoint.base_url == sandbox.url("health")
