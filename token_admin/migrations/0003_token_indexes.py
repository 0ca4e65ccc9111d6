"""Indexes on DOT's access-token table that token_admin's reads need at any table size.

DOT's models are swappable, so the indexes are created on whatever table the configured
access-token model has, through the schema editor (quoting and ``DROP INDEX`` syntax right
on SQLite, PostgreSQL and MySQL/MariaDB). They are not in any model's state: the model is
DOT's (or the project's), not ours. Reversible.

* ``(application_id, id)``: an app's tokens newest first (App.net ``apps/me/tokens``, any
  depth, any app): a range of one index instead of walking the whole primary key backwards.
* ``(application_id, user_id)``: the distinct users of an app (``apps/me/tokens/user_ids``),
  read one user at a time (a loose index scan) instead of every token of the app.

On a large PostgreSQL table, create them beforehand with ``CREATE INDEX CONCURRENTLY`` under
the same names (this migration then finds them and skips them) to avoid locking writes.
"""

from django.db import migrations, models
from oauth2_provider.settings import oauth2_settings

INDEXES = [
    ("ta_at_app_id_idx", ["application", "id"]),
    ("ta_at_app_user_idx", ["application", "user"]),
]


def _model_and_existing(apps, schema_editor):
    model = apps.get_model(oauth2_settings.ACCESS_TOKEN_MODEL)
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return model, set(constraints)


def add_indexes(apps, schema_editor):
    model, existing = _model_and_existing(apps, schema_editor)
    for name, fields in INDEXES:
        if name not in existing:
            schema_editor.add_index(model, models.Index(fields=fields, name=name))


def remove_indexes(apps, schema_editor):
    model, existing = _model_and_existing(apps, schema_editor)
    for name, fields in INDEXES:
        if name in existing:
            schema_editor.remove_index(model, models.Index(fields=fields, name=name))


class Migration(migrations.Migration):
    dependencies = [
        ("token_admin", "0002_revocation_surfaces"),
        migrations.swappable_dependency(oauth2_settings.ACCESS_TOKEN_MODEL),
    ]

    # Not atomic: MySQL and MariaDB cannot run DDL inside a transaction (PostgreSQL and
    # SQLite still run the migration in one).
    operations = [migrations.RunPython(add_indexes, remove_indexes, atomic=False, elidable=False)]
