"""The hub's store: tortoise-orm on SQLite (the default) or PostgreSQL (``postgres://``, asyncpg).

The schema is the migrations in ``hub/migrations`` (tortoise's own). ``cardhub db upgrade`` applies
them; a production hub refuses to start while any is pending, a sandbox hub applies them itself.
After changing a model, add the migration that goes with it: ``.venv/bin/tortoise makemigrations``
(pyproject's ``[tool.tortoise]`` names ``TORTOISE_ORM`` below), and commit it with the change.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from tortoise import connections, fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.graph import MigrationKey
from tortoise.migrations.operations import CreateModel
from tortoise.migrations.schema_generator.state import State
from tortoise.migrations.schema_generator.state_apps import StateApps
from tortoise.models import Model

log = logging.getLogger("cardhub.database")

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
        "cache.purges",
        "auth.documents",
        "auth.oidc.links",
        "auth.events",
        "auth.export",
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


APP = "models"
MIGRATIONS = "hub.migrations"
INITIAL = "0001_initial"  # the schema of the last hub without migrations, plus the indexes
# Indexes that hubs made before migrations had and the initial migration replaced with better ones
# (audit_log_citizen_id; connector_version's unique (agency, version)): adopting drops them.
SUPERSEDED_INDEXES = ("idx_audit_log_citizen_4887ab", "idx_connector_v_agency_6d44a1")
_PG_LOCK = 0x63617264687562  # pg_advisory_lock key: one migration run at a time per database ("cardhub")


class SchemaError(Exception):
    """The database's schema is not one this hub can work with; the message says what to do."""


class SchemaOutOfDate(SchemaError):
    """Migrations are pending and this hub does not apply them itself (production mode)."""


class PreMigrationDatabase(SchemaError):
    """Tables made by a hub from before migrations that cannot be adopted as they are."""


def config(database_url: str) -> dict[str, Any]:
    """The tortoise config: the hub's models and their migrations, on one connection."""
    return {
        "connections": {"default": with_defaults(database_url)},
        "apps": {APP: {"models": list(MODELS[APP]), "migrations": MIGRATIONS, "default_connection": "default"}},
    }


# For tortoise's own command line (developers: `tortoise makemigrations`); operators use `cardhub db`.
TORTOISE_ORM = config("sqlite://:memory:")


@asynccontextmanager
async def opened(database_url: str) -> AsyncIterator[None]:
    """The database as it is, schema untouched (``cardhub db``), in a Tortoise context of its own.

    The context is this task's only, and closed on the way out: a running hub in the same process
    (the tests, the demo) keeps its own.
    """
    prepare(database_url)
    async with TortoiseContext() as context:
        await context.init(config(database_url))
        yield


@asynccontextmanager
async def connected(database_url: str) -> AsyncIterator[None]:
    """For the CLI and scripts (the app uses RegisterTortoise in its lifespan): brings the schema up to date."""
    async with opened(database_url):
        await upgrade()
        yield


@dataclass(frozen=True)
class Status:
    applied: list[str]  # in the order they were applied
    pending: list[str]  # in the order they would be
    unknown: list[str]  # applied by a newer hub: this one has no such migration
    predates_migrations: bool = False  # the hub's tables exist but no migration was ever recorded
    lacking: tuple[str, ...] = ()  # such tables' missing columns ("client.agency"): cannot be adopted

    @property
    def advice(self) -> str:
        if self.lacking:
            return _cannot_adopt(self.lacking)
        if self.predates_migrations:
            return (
                "the database was made by a hub from before migrations: `cardhub db upgrade` adopts it "
                "(keeps its data, records it as migrated and adds the missing indexes)"
            )
        if self.pending:
            return f"{len(self.pending)} pending ({', '.join(self.pending)}): run `cardhub db upgrade`"
        return "up to date"


async def status() -> Status:
    """Where the database stands (inside an initialized Tortoise context). Changes nothing."""
    return await _status(_executor())


async def pending() -> list[str]:
    """The migrations not applied yet, in order (inside an initialized Tortoise context)."""
    return (await status()).pending


async def upgrade() -> list[str]:
    """Apply the pending migrations (inside an initialized Tortoise context); return their names.

    One process at a time per database; the others wait and then find nothing left to do. A database
    made before migrations is adopted when it has every column (its initial migration is recorded,
    the missing indexes created), and refused with PreMigrationDatabase when it does not.
    """
    executor = _executor()
    done: list[str] = []
    async with _exclusive(executor.connection):
        now = await _status(executor)
        if now.predates_migrations:
            await _adopt(executor, now)
            done.append(INITIAL)
            now = await _status(executor)
        if now.pending:

            def progress(event: str, app: str, name: str) -> None:
                if event == "apply_done":
                    done.append(name)
                    log.info("applied migration %s", name)

            await executor.migrate(direction="forward", progress=progress)
    return done


async def ensure_schema(*, sandbox: bool) -> None:
    """For the app's lifespan: sandbox mode applies pending migrations; production refuses to start."""
    if sandbox:
        applied = await upgrade()
        if applied:
            log.info("database migrated: %s", ", ".join(applied))
        return
    now = await status()
    if now.unknown:
        log.warning("the database has migrations this hub does not know (%s): a newer hub ran", ", ".join(now.unknown))
    if now.lacking:
        raise SchemaOutOfDate(_cannot_adopt(now.lacking))
    if now.predates_migrations:
        why = "it was made by a hub from before migrations and is not adopted yet"
    elif now.pending:
        why = f"{len(now.pending)} migration{'s' if len(now.pending) > 1 else ''} pending ({', '.join(now.pending)})"
    else:
        return
    raise SchemaOutOfDate(
        f"the database is not at this hub's schema: {why}. Run `cardhub db upgrade` with the same "
        "database_url (DATABASE_URL), then start the hub again"
    )


async def ensure_schema_of(database_url: str, *, sandbox: bool) -> None:
    """ensure_schema on a connection of its own: for ``cardhub serve`` before any worker starts, so that
    a refusal reads as one line and not as each worker's start-up traceback."""
    async with opened(database_url):
        await ensure_schema(sandbox=sandbox)


def _executor() -> MigrationExecutor:
    apps = {APP: {"models": list(MODELS[APP]), "migrations": MIGRATIONS, "default_connection": "default"}}
    return MigrationExecutor(connections.get("default"), apps)


async def _status(executor: MigrationExecutor) -> Status:
    steps = await executor.plan()  # loads the migrations from disk and what the database recorded
    recorded = [k.name for k in await executor.recorder.applied_migrations() if k.app_label == APP]
    known = {k.name for k in executor.loader.graph.nodes if k.app_label == APP}
    pending = [s.migration.name for s in steps if not s.backward]
    if recorded:
        return Status([n for n in recorded if n in known], pending, [n for n in recorded if n not in known])
    have = await _columns(executor.connection)
    initial = await _initial_models(executor)
    if not any(m._meta.db_table in have for m in initial):
        return Status([], pending, [])  # a new, empty database
    lacking = tuple(
        f"{m._meta.db_table}.{column}"
        for m in initial
        if m._meta.db_table in have
        for column in m._meta.fields_db_projection.values()
        if column not in have[m._meta.db_table]
    )
    return Status([], pending, [], predates_migrations=True, lacking=lacking)


async def _initial_models(executor: MigrationExecutor) -> list[type[Model]]:
    """The tables of the initial migration, as it creates them (graph loaded by executor.plan)."""
    migration = executor.loader.graph.nodes[MigrationKey(APP, INITIAL)]
    assert migration is not None, f"{MIGRATIONS} has no {INITIAL}"
    state = State(models={}, apps=StateApps(default_connections={APP: "default"}))
    await migration.apply(state, dry_run=True)
    return [state.apps.get_model(f"{APP}.{op.name}") for op in migration.operations if isinstance(op, CreateModel)]


async def _columns(client: BaseDBAsyncClient) -> dict[str, dict[str, str]]:
    """Every table of the database (SQLite: the file; PostgreSQL: the current schema): {column: type}."""
    dialect = client.capabilities.dialect
    tables: dict[str, dict[str, str]] = {}
    if dialect == "sqlite":
        _, rows = await client.execute_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        for row in rows:
            _, cols = await client.execute_query(f'PRAGMA table_info("{row["name"]}")')
            tables[row["name"]] = {c["name"]: c["type"].lower() for c in cols}
        return tables
    if dialect == "postgres":
        _, rows = await client.execute_query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        for row in rows:
            tables.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
        return tables
    raise SchemaError(f"the hub supports SQLite and PostgreSQL databases, not {dialect}")


async def _adopt(executor: MigrationExecutor, now: Status) -> None:
    """Record a pre-migration database as at the initial migration, after making it so.

    Creates what it lacks of the initial schema (tables added since, the new indexes: every statement
    IF NOT EXISTS, so a run cut short can simply be repeated) and drops the indexes it replaced.
    """
    if now.lacking:
        raise PreMigrationDatabase(_cannot_adopt(now.lacking))
    client = executor.connection
    # The SQL the initial migration runs, made idempotent. _get_model_sql_data is what tortoise's own
    # migration recorder uses to create its table; the tests check the result on SQLite and PostgreSQL.
    editor = executor._schema_editor(atomic=False)
    for model in await _initial_models(executor):
        sql = editor._get_model_sql_data(model).table_sql
        sql = re.sub(r"^CREATE (UNIQUE )?(TABLE|INDEX) ", r"CREATE \1\2 IF NOT EXISTS ", sql, flags=re.MULTILINE)
        await client.execute_script(sql)
    for index in SUPERSEDED_INDEXES:
        await client.execute_script(f'DROP INDEX IF EXISTS "{index}"')
    if client.capabilities.dialect == "postgres":
        await _widen_ids(client, await _initial_models(executor))
    await executor.recorder.ensure_schema(editor)
    await executor.recorder.record_applied(APP, INITIAL)
    log.warning("adopted a database made before migrations: recorded as at %s", INITIAL)


async def _widen_ids(client: BaseDBAsyncClient, models: list[type[Model]]) -> None:
    """PostgreSQL: the id columns that became 64-bit with migrations (tokens, codes, grants), sequences too.

    SQLite needs nothing: its integers are 64-bit whatever the declared type.
    """
    have = await _columns(client)
    for model in models:
        table = model._meta.db_table
        for name, column in model._meta.fields_db_projection.items():
            if isinstance(model._meta.fields_map[name], fields.BigIntField) and have[table][column] == "integer":
                await client.execute_script(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE BIGINT')
                _, rows = await client.execute_query(
                    "SELECT pg_get_serial_sequence($1, $2) AS seq", [f'"{table}"', column]
                )
                if rows and rows[0]["seq"]:
                    await client.execute_script(f"ALTER SEQUENCE {rows[0]['seq']} AS BIGINT")


def _cannot_adopt(lacking: Iterable[str]) -> str:
    return (
        "the database was made by an older hub, from before migrations, and lacks columns this hub needs "
        f"({', '.join(lacking)}); it cannot be brought up to date. Move it aside (keep it if you need its "
        "audit log) and let `cardhub db upgrade` create a new one"
    )


def exclusively() -> AbstractAsyncContextManager[None]:
    """One process at a time across every instance on this database: for start-up work that checks,
    then inserts (seeding the card registry and the built-in connectors), which instances starting
    together would otherwise race on."""
    return _exclusive(connections.get("default"))


@asynccontextmanager
async def _exclusive(client: BaseDBAsyncClient) -> AsyncIterator[None]:
    """One migration run at a time across processes (hub workers starting together, two deploys)."""
    dialect = client.capabilities.dialect
    if dialect == "postgres":
        # A session lock on a connection of its own, held while the migrations run on others.
        async with client.acquire_connection() as connection:
            await connection.execute(f"SELECT pg_advisory_lock({_PG_LOCK})")
            try:
                yield
            finally:
                await connection.execute(f"SELECT pg_advisory_unlock({_PG_LOCK})")
    elif dialect == "sqlite" and getattr(client, "filename", ":memory:") != ":memory:":
        # A lock file beside the database: never the database file itself, whose descriptor, once
        # closed, would drop SQLite's own locks held by this process.
        fd = os.open(f"{client.filename}-migrations.lock", os.O_RDWR | os.O_CREAT, 0o600)  # type: ignore[attr-defined]
        try:
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
    else:
        yield
