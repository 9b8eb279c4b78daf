"""Connector changes bump the revocation epoch too (auth/epoch.py), so that a connector disabled,
enabled, rolled back or replaced through any instance, or the CLI, is in force on every instance at
the very next request (connectors/live.py ``LiveConnectors.follow``), not at its next poll."""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLE, EVENTS = "connector_state", ("INSERT", "UPDATE", "DELETE")
BUMP = "UPDATE revocation_epoch SET value = value + 1 WHERE id = 1"


async def create(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":  # the function 0008 made
        await client.execute_script(
            f"CREATE TRIGGER revocation_epoch_{TABLE}_change AFTER {' OR '.join(EVENTS)} ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION revocation_epoch_bump();"
        )
        return
    for event in EVENTS:
        await client.execute_script(
            f"CREATE TRIGGER revocation_epoch_{TABLE}_{event.lower()} AFTER {event} ON {TABLE} BEGIN {BUMP}; END;"
        )


async def drop(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await client.execute_script(f"DROP TRIGGER IF EXISTS revocation_epoch_{TABLE}_change ON {TABLE};")
        return
    for event in EVENTS:
        await client.execute_script(f"DROP TRIGGER IF EXISTS revocation_epoch_{TABLE}_{event.lower()};")


class Migration(migrations.Migration):
    dependencies = [("models", "0008_revocation_epoch")]

    initial = False

    operations = [ops.RunPython(create, drop)]
