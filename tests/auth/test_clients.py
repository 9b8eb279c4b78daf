from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import clients
from auth.clients import ClientDeleted, ClientError, ClientState, ClientType, NoSecret, UnknownClient

ALL = frozenset({"card", "transit"})


@pytest.fixture
async def db() -> AsyncIterator[TortoiseContext]:
    async with tortoise_test_context(["auth.clients"]) as ctx:
        yield ctx


async def test_public_clients_get_no_secret_and_others_get_one_shown_once(db: TortoiseContext) -> None:
    app, secret = await clients.create("Citizen App", ClientType.PUBLIC, ["cn.xm.citizen:/cb"], ALL, "your cards")
    assert secret is None and app.secret_hash is None
    server, secret = await clients.create("Hospital", ClientType.CONFIDENTIAL, ["https://h.example/cb"], ALL, "p")
    assert secret is not None and secret.startswith("chs_")
    stored = await clients.find(server.client_id)
    assert stored is not None
    assert secret not in (stored.secret_hash or "")
    assert stored.check_secret(secret) and not stored.check_secret(secret + "x")
    agency, secret = await clients.create("Transit Co", ClientType.AGENCY, [], ALL, "fares")
    assert secret is not None and agency.redirect_uris == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"redirect_uris": []}, "at least one"),
        ({"redirect_uris": ["http://app.example/cb"]}, "must be https"),
        ({"redirect_uris": ["https://app.example/cb#x"]}, "fragment"),
        ({"scopes": frozenset({"everything"})}, "unknown"),
        ({"scopes": frozenset()}, "at least one"),
        ({"purpose": "  "}, "purpose"),
        ({"name": ""}, "name"),
    ],
)
async def test_bad_registrations_name_the_field(db: TortoiseContext, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "name": "App",
        "client_type": ClientType.CONFIDENTIAL,
        "redirect_uris": ["https://app.example/cb"],
        "scopes": ALL,
        "purpose": "p",
        **kwargs,
    }
    with pytest.raises(ClientError, match=message):
        await clients.create(**args)  # type: ignore[arg-type]


async def test_loopback_http_is_allowed_and_ids_are_unique(db: TortoiseContext) -> None:
    await clients.create("Dev", ClientType.PUBLIC, ["http://127.0.0.1:9000/cb"], ALL, "p", client_id="dev")
    with pytest.raises(ClientError, match="taken"):
        await clients.create("Dev", ClientType.PUBLIC, ["http://127.0.0.1:9000/cb"], ALL, "p", client_id="dev")


# --- management: states and secret rotation ------------------------------------------------------


async def test_rotating_a_secret_with_a_grace_keeps_the_old_one_until_it_ends(db: TortoiseContext) -> None:
    client, old = await clients.create("Clinic", ClientType.CONFIDENTIAL, ["https://c.example/cb"], ALL, "p")
    assert old is not None
    _, new = await clients.rotate_secret(client.client_id, timedelta(hours=1))
    assert new != old and new.startswith("chs_")
    stored = await clients.get(client.client_id)
    assert old not in (stored.previous_secret_hash or "") and stored.previous_secret_expires_at is not None
    assert stored.check_secret(new) and stored.check_secret(old)
    later = datetime.now(UTC) + timedelta(hours=1, seconds=1)
    assert stored.check_secret(new, now=later) and not stored.check_secret(old, now=later)

    _, newest = await clients.rotate_secret(client.client_id)  # no grace: only the newest works
    stored = await clients.get(client.client_id)
    assert stored.check_secret(newest) and not stored.check_secret(new) and not stored.check_secret(old)
    assert stored.previous_secret_hash is None and stored.previous_secret_expires_at is None


async def test_rotation_refuses_public_unknown_and_deleted_clients_and_absurd_graces(db: TortoiseContext) -> None:
    app, _ = await clients.create("App", ClientType.PUBLIC, ["cn.xm.app:/cb"], ALL, "p")
    with pytest.raises(NoSecret, match="public client: it has no secret"):
        await clients.rotate_secret(app.client_id)
    with pytest.raises(UnknownClient, match="no client 'nope'"):
        await clients.rotate_secret("nope")
    server, _ = await clients.create("Server", ClientType.CONFIDENTIAL, ["https://s.example/cb"], ALL, "p")
    with pytest.raises(ClientError, match="grace"):
        await clients.rotate_secret(server.client_id, timedelta(days=31))
    await clients.tombstone(server.client_id, datetime.now(UTC))
    with pytest.raises(ClientDeleted):
        await clients.rotate_secret(server.client_id)


async def test_states_disabled_clients_are_not_active_and_a_deleted_one_is_a_tombstone(db: TortoiseContext) -> None:
    client, secret = await clients.create("Lib", ClientType.CONFIDENTIAL, ["https://l.example/cb"], ALL, "books")
    assert secret is not None and client.state is ClientState.ACTIVE
    await clients.set_disabled(client.client_id, True, datetime.now(UTC))
    assert await clients.find_active(client.client_id) is None and await clients.is_disabled(client.client_id)
    assert [c.state for c in await clients.listed()] == [ClientState.DISABLED]
    await clients.set_disabled(client.client_id, False, datetime.now(UTC))
    assert await clients.find_active(client.client_id) is not None

    await clients.tombstone(client.client_id, datetime.now(UTC))
    dead = await clients.get(client.client_id)
    assert (dead.state, dead.secret_hash, dead.name, dead.purpose) == (ClientState.DELETED, None, "Lib", "books")
    assert not dead.check_secret(secret) and await clients.find_active(client.client_id) is None
    assert await clients.listed() == [] and len(await clients.listed(include_deleted=True)) == 1
    with pytest.raises(ClientDeleted):
        await clients.set_disabled(client.client_id, False, datetime.now(UTC))
    assert not await clients.is_disabled("never-registered")  # sandbox tokens may name no client
