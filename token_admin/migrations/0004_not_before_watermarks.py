"""Not-before watermarks (issue 19): one row per target, unique by ``key``.

The global row is created here, at the epoch (a watermark before every token): a refresh
takes a shared lock on the rows that apply to its token, and a row that does not exist yet
cannot be locked, so the first global watermark ever set could otherwise miss a refresh in
flight (``token_admin.not_before``).
"""

from datetime import datetime, timezone as dt_timezone

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from oauth2_provider.settings import oauth2_settings


EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


def create_global_row(apps, schema_editor):
    NotBefore = apps.get_model("token_admin", "NotBefore")
    NotBefore.objects.using(schema_editor.connection.alias).get_or_create(
        key="global", defaults={"scope": "global", "not_before": EPOCH, "set_by": "migration"}
    )


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        migrations.swappable_dependency(oauth2_settings.APPLICATION_MODEL),
        ("token_admin", "0003_token_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="NotBefore",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(editable=False, max_length=80, unique=True, verbose_name="key")),
                (
                    "scope",
                    models.CharField(
                        choices=[("global", "Global"), ("user", "User"), ("app", "Application")],
                        editable=False,
                        max_length=10,
                        verbose_name="scope",
                    ),
                ),
                (
                    "not_before",
                    models.DateTimeField(editable=False, verbose_name="tokens issued before this are invalid"),
                ),
                (
                    "set_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name="set"),
                ),
                ("set_by", models.CharField(blank=True, editable=False, max_length=255, verbose_name="set by")),
                ("reason", models.TextField(blank=True, editable=False, verbose_name="reason")),
                (
                    "application",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=oauth2_settings.APPLICATION_MODEL,
                        verbose_name="application",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="user",
                    ),
                ),
            ],
            options={
                "verbose_name": "not-before watermark",
                "verbose_name_plural": "not-before watermarks",
                "ordering": ["-set_at", "-id"],
            },
        ),
        migrations.RunPython(create_global_row, migrations.RunPython.noop),
    ]
