from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    initial = False

    operations = [
        ops.CreateModel(
            name="TrustedDocument",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("client_id", fields.CharField(max_length=64)),
                ("document_id", fields.CharField(db_index=True, max_length=71)),
                ("name", fields.CharField(default="", max_length=128)),
                ("body", fields.TextField(unique=False)),
                ("registered_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "trusted_document",
                "app": "models",
                "unique_together": (("client_id", "document_id"),),
                "pk_attr": "id",
            },
            bases=["Model"],
        ),
    ]
