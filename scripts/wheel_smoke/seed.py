"""Run by the wheel smoke test with ``manage.py shell -c``: a superuser, a user with an access
token of an authorization-code app, and a client-credentials app, made through the ORM the way
DOT saves them, and an API client of the end-user token API made by ``create_api_client`` as
the README says. Prints one JSON line for probe.py (the raw secrets exist nowhere else)."""

import io
import json
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_application_model, set_token_value

User = get_user_model()
Application = get_application_model()
AccessToken = get_access_token_model()

admin_password = secrets.token_urlsafe(16)
User.objects.create_superuser("admin", "admin@example.com", admin_password)
alice = User.objects.create_user("alice", "alice@example.com", secrets.token_urlsafe(16))

web_app = Application.objects.create(
    name="Smoke Web App",
    client_type=Application.CLIENT_CONFIDENTIAL,
    authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
    redirect_uris="https://app.example.com/callback",
)
raw_token = secrets.token_urlsafe(30)
token = AccessToken(
    user=alice, application=web_app, scope="read write", expires=timezone.now() + timedelta(hours=1)
)
set_token_value(token, raw_token)
token.save()

service_secret = secrets.token_urlsafe(32)
service = Application.objects.create(
    name="Smoke Service",
    client_type=Application.CLIENT_CONFIDENTIAL,
    authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    client_secret=service_secret,  # DOT hashes it on save: this is the only clear copy
)

printed = io.StringIO()
call_command("create_api_client", "Smoke API client", stdout=printed)

print(
    json.dumps(
        {
            "admin_password": admin_password,
            "user_id": str(alice.pk),
            "user_token": raw_token,
            "service_client_id": service.client_id,
            "service_client_secret": service_secret,
            "api_client": json.loads(printed.getvalue().strip().splitlines()[-1]),
        }
    )
)
