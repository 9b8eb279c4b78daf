"""``cardhub db ...``: the database schema, kept by migrations (hub/migrations).

``cardhub db upgrade`` applies the pending migrations: run it before starting a new version of the hub
(a production hub refuses to start while any is pending; a sandbox hub applies them itself). A database
made by a hub from before migrations is adopted. ``cardhub db prune`` deletes expired and revoked
tokens and codes now, as every hub instance does periodically (hub/housekeeping.py). Exit codes: 0 done,
1 refused (the reason is printed), 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tortoise.exceptions import DBConnectionError

from hub import database, housekeeping
from hub.progress import progress
from hub.settings import Settings

T = TypeVar("T")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("db", help="the database schema: migrations applied and pending")
    commands = parser.add_subparsers(dest="db_command", required=True)

    upgrade = commands.add_parser("upgrade", help="apply the pending migrations (run before starting a new hub)")
    upgrade.set_defaults(handler=_upgrade)

    status = commands.add_parser("status", help="the migrations applied and pending; changes nothing")
    status.add_argument("--json", action="store_true", help="JSON instead of text")
    status.set_defaults(handler=_status)

    prune = commands.add_parser("prune", help="delete expired and revoked tokens and codes now; print the counts")
    prune.add_argument("--json", action="store_true", help="JSON instead of text")
    prune.set_defaults(handler=_prune)


def _run(settings: Settings, work: Callable[[], Awaitable[T]]) -> T:
    async def run() -> T:
        async with database.opened(settings.database_url):
            return await work()

    return asyncio.run(run())


def _refused(why: object) -> int:
    print(f"cardhub: refused: {why}", file=sys.stderr)
    return 1


def _unreachable(settings: Settings, exc: Exception) -> int:
    print(f"cardhub: cannot reach the database {where(settings.database_url)}: {exc}", file=sys.stderr)
    return 1


def _upgrade(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> tuple[database.Status, list[str], database.Status]:
        before = await database.status()
        applied = await database.upgrade()
        return before, applied, await database.status()

    try:
        with progress("applying migrations"):
            before, applied, after = _run(settings, work)
    except database.SchemaError as exc:
        return _refused(exc)
    except (DBConnectionError, OSError) as exc:
        return _unreachable(settings, exc)
    for name in applied:
        if name == database.INITIAL and before.predates_migrations:
            print(f"adopted {name}: the tables of a hub from before migrations, data kept, missing indexes added")
        else:
            print(f"applied {name}")
    state = "up to date" if applied else "already up to date"
    print(f"{where(settings.database_url)}: {state} ({', '.join(after.applied)})")
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    try:
        now = _run(settings, database.status)
    except database.SchemaError as exc:
        return _refused(exc)
    except (DBConnectionError, OSError) as exc:
        return _unreachable(settings, exc)
    if args.json:
        data = {
            "database": where(settings.database_url),
            "applied": now.applied,
            "pending": now.pending,
            "unknown": now.unknown,
            "predatesMigrations": now.predates_migrations,
            "lacking": list(now.lacking),
        }
        print(json.dumps(data))
        return 0
    print(f"database: {where(settings.database_url)}")
    for name in now.applied:
        print(f"  applied  {name}")
    for name in now.pending:
        print(f"  pending  {name}")
    for name in now.unknown:
        print(f"  unknown  {name} (applied by a newer hub)")
    print(now.advice)
    return 0


def _prune(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> dict[str, int]:
        now = await database.status()
        if now.pending or now.predates_migrations:
            raise database.SchemaOutOfDate(f"the schema is not up to date: {now.advice}")
        return await housekeeping.prune(settings.prune_after_seconds, settings.prune_batch_size)

    try:
        with progress("deleting expired tokens and codes"):
            counts = _run(settings, work)
    except database.SchemaError as exc:
        return _refused(exc)
    except (DBConnectionError, OSError) as exc:
        return _unreachable(settings, exc)
    if args.json:
        print(json.dumps({"database": where(settings.database_url), "deleted": counts}))
        return 0
    for kind, deleted in counts.items():
        print(f"{kind.replace('_', ' ')}: {deleted} deleted")
    print(f"(expired or revoked more than {settings.prune_after_seconds} s ago; consents and the access log are kept)")
    return 0


def where(database_url: str) -> str:
    """The URL without its password, fit to print."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
