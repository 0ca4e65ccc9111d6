"""Event receivers and the outbox of their deliveries (issue 20, token_admin.events)."""

import django.db.models.deletion
import django.utils.timezone
import uuid
from django.db import migrations, models
from oauth2_provider.settings import oauth2_settings


class Migration(migrations.Migration):

    dependencies = [
        ('token_admin', '0010_manage_surfaces'),
        migrations.swappable_dependency(oauth2_settings.APPLICATION_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='Receiver',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=200, verbose_name='name')),
                ('format', models.CharField(choices=[('webhook', 'Standard Webhooks (JSON, HMAC-SHA256)'), ('caep', 'CAEP session-revoked Security Event Token (RFC 8935 push)'), ('backchannel_logout', 'OpenID Connect back-channel logout')], default='webhook', max_length=20, verbose_name='format')),
                ('url', models.URLField(help_text="Where events are POSTed; for back-channel logout, the app's backchannel_logout_uri.", max_length=500, verbose_name='URL')),
                ('audience', models.CharField(blank=True, help_text='`aud` of Security Event Tokens (default: the URL).', max_length=500, verbose_name='audience')),
                ('algorithm', models.CharField(choices=[('ES256', 'ES256'), ('RS256', 'RS256')], default='ES256', help_text='For signed JWTs (CAEP, back-channel logout); webhooks use HMAC-SHA256.', max_length=5, verbose_name='signing algorithm')),
                ('active', models.BooleanField(default=True, help_text='Paused receivers get no new events.', verbose_name='active')),
                ('secret', models.TextField(editable=False, verbose_name='signing secret')),
                ('key_id', models.CharField(editable=False, max_length=64, verbose_name='key id')),
                ('previous_secret', models.TextField(blank=True, editable=False)),
                ('previous_secret_until', models.DateTimeField(blank=True, editable=False, null=True)),
                ('secret_rotated_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='secret rotated')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False, verbose_name='created')),
                ('application', models.ForeignKey(blank=True, help_text="Only revocations of this app's sessions (required for back-channel logout, whose tokens are addressed to the app's client id). Empty: every revocation.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='token_admin_receivers', to=oauth2_settings.APPLICATION_MODEL, verbose_name='application')),
            ],
            options={
                'verbose_name': 'event receiver',
                'verbose_name_plural': 'event receivers',
                'ordering': ['name', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Delivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.UUIDField(default=uuid.uuid4, editable=False, unique=True, verbose_name='event id')),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('delivered', 'Delivered'), ('failed', 'Failed (deadline passed)'), ('skipped', 'Nothing for this receiver')], default='pending', max_length=10, verbose_name='status')),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='created')),
                ('next_attempt_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='next attempt')),
                ('deadline_at', models.DateTimeField(verbose_name='deadline')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='attempts')),
                ('last_attempt_at', models.DateTimeField(blank=True, null=True, verbose_name='last attempt')),
                ('delivered_at', models.DateTimeField(blank=True, null=True, verbose_name='delivered')),
                ('last_status_code', models.PositiveIntegerField(blank=True, null=True, verbose_name='last HTTP status')),
                ('last_error', models.CharField(blank=True, max_length=500, verbose_name='last error')),
                ('claimed_by', models.UUIDField(blank=True, editable=False, null=True)),
                ('context', models.JSONField(default=dict, editable=False)),
                ('revocation_event', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='token_admin.revocationevent', verbose_name='revocation event')),
                ('receiver', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='token_admin.receiver', verbose_name='receiver')),
            ],
            options={
                'verbose_name': 'event delivery',
                'verbose_name_plural': 'event deliveries',
                'ordering': ['-id'],
                'indexes': [models.Index(fields=['status', 'next_attempt_at'], name='token_admin_delivery_due'), models.Index(fields=['receiver', 'status', 'id'], name='token_admin_delivery_order')],
            },
        ),
    ]
