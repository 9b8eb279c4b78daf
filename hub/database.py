"""The hub's store: tortoise-orm, SQLite by default, any tortoise URL through settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

from tortoise import Tortoise

MODELS: dict[str, Iterable[str | ModuleType]] = {
    "models": [
        "auth.registry",
        "auth.tokens",
        "auth.audit",
        "auth.clients",
        "auth.consent",
        "auth.oauth.grants",
        "auth.oauth.authorization_code",
    ]
}


def prepare(database_url: str) -> None:
    """Create the folder of a SQLite file so a fresh checkout just works."""
    if database_url.startswith("sqlite://") and ":memory:" not in database_url:
        Path(database_url.removeprefix("sqlite://")).parent.mkdir(parents=True, exist_ok=True)


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[None]:
    """For the CLI and scripts (the app uses RegisterTortoise in its lifespan)."""
    prepare(database_url)
    await Tortoise.init(db_url=database_url, modules=MODELS)
    try:
        await Tortoise.generate_schemas(safe=True)
        yield
    finally:
        await Tortoise.close_connections()
