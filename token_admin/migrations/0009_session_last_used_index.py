"""Index sessions by (last_used_at, created_at, id) instead of last_used_at alone.

"Unused since T" (``revoke_tokens --unused-for``, the admin's "unused" filter) is
``last_used_at < T``, or ``last_used_at IS NULL AND created_at < T`` for a session never
used: both are ranges of this one index, read in its order (``id`` breaks ties), so a
batch stops after its rows; it also serves whatever used the old index.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("token_admin", "0008_device_software_id")]

    operations = [
        migrations.AlterField(
            model_name="tokensession",
            name="last_used_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="last used"),
        ),
        migrations.AddIndex(
            model_name="tokensession",
            index=models.Index(fields=["last_used_at", "created_at", "id"], name="token_admin_last_used_idx"),
        ),
    ]
