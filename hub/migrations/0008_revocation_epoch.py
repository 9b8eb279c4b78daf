"""The revocation epoch (auth/epoch.py): one counter, bumped by triggers in the same transaction as any
change to tokens, consents, clients, citizens, cards or trusted documents, so processes may remember those lookups."""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

# Inserts matter where a lookup remembers an absence (no consent yet, no such citizen); a new token is
# never remembered before it exists, so only its updates and deletes bump.
WATCHED = {
    "access_token": ("UPDATE", "DELETE"),
    "consent": ("INSERT", "UPDATE", "DELETE"),
    "client": ("INSERT", "UPDATE", "DELETE"),
    "citizen": ("INSERT", "UPDATE", "DELETE"),
    "card": ("INSERT", "UPDATE", "DELETE"),
    "trusted_document": ("UPDATE", "DELETE"),  # a revoked document; unknown ones are never remembered
}
BUMP = "UPDATE revocation_epoch SET value = value + 1 WHERE id = 1"


def _trigger(table: str, event: str) -> str:
    return f"revocation_epoch_{table}_{event.lower()}"


async def create(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    await client.execute_script(
        "CREATE TABLE revocation_epoch (id INT NOT NULL PRIMARY KEY, value BIGINT NOT NULL);"
        "INSERT INTO revocation_epoch (id, value) VALUES (1, 0);"
    )
    if client.capabilities.dialect == "postgres":
        await client.execute_script(
            "CREATE FUNCTION revocation_epoch_bump() RETURNS trigger LANGUAGE plpgsql AS "
            # A dropped epoch table must not block revocations: reading it fails too, and then every
            # request checks the database (auth/epoch.py).
            f"$$ BEGIN {BUMP}; RETURN NULL; EXCEPTION WHEN undefined_table THEN RETURN NULL; END $$;"
        )
        for table, events in WATCHED.items():  # once per statement: a batch of revocations bumps once
            await client.execute_script(
                f"CREATE TRIGGER {_trigger(table, 'change')} AFTER {' OR '.join(events)} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION revocation_epoch_bump();"
            )
        return
    for table, events in WATCHED.items():  # SQLite has row triggers only
        for event in events:
            await client.execute_script(
                f"CREATE TRIGGER {_trigger(table, event)} AFTER {event} ON {table} BEGIN {BUMP}; END;"
            )


async def drop(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        for table in WATCHED:
            await client.execute_script(f"DROP TRIGGER IF EXISTS {_trigger(table, 'change')} ON {table};")
        await client.execute_script("DROP FUNCTION IF EXISTS revocation_epoch_bump();")
    else:
        for table, events in WATCHED.items():
            for event in events:
                await client.execute_script(f"DROP TRIGGER IF EXISTS {_trigger(table, event)};")
    await client.execute_script("DROP TABLE IF EXISTS revocation_epoch;")


class Migration(migrations.Migration):
    dependencies = [("models", "0007_citizens_rights")]

    initial = False

    operations = [ops.RunPython(create, drop)]
