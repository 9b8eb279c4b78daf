from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tortoise.context import TortoiseContext, tortoise_test_context

from auth import clients
from auth.clients import ClientError, ClientType

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
