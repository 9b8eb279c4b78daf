import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from auth.clients import ClientType
from auth.consent import ConsentStatus
from auth.registry import CardStatus


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="AccessToken",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                ("client_id", fields.CharField(max_length=64)),
                ("citizen", fields.CharField(null=True, max_length=20)),
                ("scope", fields.TextField(unique=False)),
                ("issued_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("grant_id", fields.BigIntField(null=True, db_index=True)),
            ],
            options={
                "table": "access_token",
                "app": "models",
                "indexes": [Index(fields=["citizen", "client_id"], name="access_token_citizen_client")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuditEntry",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("at_ms", fields.BigIntField()),
                ("request_id", fields.CharField(max_length=64)),
                ("client_id", fields.CharField(max_length=64)),
                ("citizen", fields.CharField(max_length=20)),
                ("sections", fields.TextField(unique=False)),
                ("outcome", fields.CharField(max_length=16)),
                ("reason", fields.CharField(default="", max_length=64)),
                ("prev_hash", fields.CharField(max_length=64)),
                ("hash", fields.CharField(unique=True, max_length=64)),
            ],
            options={
                "table": "audit_log",
                "app": "models",
                "indexes": [Index(fields=["citizen", "id"], name="audit_log_citizen_id")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AuthorizationCode",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("code_hash", fields.CharField(unique=True, max_length=64)),
                ("client_id", fields.CharField(max_length=64)),
                ("citizen", fields.CharField(max_length=20)),
                ("redirect_uri", fields.TextField(unique=False)),
                ("scope", fields.TextField(unique=False)),
                ("code_challenge", fields.CharField(max_length=128)),
                ("code_challenge_method", fields.CharField(max_length=8)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("grant_id", fields.BigIntField(null=True)),
            ],
            options={"table": "authorization_code", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CachePurge",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("section", fields.CharField(null=True, max_length=40)),
                ("requested_by", fields.CharField(max_length=80)),
                ("requested_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "cache_purge", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Citizen",
            fields=[
                ("card_number", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=20)),
                ("name", fields.CharField(max_length=64)),
                ("username", fields.CharField(unique=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={"table": "citizen", "app": "models", "pk_attr": "card_number"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Card",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "citizen",
                    fields.OneToOneField(
                        "models.Citizen",
                        source_field="citizen_id",
                        db_constraint=True,
                        to_field="card_number",
                        related_name="card",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "status",
                    fields.CharEnumField(
                        default=CardStatus.ACTIVE,
                        description="ACTIVE: ACTIVE\nSUSPENDED: SUSPENDED\nREVOKED: REVOKED",
                        enum_type=CardStatus,
                        max_length=16,
                    ),
                ),
                ("issued_on", fields.DateField()),
                ("virtual_card", fields.BooleanField(default=False)),
            ],
            options={"table": "card", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Client",
            fields=[
                ("client_id", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ("name", fields.CharField(max_length=128)),
                (
                    "type",
                    fields.CharEnumField(
                        description="PUBLIC: public\nCONFIDENTIAL: confidential\nAGENCY: agency",
                        enum_type=ClientType,
                        max_length=16,
                    ),
                ),
                ("secret_hash", fields.CharField(null=True, max_length=64)),
                (
                    "redirect_uris",
                    fields.JSONField(
                        default=list, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
                    ),
                ),
                ("scope", fields.TextField(unique=False)),
                ("purpose", fields.TextField(unique=False)),
                ("first_party", fields.BooleanField(default=False)),
                ("agency", fields.CharField(null=True, max_length=40)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "client", "app": "models", "pk_attr": "client_id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ConnectorState",
            fields=[
                ("agency", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=40)),
                ("section", fields.CharField(db_index=True, max_length=40)),
                ("version", fields.IntField()),
                ("enabled", fields.BooleanField(default=True)),
                ("generation", fields.IntField(default=1)),
                ("changed_by", fields.CharField(max_length=80)),
                ("changed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={"table": "connector_state", "app": "models", "pk_attr": "agency"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ConnectorVersion",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("agency", fields.CharField(max_length=40)),
                ("version", fields.IntField()),
                ("section", fields.CharField(max_length=40)),
                ("manifest", fields.TextField(unique=False)),
                ("digest", fields.CharField(max_length=64)),
                ("registered_by", fields.CharField(max_length=80)),
                ("registered_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "connector_version",
                "app": "models",
                "unique_together": (("agency", "version"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Consent",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("citizen", fields.CharField(max_length=20)),
                ("client_id", fields.CharField(max_length=64)),
                ("scope", fields.TextField(unique=False)),
                ("revoked_scope", fields.TextField(default="", unique=False)),
                ("purpose", fields.TextField(unique=False)),
                ("granted_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "status",
                    fields.CharEnumField(
                        default=ConsentStatus.ACTIVE,
                        description="ACTIVE: ACTIVE\nREVOKED: REVOKED\nEXPIRED: EXPIRED",
                        enum_type=ConsentStatus,
                        max_length=16,
                    ),
                ),
                ("updated_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "consent",
                "app": "models",
                "unique_together": (("citizen", "client_id"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ConsentEvent",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                (
                    "consent",
                    fields.ForeignKeyField(
                        "models.Consent",
                        source_field="consent_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="events",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("action", fields.CharField(max_length=16)),
                ("scope", fields.TextField(unique=False)),
            ],
            options={
                "table": "consent_event",
                "app": "models",
                "indexes": [Index(fields=["consent_id"], name="consent_event_consent")],
                "pk_attr": "id",
                "table_description": "The history: what changed, when, and the scopes after the change.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Grant",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("client_id", fields.CharField(max_length=64)),
                ("citizen", fields.CharField(null=True, max_length=20)),
                ("scope", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_why", fields.CharField(default="", max_length=64)),
            ],
            options={"table": "oauth_grant", "app": "models", "pk_attr": "id"},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="RefreshToken",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("token_hash", fields.CharField(unique=True, max_length=64)),
                (
                    "grant",
                    fields.ForeignKeyField(
                        "models.Grant",
                        source_field="grant_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="refresh_tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("client_id", fields.CharField(max_length=64)),
                ("citizen", fields.CharField(max_length=20)),
                ("scope", fields.TextField(unique=False)),
                ("issued_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("used_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "refresh_token",
                "app": "models",
                "indexes": [Index(fields=["grant_id"], name="refresh_token_grant")],
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
