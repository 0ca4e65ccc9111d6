# The model was ``Session``, which every import and admin breadcrumb confused with
# ``django.contrib.sessions``. RenameModel renames the table and the foreign keys' targets;
# django.contrib.contenttypes renames the content type, but not the permission codenames,
# so groups that were given "view_session" would silently lose the admin page: rename them.
from django.conf import settings
from django.db import migrations

ACTIONS = ("add", "change", "delete", "view")


def rename_permissions(apps, schema_editor, old="session", new="tokensession"):
    try:
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # django.contrib.auth not installed: no permissions to keep
        return
    for action in ACTIONS:
        Permission.objects.filter(content_type__app_label="token_admin", codename=f"{action}_{old}").update(
            codename=f"{action}_{new}"
        )


def restore_permissions(apps, schema_editor):
    rename_permissions(apps, schema_editor, old="tokensession", new="session")


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("token_admin", "0005_session_activity"),
    ]

    operations = [
        migrations.RenameModel(old_name="Session", new_name="TokenSession"),
        migrations.RunPython(rename_permissions, restore_permissions),
    ]
