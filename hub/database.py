"""The hub's store: tortoise-orm, SQLite by default, any tortoise URL through settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from tortoise import Tortoise

# At DEBUG these print every query with its parameters: agency secrets in connector manifests, token
# hashes. Whatever the hub's log level, they stay at INFO.
for _name in ("tortoise.db_client", "aiosqlite", "asyncpg"):
    logging.getLogger(_name).setLevel(logging.INFO)

MODELS: dict[str, Iterable[str | ModuleType]] = {
    "models": [
        "auth.registry",
        "auth.tokens",
        "auth.audit",
        "auth.clients",
        "auth.consent",
        "auth.oauth.grants",
        "auth.oauth.authorization_code",
        "connectors.versions",
    ]
}


def with_defaults(database_url: str) -> str:
    """SQLite in WAL mode (tortoise's default) with synchronous=NORMAL unless the URL says otherwise.

    Every data request appends to the audit log before it answers; with SQLite's default FULL each of
    those commits waits for an fsync (about 12 ms here). NORMAL keeps every commit through a crash of
    the hub, though not through a power cut of the machine; production belongs on PostgreSQL.
    """
    if database_url.startswith("sqlite://") and ":memory:" not in database_url and "synchronous=" not in database_url:
        return database_url + ("&" if "?" in database_url else "?") + "synchronous=NORMAL"
    return database_url


def prepare(database_url: str) -> None:
    """Create the folder of a SQLite file so a fresh checkout just works."""
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://").split("?")[0]).parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[None]:
    """For the CLI and scripts (the app uses RegisterTortoise in its lifespan)."""
    prepare(database_url)
    await Tortoise.init(db_url=with_defaults(database_url), modules=MODELS)
    try:
        await Tortoise.generate_schemas(safe=True)
        yield
    finally:
        await Tortoise.close_connections()
