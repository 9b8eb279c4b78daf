"""``cardhub clients``, run as an operator runs it; and a client disabled through it is refused by two
production hubs on PostgreSQL at once."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from connectors.runtime import client_secret_basic
from tests.cache.conftest import redis_running
from tests.hub.test_cli import cardhub
from tests.hub.test_instances import Hub
from tests.production import production_env

BUS = ("--name", "Bus App", "--type", "agency", "--scope", "transit", "--purpose", "Shows your bus balance")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/hub.sqlite3"}


def ok(env: dict[str, str], *args: str) -> str:
    done = cardhub(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def create(env: dict[str, str], *args: str) -> dict[str, str]:
    created: dict[str, str] = json.loads(ok(env, "clients", "create", *args, "--json"))
    return created


def test_list_and_show_say_each_clients_state_and_never_a_secret(env: dict[str, str]) -> None:
    bus = create(env, *BUS)
    app = create(env, "--name", "Card App", "--type", "public", "--redirect-uri", "cn.city.app:/cb",
                 "--scope", "card", "--purpose", "Your card", "--first-party")  # fmt: skip
    listed = json.loads(ok(env, "clients", "list", "--json"))
    assert [(c["client_id"], c["state"]) for c in listed] == [
        (bus["client_id"], "active"),
        (app["client_id"], "active"),
    ]
    assert bus["client_secret"] not in json.dumps(listed)
    shown = json.loads(ok(env, "clients", "show", bus["client_id"], "--json"))
    assert (shown["type"], shown["has_secret"], shown["scope"]) == ("agency", True, "transit")
    assert bus["client_secret"] not in ok(env, "clients", "show", bus["client_id"])
    assert f"{app['client_id']}" in ok(env, "clients", "list")


def test_disable_enable_delete_and_what_list_shows(env: dict[str, str]) -> None:
    bus = create(env, *BUS)
    assert "disabled" in ok(env, "clients", "disable", bus["client_id"])
    assert json.loads(ok(env, "clients", "show", bus["client_id"], "--json"))["state"] == "disabled"
    ok(env, "clients", "enable", bus["client_id"])
    assert json.loads(ok(env, "clients", "show", bus["client_id"], "--json"))["state"] == "active"
    assert "consents and the access log keep its name" in ok(env, "clients", "delete", bus["client_id"])
    assert json.loads(ok(env, "clients", "list", "--json")) == []
    dead = json.loads(ok(env, "clients", "list", "--all", "--json"))[0]
    assert (dead["state"], dead["has_secret"], dead["name"]) == ("deleted", False, "Bus App")
    refused = cardhub("clients", "enable", bus["client_id"], env=env)
    assert refused.returncode == 1 and "stays deleted" in refused.stderr


def test_rotate_secret_prints_the_new_one_once_with_the_grace_it_was_given(env: dict[str, str]) -> None:
    bus = create(env, *BUS)
    rotated = json.loads(ok(env, "clients", "rotate-secret", bus["client_id"], "--grace", "3600", "--json"))
    assert rotated["client_secret"].startswith("chs_") and rotated["client_secret"] != bus["client_secret"]
    assert rotated["previous_secret_valid_until"]
    shown = json.loads(ok(env, "clients", "show", bus["client_id"], "--json"))
    assert shown["previous_secret_valid_until"] == rotated["previous_secret_valid_until"]
    text = ok(env, "clients", "rotate-secret", bus["client_id"])
    assert "the previous secret is refused" in text and "cannot be shown again" in text


@pytest.mark.parametrize("command", ["show", "disable", "enable", "delete", "rotate-secret"])
def test_an_unknown_client_is_named_and_exits_1(env: dict[str, str], command: str) -> None:
    done = cardhub("clients", command, "no-such-app", env=env)
    assert done.returncode == 1
    assert done.stderr.strip() == "cardhub: no client 'no-such-app'; see: cardhub clients list"


def test_rotating_a_public_clients_secret_is_refused(env: dict[str, str]) -> None:
    app = create(env, "--name", "App", "--type", "public", "--redirect-uri", "cn.city.app:/cb", "--scope", "card",
                 "--purpose", "p")  # fmt: skip
    done = cardhub("clients", "rotate-secret", app["client_id"], env=env)
    assert done.returncode == 1 and "public client: it has no secret to rotate" in done.stderr
    bad = cardhub("clients", "create", "--name", "X", "--type", "public", "--scope", "card", "--purpose", "p", env=env)
    assert bad.returncode == 2 and "redirect-uri" in bad.stderr  # a bad registration stays a usage error


# --- production, PostgreSQL, two instances ---------------------------------------------------------


@pytest.fixture
def production(postgres_url: str) -> Iterator[dict[str, str]]:
    if not redis_running():
        pytest.skip("Redis is not running on 127.0.0.1:6379 (the project's development and CI machines run it)")
    yield {
        **os.environ,
        **production_env(),
        "CARDHUB_DATABASE_URL": postgres_url,
        "CARDHUB_CACHE_URL": "redis://127.0.0.1:6379/13",
        "CARDHUB_LOG_LEVEL": "WARNING",
    }


async def client_token(hub: Hub, client_id: str, secret: str) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.post(
        hub.url + "/oauth/token", data={"grant_type": "client_credentials"},
        headers={"Authorization": client_secret_basic(client_id, secret)},
    ) as resp:  # fmt: skip
        answer: dict[str, str] = await resp.json(content_type=None)
        return resp.status, answer


async def typename(hub: Hub, token: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            hub.url + "/graphql", json={"query": "{ __typename }"}, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status


async def test_a_client_disabled_by_the_operator_is_refused_at_once_by_every_instance(
    production: dict[str, str], tmp_path: Path
) -> None:
    ok(production, "db", "upgrade")
    bus = create(production, *BUS)
    rotated = json.loads(ok(production, "clients", "rotate-secret", bus["client_id"], "--grace", "600", "--json"))
    env = {**production, "CARDHUB_FREE_FORM_CLIENTS": bus["client_id"]}
    one, other = Hub(env, tmp_path / "one.log"), Hub(env, tmp_path / "other.log")
    try:
        await asyncio.to_thread(one.wait_ready)
        await asyncio.to_thread(other.wait_ready)
        for secret in (bus["client_secret"], rotated["client_secret"]):  # the old one within its grace too
            status, answer = await client_token(one, bus["client_id"], secret)
            assert status == 200, answer
        token = answer["access_token"]
        assert await typename(other, token) == 200

        await asyncio.to_thread(ok, production, "clients", "disable", bus["client_id"])
        assert await typename(other, token) == 401  # the very next request, on the other instance
        assert await typename(one, token) == 401
        status, answer = await client_token(other, bus["client_id"], rotated["client_secret"])
        assert (status, answer["error"]) == (401, "invalid_client")

        await asyncio.to_thread(ok, production, "clients", "enable", bus["client_id"])
        assert await typename(one, token) == 401  # revoked for good
        status, answer = await client_token(other, bus["client_id"], rotated["client_secret"])
        assert status == 200 and await typename(one, answer["access_token"]) == 200

        await asyncio.to_thread(ok, production, "clients", "delete", bus["client_id"])
        assert await typename(other, answer["access_token"]) == 401
        status, _ = await client_token(one, bus["client_id"], rotated["client_secret"])
        assert status == 401
    finally:
        one.stop()
        other.stop()
