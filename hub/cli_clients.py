"""``cardhub clients ...``: the apps and agencies registered to ask for citizen data.

``create`` registers one and prints its secret once. ``list`` and ``show`` read; ``disable``, ``enable``
and ``delete`` change what a client may do, at once on every instance (auth/oauth/client_management.py);
``rotate-secret`` prints a new secret once, the old one kept valid for ``--grace`` seconds if asked.
Exit codes: 0 done, 1 refused (an unknown client, a public client's secret; the reason is printed),
2 usage (a bad registration).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from auth import clients, scopes
from auth.clients import Client, ClientError, ClientType
from auth.oauth import client_management
from hub import cli_consent, database
from hub.settings import Settings

T = TypeVar("T")
KEEP_SECRET = "Keep the secret now: it is stored hashed and cannot be shown again."


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("clients", help="apps and agencies allowed to ask for citizen data")
    commands = parser.add_subparsers(dest="clients_command", required=True)

    create = commands.add_parser("create", help="register a client; prints its secret once")
    create.add_argument("--name", required=True, help="shown to citizens on the consent screen")
    create.add_argument("--type", required=True, choices=[t.value for t in ClientType], help="the kind of client")
    create.add_argument("--redirect-uri", action="append", default=[], metavar="URI", help="exact match; repeatable")
    create.add_argument("--scope", action="append", required=True, metavar="S", help="repeatable")
    create.add_argument("--purpose", required=True, help="shown to citizens on the consent screen")
    create.add_argument("--json", action="store_true", help="print the client as JSON")
    create.add_argument(
        "--first-party", action="store_true", help="the city's own app: may show and manage citizens' consents"
    )
    create.add_argument("--agency", metavar="ID", help="agency clients: the agency id whose connectors it manages")
    create.set_defaults(handler=_create)

    listing = commands.add_parser("list", help="the registered clients and their state")
    listing.add_argument("--all", action="store_true", help="deleted clients too")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")
    listing.set_defaults(handler=_list)

    show = commands.add_parser("show", help="one client, its state and its secrets' (never the secrets)")
    show.add_argument("client_id", metavar="CLIENT_ID", help="the client's id")
    show.add_argument("--json", action="store_true", help="JSON instead of text")
    show.set_defaults(handler=_show)

    for name, handler, text in (
        ("disable", _disable, "refuse the client everywhere and revoke all its tokens at once"),
        ("enable", _enable, "let a disabled client in again (its old tokens stay revoked)"),
        ("delete", _delete, "disable for good and clear its secret; consents and the access log keep its name"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("client_id", metavar="CLIENT_ID", help="the client's id")
        command.set_defaults(handler=handler)

    rotate = commands.add_parser("rotate-secret", help="a new secret, printed once")
    rotate.add_argument("client_id", metavar="CLIENT_ID", help="the client's id")
    rotate.add_argument(
        "--grace", type=int, default=0, metavar="SECONDS", help="keep the old secret valid this long (default 0)"
    )
    rotate.add_argument("--json", action="store_true", help="JSON instead of text")
    rotate.set_defaults(handler=_rotate)

    cli_consent.add_events_command(commands)


def _run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        async with database.connected(settings.database_url):
            return await work()

    return asyncio.run(run())


def _refused(exc: Exception) -> int:
    print(f"cardhub: {exc}", file=sys.stderr)
    return 1


def described(client: Client) -> dict[str, Any]:
    """What ``show`` and ``list --json`` print: everything but secrets."""

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "client_id": client.client_id,
        "name": client.name,
        "type": client.type.value,
        "state": client.state.value,
        "redirect_uris": client.redirect_uris,
        "scope": client.scope,
        "purpose": client.purpose,
        "first_party": client.first_party,
        "agency": client.agency,
        "has_secret": client.secret_hash is not None,
        "previous_secret_valid_until": when(client.previous_secret_expires_at),
        "created_at": when(client.created_at),
        "disabled_at": when(client.disabled_at),
        "deleted_at": when(client.deleted_at),
    }


def _create(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> tuple[Client, str | None]:
        return await clients.create(
            args.name,
            ClientType(args.type),
            args.redirect_uri,
            scopes.parse(args.scope, client_scopes=True),
            args.purpose,
            first_party=args.first_party,
            agency=args.agency,
        )

    try:
        client, secret = _run(settings, work)
    except ClientError as exc:
        print(f"cardhub: {exc}", file=sys.stderr)
        return 2
    shown = {
        "client_id": client.client_id,
        "name": client.name,
        "type": client.type.value,
        "redirect_uris": client.redirect_uris,
        "scope": client.scope,
        "purpose": client.purpose,
        "first_party": client.first_party,
        "agency": client.agency,
    }
    if secret is not None:
        shown["client_secret"] = secret
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print("\n".join(f"{k}: {v}" for k, v in shown.items()))
        if secret is not None:
            print(KEEP_SECRET)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    found = _run(settings, lambda: clients.listed(include_deleted=args.all))
    if args.json:
        print(json.dumps([described(c) for c in found], ensure_ascii=False))
        return 0
    for c in found:
        print(f"{c.client_id:40} {c.type.value:12} {c.state.value:8} {c.name}")
    if not found:
        print("no clients registered; see: cardhub clients create --help")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    try:
        client = _run(settings, lambda: clients.get(args.client_id))
    except ClientError as exc:
        return _refused(exc)
    shown = described(client)
    print(json.dumps(shown, ensure_ascii=False) if args.json else "\n".join(f"{k}: {v}" for k, v in shown.items()))
    return 0


def _disable(args: argparse.Namespace, settings: Settings) -> int:
    try:
        client, grants = _run(settings, lambda: client_management.disable(args.client_id))
    except ClientError as exc:
        return _refused(exc)
    print(f"disabled {client.client_id}: refused at every endpoint; {grants} grants and all its tokens revoked")
    return 0


def _enable(args: argparse.Namespace, settings: Settings) -> int:
    try:
        client = _run(settings, lambda: client_management.enable(args.client_id))
    except ClientError as exc:
        return _refused(exc)
    print(f"enabled {client.client_id}: it may get new tokens; the ones it had stay revoked")
    return 0


def _delete(args: argparse.Namespace, settings: Settings) -> int:
    try:
        client, grants = _run(settings, lambda: client_management.delete(args.client_id))
    except ClientError as exc:
        return _refused(exc)
    print(
        f"deleted {client.client_id}: {grants} grants and all its tokens revoked, its secret cleared; "
        "consents and the access log keep its name, and its id is never reused"
    )
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    grace = timedelta(seconds=args.grace)
    try:
        client, secret = _run(settings, lambda: clients.rotate_secret(args.client_id, grace))
    except ClientError as exc:
        return _refused(exc)
    until = client.previous_secret_expires_at
    if args.json:
        valid = until.isoformat() if until is not None else None
        shown = {"client_id": client.client_id, "client_secret": secret, "previous_secret_valid_until": valid}
        print(json.dumps(shown))
        return 0
    print(f"client_id: {client.client_id}\nclient_secret: {secret}")
    print(f"the previous secret is accepted until {until.isoformat()}" if until else "the previous secret is refused")
    print(KEEP_SECRET)
    return 0
