"""Each session's last use (token_admin.activity): when, from which IP, with which browser,
OS and device family. Nullable or blank-defaulted columns: adding them rewrites no row's
data, and sessions begun before it show "never used" until their next use. ``last_used_at``
is indexed for the admin's "unused for more than N days" filter."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('token_admin', '0004_not_before_watermarks'),
    ]

    operations = [
        migrations.AddField(
            model_name='session',
            name='browser',
            field=models.CharField(blank=True, default='', max_length=100, verbose_name='browser'),
        ),
        migrations.AddField(
            model_name='session',
            name='device_family',
            field=models.CharField(blank=True, default='', max_length=100, verbose_name='device family'),
        ),
        migrations.AddField(
            model_name='session',
            name='last_ip',
            field=models.GenericIPAddressField(blank=True, null=True, verbose_name='last IP'),
        ),
        migrations.AddField(
            model_name='session',
            name='last_used_at',
            field=models.DateTimeField(blank=True, db_index=True, null=True, verbose_name='last used'),
        ),
        migrations.AddField(
            model_name='session',
            name='os',
            field=models.CharField(blank=True, default='', max_length=100, verbose_name='operating system'),
        ),
    ]
