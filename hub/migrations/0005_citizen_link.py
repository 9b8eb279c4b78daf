from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0004_client_management_and_pruning")]

    initial = False

    operations = [
        ops.CreateModel(
            name="CitizenLink",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("issuer", fields.CharField(max_length=255)),
                ("subject", fields.CharField(max_length=255)),
                ("card_number", fields.CharField(db_index=True, max_length=20)),
                ("linked_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "citizen_link",
                "app": "models",
                "unique_together": (("issuer", "subject"),),
                "pk_attr": "id",
                "table_description": "A subject of one provider (its issuer) linked to one card number.",
            },
            bases=["Model"],
        ),
    ]
