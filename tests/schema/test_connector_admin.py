"""Agencies register, update, roll back and disable their connectors over HTTP, against the running
sandbox agencies: Query.connectors, Mutation.registerConnector and Mutation.disableConnector, with real
client credentials tokens from /oauth/token. Every test puts the connectors back as it found them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import tomli_w

from auth import clients
from auth.clients import ClientType
from connectors import versions
from connectors.live import LiveConnectors
from sandbox import credentials
from sandbox.personas import PERSONAS
from sandbox.runner import free_port
from tests.auth.oauth.driver import post_form
from tests.conftest import RunningHub, manifest_data

PERSONA = PERSONAS[0]
AGENCY = "transit"

REGISTER = """
mutation($m: String!) {
  registerConnector(manifest: $m) { created connector { agency version enabled cacheTtlSeconds manifest } }
}"""
CONNECTORS = "{ connectors { agency section version enabled manifest health { calls errorRate latencyP50Ms } } }"
TRANSIT = "{ me { transit { cardNumber balance trips(first: 3) { totalCount } } } }"


@pytest.fixture(autouse=True)
async def restore_connectors(hub: RunningHub) -> AsyncIterator[None]:
    before = {s.agency: s.version for s in await versions.all_states()}
    yield
    for agency, version in before.items():
        await versions.point_to(agency, version, "tests")
    await live(hub).refresh()


def live(hub: RunningHub) -> LiveConnectors:
    connectors: LiveConnectors = hub.app.state.connectors
    return connectors


async def agency_token(hub: RunningHub, agency: str, scopes: frozenset[str] = frozenset({"connectors:manage"})) -> str:
    record, secret = await clients.create(
        f"{agency} operations", ClientType.AGENCY, [], scopes, "Runs the agency's connector", agency=agency
    )
    status, token = await post_form(hub, "/oauth/token", record.client_id, secret, "grant_type=client_credentials")
    assert status == 200, token
    access: str = token["access_token"]
    return access


def data_for(hub: RunningHub, agency: str = AGENCY) -> dict[str, Any]:
    """The built-in manifest as the running sandbox needs it (its ephemeral URL), with the secret."""
    return manifest_data(hub.sandbox, agency)


async def register(hub: RunningHub, token: str, data: dict[str, Any] | str) -> dict[str, Any]:
    text = data if isinstance(data, str) else tomli_w.dumps(data)
    status, body = await hub.graphql(REGISTER, token, {"m": text})
    assert status == 200
    return body


async def in_force(agency: str) -> int:
    state = await versions.ConnectorState.get(agency=agency)
    return state.version


async def transit_works(hub: RunningHub) -> dict[str, Any]:
    _, body = await hub.graphql(TRANSIT, await hub.token(PERSONA.card_number))
    assert "errors" not in body, body
    transit: dict[str, Any] = body["data"]["me"]["transit"]
    assert transit["cardNumber"]
    return transit


async def test_an_agency_sees_only_its_own_connector_without_its_secret(hub: RunningHub) -> None:
    token = await agency_token(hub, AGENCY)
    await transit_works(hub)  # at least one call, so there is health to show
    _, body = await hub.graphql(CONNECTORS, token)
    (connector,) = body["data"]["connectors"]
    assert (connector["agency"], connector["section"], connector["enabled"]) == (AGENCY, AGENCY, True)
    assert connector["health"]["calls"] >= 1
    assert connector["health"]["latencyP50Ms"] > 0
    assert credentials.TRANSIT_CLIENT_SECRET not in json.dumps(body)
    assert 'secret = "<redacted>"' in connector["manifest"]
    # The built-in manifest as it runs: with the operator's settings (here the sandbox's own URL).
    assert f'base_url = "{hub.sandbox.url(AGENCY)}"' in connector["manifest"]


async def test_register_update_rollback_and_disable(hub: RunningHub, tmp_path: Any) -> None:
    token = await agency_token(hub, AGENCY)
    before = await in_force(AGENCY)
    data = data_for(hub)
    data["cache_ttl_seconds"] = 123

    body = await register(hub, token, data)
    registered = body["data"]["registerConnector"]
    assert registered["created"] is True
    assert registered["connector"]["version"] > before
    assert registered["connector"]["cacheTtlSeconds"] == 123
    assert live(hub).version_of(AGENCY) == registered["connector"]["version"]  # in force here, at once
    await transit_works(hub)

    again = (await register(hub, token, data))["data"]["registerConnector"]
    assert again["created"] is False  # the same manifest: no new version
    assert again["connector"]["version"] == registered["connector"]["version"]

    # Roll back with the operator's CLI on the same database: the hub follows without a restart.
    cli = [sys.executable, "-m", "hub.cli", "connectors", "rollback", AGENCY]
    env = {**os.environ, "CARDHUB_DATABASE_URL": hub.settings.database_url}
    done = await asyncio.to_thread(subprocess.run, cli, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # The version numbered before the one in force (other tests may have added versions since `before`).
    earlier = max(v.version for v in await versions.history(AGENCY) if v.version < registered["connector"]["version"])
    assert f"version {earlier} is in force again" in done.stdout
    await live(hub).refresh()  # what the poll does every connector_poll_seconds
    assert live(hub).version_of(AGENCY) == earlier
    await transit_works(hub)

    disabled = await hub.graphql('mutation { disableConnector(agency: "transit") { enabled } }', token)
    assert disabled[1]["data"]["disableConnector"]["enabled"] is False
    _, body = await hub.graphql(TRANSIT, await hub.token(PERSONA.card_number))
    assert body["data"]["me"]["transit"] is None
    assert body["errors"][0]["extensions"]["code"] == "AGENCY_UNAVAILABLE"
    assert body["errors"][0]["extensions"]["agency"] == AGENCY

    # Registering the manifest in force again after a disable enables it, without a duplicate version.
    await versions.point_to(AGENCY, registered["connector"]["version"], "tests")
    await hub.graphql('mutation { disableConnector(agency: "transit") { enabled } }', token)
    revived = (await register(hub, token, data))["data"]["registerConnector"]
    assert (revived["created"], revived["connector"]["enabled"]) == (False, True)
    assert revived["connector"]["version"] == registered["connector"]["version"]
    await transit_works(hub)


async def test_a_broken_manifest_is_refused_with_paths_and_the_connector_is_untouched(hub: RunningHub) -> None:
    token = await agency_token(hub, AGENCY)
    before = await in_force(AGENCY)
    data = data_for(hub)
    data["colour"] = "blue"
    data["mapping"]["fields"]["nickname"] = "card.nick"
    data["timeout_seconds"] = "soon"

    body = await register(hub, token, data)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MANIFEST_INVALID"
    problems = {p["path"]: p["reason"] for p in error["extensions"]["problems"]}
    assert problems["colour"] == "unknown key"
    assert "timeout_seconds" in problems
    assert body["data"] is None
    assert await in_force(AGENCY) == before
    assert await versions.ConnectorVersion.filter(agency=AGENCY).count() == len(await versions.history(AGENCY))
    await transit_works(hub)

    body = await register(hub, token, "agency = [unclosed")
    assert body["errors"][0]["extensions"]["code"] == "MANIFEST_INVALID"
    assert "not valid TOML" in body["errors"][0]["message"]
    body = await register(hub, token, "x" * 70_000)
    assert "limit" in body["errors"][0]["message"]
    assert await in_force(AGENCY) == before


async def test_a_manifest_failing_its_contract_test_leaves_the_connector_untouched(hub: RunningHub) -> None:
    token = await agency_token(hub, AGENCY)
    before = await in_force(AGENCY)
    histories = len(await versions.history(AGENCY))

    wrong_field = data_for(hub)
    wrong_field["mapping"]["fields"]["card_number"] = "card.etongNo"  # the agency says cardNumber
    body = await register(hub, token, wrong_field)
    error = body["errors"][0]
    assert error["extensions"]["code"] == "CONTRACT_TEST_FAILED"
    assert error["extensions"]["problems"][0]["path"] == "contract"
    assert "card.etongNo" in error["extensions"]["problems"][0]["reason"]

    unreachable = data_for(hub)
    unreachable["base_url"] = f"http://127.0.0.1:{free_port()}"
    body = await register(hub, token, unreachable)
    assert body["errors"][0]["extensions"]["code"] == "CONTRACT_TEST_FAILED"
    assert body["errors"][0]["extensions"]["problems"][0]["path"] == "base_url"

    wrong_secret = data_for(hub)
    wrong_secret["auth"]["secret"] = "not-the-secret"
    body = await register(hub, token, wrong_secret)
    assert body["errors"][0]["extensions"]["code"] == "CONTRACT_TEST_FAILED"
    assert body["errors"][0]["extensions"]["problems"][0]["path"] == "auth"
    assert "not-the-secret" not in json.dumps(body)

    assert (await in_force(AGENCY), len(await versions.history(AGENCY))) == (before, histories)
    await transit_works(hub)


async def test_an_agency_cannot_touch_another_agencys_connector(hub: RunningHub) -> None:
    token = await agency_token(hub, AGENCY)
    library_before = await in_force("library")
    body = await register(hub, token, data_for(hub, "library"))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _, body = await hub.graphql('mutation { disableConnector(agency: "library") { enabled } }', token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Claiming another agency's section under one's own id is refused too.
    data = data_for(hub, "library")
    data["agency"] = AGENCY
    body = await register(hub, token, data)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["extensions"]["problems"][0]["path"] == "section"
    state = await versions.ConnectorState.get(agency="library")
    assert (state.version, state.enabled) == (library_before, True)


@pytest.mark.parametrize("who", ["citizen", "agency without connectors:manage"])
async def test_only_an_agency_token_with_connectors_manage_may_register(hub: RunningHub, who: str) -> None:
    if who == "citizen":
        token = await hub.token(PERSONA.card_number)
    else:
        token = await agency_token(hub, AGENCY, frozenset({"transit"}))
    body = await register(hub, token, data_for(hub))
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    _, body = await hub.graphql(CONNECTORS, token)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_queries_during_an_activation_all_succeed(hub: RunningHub) -> None:
    token = await agency_token(hub, AGENCY)
    citizen = await hub.token(PERSONA.card_number)
    data = data_for(hub)
    data["cache_ttl_seconds"] = 77
    stop = asyncio.Event()
    answers: list[dict[str, Any]] = []

    async def reader() -> None:
        while not stop.is_set():
            answers.append((await hub.graphql(TRANSIT, citizen))[1])

    readers = [asyncio.create_task(reader()) for _ in range(8)]
    await asyncio.sleep(0.2)
    old = live(hub)[AGENCY]
    body = await register(hub, token, data)
    assert body["data"]["registerConnector"]["created"] is True
    assert live(hub)[AGENCY] is not old
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.gather(*readers)
    assert len(answers) > 16
    assert all("errors" not in a and a["data"]["me"]["transit"]["cardNumber"] for a in answers)


async def test_secrets_never_reach_the_logs(hub: RunningHub, caplog: pytest.LogCaptureFixture) -> None:
    token = await agency_token(hub, AGENCY)
    data = data_for(hub)
    data["cache_ttl_seconds"] = 99
    with caplog.at_level(logging.DEBUG):
        await register(hub, token, data)
        data["auth"]["secret"] = "wrong-secret-1234"
        await register(hub, token, data)
    assert caplog.records, "registration should log"
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert credentials.TRANSIT_CLIENT_SECRET not in text
    assert "wrong-secret-1234" not in text


async def test_an_exported_manifest_registers_again_keeping_the_secret(hub: RunningHub) -> None:
    token = await agency_token(hub, AGENCY)
    data = data_for(hub)
    data["cache_ttl_seconds"] = 41
    await register(hub, token, data)
    _, body = await hub.graphql(CONNECTORS, token)
    exported = body["data"]["connectors"][0]["manifest"]
    assert credentials.TRANSIT_CLIENT_SECRET not in exported
    edited = exported.replace("cache_ttl_seconds = 41", "cache_ttl_seconds = 42")
    body = await register(hub, token, edited)
    assert body["data"]["registerConnector"]["connector"]["cacheTtlSeconds"] == 42
    await transit_works(hub)  # the secret in force was kept: the agency still accepts the hub


async def test_redacted_cannot_stand_for_the_built_in_connectors_secret(hub: RunningHub) -> None:
    # The built-in manifest's stored secret is the sandbox's; the one in use may come from the settings.
    token = await agency_token(hub, AGENCY)
    await versions.point_to(AGENCY, 1, "tests")
    await live(hub).refresh()
    _, body = await hub.graphql(CONNECTORS, token)
    exported = body["data"]["connectors"][0]["manifest"]
    body = await register(hub, token, exported.replace("cache_ttl_seconds = 60", "cache_ttl_seconds = 61"))
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MANIFEST_INVALID"
    assert error["extensions"]["problems"][0]["path"] == "auth.secret"
    assert await in_force(AGENCY) == 1
