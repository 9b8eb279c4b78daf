"""The access log moves from a hash chain (audit_log) to a Merkle tree (audit_record, audit_node,
audit_checkpoint): the chain is verified first, its entries become the tree's first records in their
order (the sequencer gives them leaves 0, 1, ... before anything newer), then the chain's table goes.
A chain that does not verify stops the migration, and nothing changes (docs/audit.md, "Migration")."""

import secrets
from typing import Any

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from auth.audit.legacy import GENESIS, BrokenChain, entry_hash

COLUMNS = "id, at_ms, request_id, client_id, citizen, sections, outcome, reason"
BATCH = 5000


async def move_the_chain(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    marks = ", ".join(f"${i}" if postgres else "?" for i in range(1, 10))
    insert = f"INSERT INTO audit_record ({COLUMNS}, nonce) VALUES ({marks})"
    prev, last = GENESIS, 0
    while True:
        _, rows = await client.execute_query(
            f"SELECT {COLUMNS}, prev_hash, hash FROM audit_log WHERE id > {int(last)} ORDER BY id LIMIT {BATCH}"
        )
        if not rows:
            break
        moved = []
        for row in rows:
            if row["prev_hash"] != prev:
                raise BrokenChain(f"audit_log entry {row['id']} does not link to the entry before it; nothing moved")
            values = [row[c] for c in ("at_ms", "request_id", "client_id", "citizen", "sections", "outcome", "reason")]
            if row["hash"] != entry_hash(prev, *values):
                raise BrokenChain(f"audit_log entry {row['id']}: its contents do not match its hash; nothing moved")
            prev, last = row["hash"], row["id"]
            moved.append([row["id"], *values, secrets.token_hex(16)])
        await client.execute_many(insert, moved)
    if postgres and last:
        await client.execute_script(f"SELECT setval(pg_get_serial_sequence('audit_record', 'id'), {int(last)})")


class Migration(migrations.Migration):
    dependencies = [("models", "0005_citizen_link")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AuditRecord",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("at_ms", fields.BigIntField()),
                ("request_id", fields.CharField(max_length=64)),
                ("client_id", fields.CharField(max_length=64)),
                ("citizen", fields.CharField(max_length=20)),
                ("sections", fields.TextField(unique=False)),
                ("outcome", fields.CharField(max_length=16)),
                ("reason", fields.CharField(default="", max_length=64)),
                ("nonce", fields.CharField(max_length=32)),
                ("seq", fields.BigIntField(null=True, unique=True)),
            ],
            options={
                "table": "audit_record",
                "app": "models",
                "indexes": [
                    Index(fields=["citizen", "id"], name="audit_record_citizen_id"),
                    Index(fields=["citizen", "outcome", "id"], name="audit_record_citizen_outcome_id"),
                ],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditNode",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("level", fields.SmallIntField()),
                ("index", fields.BigIntField()),
                ("hash", fields.BinaryField()),
            ],
            options={
                "table": "audit_node",
                "app": "models",
                "unique_together": (("level", "index"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditCheckpoint",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("tree_size", fields.BigIntField(unique=True)),
                ("root", fields.BinaryField()),
                ("at_ms", fields.BigIntField()),
                ("key_id", fields.CharField(max_length=32)),
                ("note", fields.TextField(unique=False)),
            ],
            options={"table": "audit_checkpoint", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.RunPython(move_the_chain),
        ops.DeleteModel(name="AuditEntry"),
    ]
