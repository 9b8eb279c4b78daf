"""The hub's store: migrations build the schema on SQLite and PostgreSQL, with the indexes the queries need."""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

from hub import app as hub_app
from hub import database
from sandbox import runner
from tests.hub.test_cli import CARDHUB
from tests.production import production_env

PREMIGRATION = Path(__file__).parent / "premigration"  # the schema a hub from before migrations made

# Every query of the hub on a table that grows with the city, and the index that serves it:
# (table, leading columns of an index). Unique constraints count: they are indexes too.
QUERY_INDEXES = {
    ("access_token", ("token_hash",)): "tokens.authenticate, revocation: by hash",
    ("access_token", ("grant_id",)): "grants.revoke: a grant's access tokens",
    ("access_token", ("citizen", "client_id")): "consent.revoke: the citizen's tokens for a client",
    ("audit_record", ("citizen", "id")): "access_log.page: a citizen's log, newest first",
    ("audit_record", ("citizen", "outcome", "id")): "access_log.page, refused_probes: reads or refusals only",
    ("audit_record", ("seq",)): "the sequencer's waiting records; verify walks leaf order",
    ("audit_node", ("level", "index")): "proofs and the sequencer's frontier: a subtree's hash",
    ("audit_checkpoint", ("tree_size",)): "the latest checkpoint; one by its size",
    ("consent", ("citizen", "client_id")): "consent.standing and grant; for_citizen by its leading column",
    ("consent_event", ("consent_id",)): "a consent's history",
    ("refresh_token", ("token_hash",)): "grants.find_refresh_token, revocation: by hash",
    ("refresh_token", ("grant_id",)): "grants.revoke: a grant's refresh tokens",
    ("oauth_grant", ("citizen", "client_id")): "grants.withdraw: the grants a withdrawn consent covered",
    ("authorization_code", ("code_hash",)): "authorization_code.find: by hash",
    ("card", ("citizen_id",)): "a citizen's card",
    ("citizen", ("username",)): "usernames are unique",
    ("connector_version", ("agency", "version")): "versions.current, history, point_to",
    ("connector_state", ("section",)): "versions.serving",
    ("citizen_link", ("issuer", "subject")): "oidc.links.card_for: the card a provider's subject holds",
    ("access_token", ("expires_at",)): "tokens.prune: housekeeping, by expiry",
    ("access_token", ("revoked_at",)): "tokens.prune: housekeeping, by revocation",
    ("refresh_token", ("expires_at",)): "grants.prune: housekeeping, by expiry",
    ("refresh_token", ("revoked_at",)): "grants.prune: housekeeping, by revocation",
    ("authorization_code", ("expires_at",)): "authorization_code.prune: housekeeping, by expiry",
    ("security_event", ("client_id", "id")): "events.pending, acknowledge: a client's events in order",
    ("security_event", ("jti",)): "events.acknowledge: by jti (unique)",
    ("event_stream", ("client_id",)): "events.stream_of, register: a client's stream (unique)",
    ("export_job", ("citizen", "created_at")): "export.request, latest: a citizen's jobs, the rate limit",
}
# Replaced by better ones: no longer made, dropped when a pre-migration database is adopted.
NOT_WANTED = {("audit_log", ("citizen",)), ("connector_version", ("agency",))}
# Every migration, in the order a new database gets them.
MIGRATED = sorted(p.stem for p in (Path(database.__file__).parent / "migrations").glob("0*.py"))


async def tables_and_indexes(url: str) -> tuple[dict[str, dict[str, str]], dict[str, tuple[str, tuple[str, ...]]]]:
    """({table: {column: type}}, {index name: (table, columns)}) of the database, as it is."""
    async with database.opened(url):
        client = connections.get("default")
        tables = await database._columns(client)
        indexes: dict[str, tuple[str, tuple[str, ...]]] = {}
        if client.capabilities.dialect == "sqlite":
            for table in tables:
                _, listed = await client.execute_query(f'PRAGMA index_list("{table}")')
                for index in listed:
                    _, info = await client.execute_query(f'PRAGMA index_info("{index["name"]}")')
                    indexes[index["name"]] = (table, tuple(c["name"] for c in sorted(info, key=lambda c: c["seqno"])))
        else:
            _, rows = await client.execute_query(
                "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
            )
            for row in rows:
                columns = re.search(r"\(([^)]*)\)$", row["indexdef"])
                assert columns, row["indexdef"]
                indexes[row["indexname"]] = (row["tablename"], tuple(c.strip() for c in columns[1].split(",")))
    return tables, indexes


async def expected_tables() -> dict[str, set[str]]:
    """The hub's models: {table: columns}."""
    async with TortoiseContext() as context:
        await context.init(database.config("sqlite://:memory:"))
        assert context.apps is not None
        return {
            model._meta.db_table: set(model._meta.fields_db_projection.values())
            for model in context.apps.get_models_iterable()
        }


async def run(url: str, work: Any) -> Any:
    async with database.opened(url):
        return await work()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database: a SQLite file, then a PostgreSQL database (skipped where there is no server)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/hub.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url


async def test_upgrade_creates_every_table_and_the_indexes_the_queries_need(database_url: str) -> None:
    assert await run(database_url, database.pending) == MIGRATED
    assert await run(database_url, database.upgrade) == MIGRATED

    tables, indexes = await tables_and_indexes(database_url)
    # revocation_epoch is no model: one counter that migration 0008's triggers bump (auth/epoch.py).
    assert set(tables.pop("revocation_epoch")) == {"id", "value"}
    assert {t: set(c) for t, c in tables.items() if t != "tortoise_migrations"} == await expected_tables()
    have = set(indexes.values())
    missing = {f"{t}({', '.join(c)}): {why}" for (t, c), why in QUERY_INDEXES.items() if (t, c) not in have}
    assert not missing
    assert not NOT_WANTED & have
    if database_url.startswith("postgres"):  # tables growing by millions a month count past 2**31
        grows = ("access_token", "refresh_token", "authorization_code", "oauth_grant", "audit_record", "audit_node")
        for table in grows:
            assert tables[table]["id"] == "bigint", table
        assert tables["access_token"]["grant_id"] == tables["refresh_token"]["grant_id"] == "bigint"


async def test_upgrade_twice_changes_nothing(database_url: str) -> None:
    assert await run(database_url, database.upgrade) == MIGRATED
    before = await tables_and_indexes(database_url)
    assert await run(database_url, database.upgrade) == []
    assert await tables_and_indexes(database_url) == before
    now = await run(database_url, database.status)
    assert (now.applied, now.pending, now.predates_migrations, now.advice) == (
        MIGRATED,
        [],
        False,
        "up to date",
    )


async def test_connected_brings_the_schema_up_to_date_for_the_cli(database_url: str) -> None:
    async with database.connected(database_url):
        assert await database.pending() == []


async def test_the_migrations_match_the_models() -> None:
    """A model changed without its migration: run `.venv/bin/tortoise makemigrations` (hub/database.py)."""
    async with TortoiseContext() as context:
        await context.init(database.config("sqlite://:memory:"))
        assert context.apps is not None
        apps = {database.APP: {"models": list(database.MODELS[database.APP]), "migrations": database.MIGRATIONS}}
        changes = await MigrationAutodetector(context.apps, apps).changes()
    assert [op.describe() for writer in changes for op in writer.operations] == []


async def test_production_refuses_to_start_with_pending_migrations(database_url: str) -> None:
    async def start_production() -> None:
        await database.ensure_schema(sandbox=False)

    with pytest.raises(database.SchemaOutOfDate, match=r"0001_initial.*Run `cardhub db upgrade`"):
        await run(database_url, start_production)
    assert await run(database_url, database.pending) == MIGRATED  # refused, and changed nothing

    await run(database_url, database.upgrade)
    await run(database_url, start_production)  # up to date: starts


async def test_sandbox_applies_pending_migrations_itself(database_url: str) -> None:
    async def start_sandbox() -> None:
        await database.ensure_schema(sandbox=True)

    await run(database_url, start_sandbox)
    assert await run(database_url, database.pending) == []


async def test_ensure_schema_of_a_url_for_cardhub_serve(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/hub.sqlite3"
    pending = r"^the database is not at this hub's schema: \d+ migrations? pending"
    with pytest.raises(database.SchemaOutOfDate, match=pending):
        await database.ensure_schema_of(url, sandbox=False)
    await database.ensure_schema_of(url, sandbox=True)
    await database.ensure_schema_of(url, sandbox=False)


@pytest.mark.slow
async def test_a_production_hub_refuses_to_start_while_migrations_are_pending(tmp_path: Path) -> None:
    if "ensure_schema" not in inspect.getsource(hub_app):
        pytest.skip("hub/app.py does not call database.ensure_schema in its lifespan yet")
    port = runner.free_port()
    env = {
        **os.environ,
        **production_env(f"http://127.0.0.1:{port}"),
        "CARDHUB_DATABASE_URL": f"sqlite://{tmp_path}/new.sqlite3",
        "CARDHUB_PORT": str(port),
    }
    result = await asyncio.to_thread(
        subprocess.run, [CARDHUB, "serve"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "Run `cardhub db upgrade`" in result.stderr


# --- databases made before migrations -------------------------------------------------------------


async def make_premigration_database(url: str) -> None:
    """The tables a hub from before migrations made (commit 6b9ca31), and some data in them."""
    dialect = "postgres" if url.startswith("postgres") else "sqlite"
    async with database.opened(url):
        client = connections.get("default")
        await client.execute_script((PREMIGRATION / f"{dialect}.sql").read_text())
        await client.execute_script(
            "INSERT INTO citizen (card_number, name, username, created_at) "
            "VALUES ('350200000001', 'Lin Mei', 'linmei', '2026-01-02 03:04:05+00:00')"
        )


async def test_a_database_from_before_migrations_is_adopted_with_its_data(database_url: str) -> None:
    await make_premigration_database(database_url)
    now = await run(database_url, database.status)
    assert now.predates_migrations and now.pending == MIGRATED and not now.lacking
    assert "`cardhub db upgrade` adopts it" in now.advice

    async def start_production() -> None:
        await database.ensure_schema(sandbox=False)

    with pytest.raises(database.SchemaOutOfDate, match="from before migrations"):
        await run(database_url, start_production)

    assert await run(database_url, database.upgrade) == MIGRATED
    await run(database_url, start_production)
    assert await run(database_url, database.upgrade) == []

    async def names() -> list[str]:
        from auth.registry import Citizen

        return [c.name for c in await Citizen.all()]

    assert await run(database_url, names) == ["Lin Mei"]

    # Adopted, it is what a new database is: the same tables, columns and indexes.
    fresh = database_url.replace("hub.sqlite3", "fresh.sqlite3")
    if database_url.startswith("postgres"):
        async with database.opened(database_url):
            await connections.get("default").execute_script('CREATE SCHEMA "fresh"')
        fresh = database_url + "?schema=fresh"
    await run(fresh, database.upgrade)
    adopted_tables, adopted_indexes = await tables_and_indexes(database_url)
    fresh_tables, fresh_indexes = await tables_and_indexes(fresh)
    if database_url.startswith("postgres"):
        assert adopted_tables == fresh_tables  # the 32-bit ids of those days are 64-bit now
    else:  # SQLite integers are 64-bit whatever their declared type
        assert {t: set(c) for t, c in adopted_tables.items()} == {t: set(c) for t, c in fresh_tables.items()}
    assert adopted_indexes == fresh_indexes
    assert not NOT_WANTED & set(adopted_indexes.values())


async def test_a_database_from_before_migrations_lacking_columns_is_refused(tmp_path: Path) -> None:
    """A hub older still (before client.agency): cannot be adopted, and says what to do."""
    url = f"sqlite://{tmp_path}/old.sqlite3"
    await make_premigration_database(url)
    async with database.opened(url):
        await connections.get("default").execute_script('ALTER TABLE "client" DROP COLUMN "agency"')

    now = await run(url, database.status)
    assert now.predates_migrations and now.lacking == ("client.agency",)
    with pytest.raises(database.PreMigrationDatabase, match=r"lacks columns .*\(client\.agency\).*Move it aside"):
        await run(url, database.upgrade)
    with pytest.raises(database.PreMigrationDatabase):
        async with database.connected(url):
            pass
    assert (await run(url, database.status)).applied == []  # nothing recorded
