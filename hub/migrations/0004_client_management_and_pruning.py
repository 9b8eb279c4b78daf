from tortoise import fields, migrations
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0003_refresh_grace_and_withdrawal")]

    initial = False

    operations = [
        ops.AddIndex(
            model_name="AccessToken",
            index=Index(fields=["expires_at"], name="access_token_expires"),
        ),
        ops.AddIndex(
            model_name="AccessToken",
            index=Index(fields=["revoked_at"], name="access_token_revoked"),
        ),
        ops.AddIndex(
            model_name="AuthorizationCode",
            index=Index(fields=["expires_at"], name="authorization_code_expires"),
        ),
        ops.AddField(
            model_name="Client",
            name="deleted_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Client",
            name="disabled_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Client",
            name="previous_secret_expires_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name="Client",
            name="previous_secret_hash",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddIndex(
            model_name="RefreshToken",
            index=Index(fields=["expires_at"], name="refresh_token_expires"),
        ),
        ops.AddIndex(
            model_name="RefreshToken",
            index=Index(fields=["revoked_at"], name="refresh_token_revoked"),
        ),
    ]
