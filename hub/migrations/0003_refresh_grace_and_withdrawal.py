from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0002_trusted_documents")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="Grant",
            index=Index(fields=["citizen", "client_id"], name="oauth_grant_citizen_client"),
        ),
        ops.AddField(
            model_name="RefreshToken",
            name="successor",
            field=fields.TextField(null=True, unique=False),
        ),
    ]
