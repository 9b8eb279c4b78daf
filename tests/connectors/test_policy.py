"""The trust boundary an agency's connectors-manage client meets, attack by attack, through the
running hub's GraphQL API: each attack the outside review used, written so that it fails on the
release it got through. Agencies' servers here are local aiohttp servers that record whatever
reaches them; each test asserts what they received."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors import lifecycle, versions
from connectors.manifest import ManifestError
from connectors.manifest_parsing import from_data
from connectors.outbound import OutboundPolicy
from connectors.policy import ConnectorPolicy, NotYourSection
from keys.sealing import is_sealed
from tests.conftest import RunningHub
from tests.connectors.test_outbound import Recorder, redirecting_to, serving
from tests.schema.test_connector_admin import agency_token, data_for, live, register

STOLEN = "hub-own-secret-value-1b9e"


@pytest.fixture(autouse=True)
async def restore_connectors(hub: RunningHub) -> AsyncIterator[None]:
    before = {s.agency: (s.version, s.enabled) for s in await versions.all_states()}
    yield
    for agency, (version, enabled) in before.items():
        await versions.point_to(agency, version, "tests")
        if not enabled:
            await versions.disable(agency, "tests")
    await live(hub).refresh()


def pointed_at(hub: RunningHub, port: int, agency: str = "transit", **auth: Any) -> dict[str, Any]:
    data = data_for(hub, agency)
    data["base_url"] = f"http://127.0.0.1:{port}"
    if auth:
        data["auth"] = auth
    return data


@pytest.mark.parametrize(
    "variable",
    ["CARDHUB_SESSION_SECRET", "DATABASE_URL", "CARDHUB_AGENCY_HEALTH_SECRET", "CARDHUB_CONNECTOR_HEALTH__KEY"],
)
async def test_a_manifest_naming_a_variable_not_set_aside_for_its_agency_gets_nothing_sent(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    monkeypatch.setenv(variable, STOLEN)
    token = await agency_token(hub, "transit")
    before = await versions.current("transit")
    agency = Recorder()
    async with serving(agency.handle) as port:
        data = pointed_at(hub, port, kind="api_key", header="X-Api-Key", secret_env=variable)
        with caplog.at_level(logging.WARNING, logger="cardhub.connectors"):
            body = await register(hub, token, data)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MANIFEST_INVALID"
    assert error["extensions"]["problems"][0]["path"] == "auth.secret_env"
    assert "CARDHUB_CONNECTOR_TRANSIT__" in error["extensions"]["problems"][0]["reason"]
    assert agency.received == []  # not even a health check: nothing left the hub
    assert STOLEN not in json.dumps(body) and STOLEN not in caplog.text
    assert "transit-operations" in caplog.text and "MANIFEST_INVALID" in caplog.text  # names the client
    after = await versions.current("transit")
    assert before is not None and after is not None and after.state.version == before.state.version


async def test_an_agency_may_name_its_own_variables(hub: RunningHub, monkeypatch: pytest.MonkeyPatch) -> None:
    data = data_for(hub, "library")
    secret = data["auth"].pop("secret")
    data["auth"]["secret_env"] = "CARDHUB_CONNECTOR_LIBRARY__API_KEY"
    monkeypatch.setenv("CARDHUB_CONNECTOR_LIBRARY__API_KEY", secret)
    body = await register(hub, await agency_token(hub, "library"), data)
    assert "errors" not in body, body
    assert body["data"]["registerConnector"]["connector"]["enabled"] is True


async def test_a_disabled_section_is_not_free_for_another_agency(hub: RunningHub) -> None:
    health = await agency_token(hub, "health")
    _, body = await hub.graphql('mutation { disableConnector(agency: "health") { enabled } }', health)
    assert body["data"]["disableConnector"]["enabled"] is False

    library = await agency_token(hub, "library")
    hijack = data_for(hub, "health")  # a well-formed health connector, registered by the library
    hijack["agency"] = "library"
    body = await register(hub, library, hijack)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["extensions"]["problems"][0]["path"] == "section"
    assert "bound to agency 'health'" in body["errors"][0]["message"]
    assert live(hub).get("health") is None  # still disabled, and nobody else's

    # The owner takes its section back.
    body = await register(hub, health, data_for(hub, "health"))
    assert "errors" not in body, body
    assert live(hub)["health"].agency == "health"
    _, body = await hub.graphql("{ connectors { agency section sectionOwner enabled } }", health)
    assert body["data"]["connectors"] == [
        {"agency": "health", "section": "health", "sectionOwner": "health", "enabled": True}
    ]


async def test_a_redirecting_agency_is_refused_and_the_redirect_target_receives_nothing(hub: RunningHub) -> None:
    internal = Recorder()
    async with serving(internal.handle) as internal_port:
        target = f"http://127.0.0.1:{internal_port}/latest/meta-data/iam"
        async with serving(redirecting_to(target, 302)) as port:
            body = await register(hub, await agency_token(hub, "transit"), pointed_at(hub, port))
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONTRACT_TEST_FAILED"
    assert "redirect" in error["message"]
    assert internal.received == []


async def test_production_policy_refuses_internal_addresses_before_any_call(hub: RunningHub) -> None:
    internal = Recorder()
    policy = ConnectorPolicy(outbound=OutboundPolicy())  # production: https, no internal addresses
    async with serving(internal.handle) as port:
        text = json.dumps(pointed_at(hub, port))
        with pytest.raises(ManifestError) as refused:
            await lifecycle.register(text, "tests", policy)
        data = pointed_at(hub, port)
        data["base_url"] = "https://169.254.169.254/latest"
        with pytest.raises(ManifestError) as metadata:
            await lifecycle.register(json.dumps(data), "tests", policy)
    assert refused.value.problems[0].path == "base_url"
    assert metadata.value.problems[0].path == "base_url"
    assert internal.received == []


async def test_the_operator_binds_sections_and_the_live_set_obeys(hub: RunningHub) -> None:
    rebound = ConnectorPolicy(section_owners={"library": "city_library"})
    with pytest.raises(NotYourSection, match="bound to agency 'city_library'"):
        await lifecycle.prepare(json.dumps(data_for(hub, "library")), rebound)
    with pytest.raises(NotYourSection, match="bound to no agency"):
        await lifecycle.prepare(json.dumps(data_for(hub, "library")), ConnectorPolicy(section_owners={}))


async def test_stored_secrets_are_sealed_for_their_agency(hub: RunningHub) -> None:
    data = data_for(hub, "library")
    data["name"] = "Library, sealed"
    old = ConnectorPolicy().sealer
    record = await versions.add_and_activate(from_data(data), "tests", old)
    raw = (await versions.ConnectorVersion.get(id=record.id)).manifest
    secret = data["auth"]["secret"]
    assert secret not in raw and is_sealed(json.loads(raw)["auth"]["secret"])
    assert record.parsed(old).auth.resolved_secret("library") == secret  # type: ignore[union-attr]

    # A sealed secret copied into another agency's row does not open there.
    forged = versions.ConnectorVersion(agency="health", version=99, section="health", manifest=raw)
    with pytest.raises(ManifestError, match=r"auth\.secret"):
        forged.parsed(old)
