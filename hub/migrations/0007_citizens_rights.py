from typing import Any

from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from auth.consent import ConsentStatus
from auth.events import StreamState
from auth.export import ExportStatus


class DescriptionOnly(ops.AlterField):
    """consent.status gains PAUSED: only the column's description changes (varchar(16) holds it already).
    Nothing is done to the database, where SQLite would rebuild the table and lose its unique index."""

    async def database_forward(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def database_backward(self, *args: Any, **kwargs: Any) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [("models", "0006_audit_tree")]

    initial = False

    operations = [
        ops.CreateModel(
            name="EventStream",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("client_id", fields.CharField(unique=True, max_length=64)),
                ("push_url", fields.TextField(default="", unique=False)),
                (
                    "state",
                    fields.CharEnumField(
                        default=StreamState.ENABLED,
                        description="ENABLED: enabled\nFAILING: failing",
                        enum_type=StreamState,
                        max_length=16,
                    ),
                ),
                ("failures", fields.IntField(default=0)),
                ("retry_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("leased_until", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("last_error", fields.TextField(default="", unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "event_stream",
                "app": "models",
                "pk_attr": "id",
                "table_description": "A client's registration for events (SSF calls it a stream): where to push them, if anywhere.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ExportJob",
            fields=[
                ("id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=36)),
                ("citizen", fields.CharField(max_length=20)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ExportStatus.QUEUED,
                        description="QUEUED: QUEUED\nRUNNING: RUNNING\nDONE: DONE\nFAILED: FAILED\nEXPIRED: EXPIRED",
                        enum_type=ExportStatus,
                        max_length=16,
                    ),
                ),
                ("progress", fields.IntField(default=0)),
                ("step", fields.CharField(default="", max_length=64)),
                ("requested_by", fields.CharField(max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("error", fields.TextField(default="", unique=False)),
                ("archive", fields.BinaryField(null=True)),
                ("link_hash", fields.CharField(null=True, max_length=64)),
                ("link_expires_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "export_job",
                "app": "models",
                "indexes": [Index(fields=["citizen", "created_at"], name="export_job_citizen_created")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="SecurityEvent",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("client_id", fields.CharField(max_length=64)),
                ("jti", fields.CharField(unique=True, max_length=64)),
                ("claims", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("delivered_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("delivered_by", fields.CharField(default="", max_length=8)),
                ("attempts", fields.IntField(default=0)),
            ],
            options={
                "table": "security_event",
                "app": "models",
                "indexes": [Index(fields=["client_id", "id"], name="security_event_client_id")],
                "pk_attr": "id",
                "table_description": "The outbox: one SET per client and change, signed when it is sent.",
            },
            bases=["Model"],
        ),
        DescriptionOnly(
            model_name="Consent",
            name="status",
            field=fields.CharEnumField(
                default=ConsentStatus.ACTIVE,
                description="ACTIVE: ACTIVE\nPAUSED: PAUSED\nREVOKED: REVOKED\nEXPIRED: EXPIRED",
                enum_type=ConsentStatus,
                max_length=16,
            ),
        ),
        ops.AddField(
            model_name="ConsentEvent",
            name="expires_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="ConsentEvent",
            name="purpose",
            field=fields.TextField(default="", unique=False),
        ),
    ]
