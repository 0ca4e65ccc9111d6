"""Fill the example project with a staff login, apps, users, devices and tokens to try."""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_refresh_token_model,
    set_token_value,
)

from token_admin.models import AppProfile, Device, Session

DEMO_PREFIX = "Demo "
STAFF_USERNAME = "admin"
STAFF_PASSWORD = "admin"
DEMO_USERS = ("alice", "bob", "carol")


class Command(BaseCommand):
    help = "Create demo data for the example project (replaces earlier demo data)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tokens", type=int, default=40, help="Extra user tokens for the stream app.")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        Application = get_application_model()
        User = get_user_model()
        Application.objects.filter(name__startswith=DEMO_PREFIX).delete()
        User.objects.filter(username__in=[STAFF_USERNAME, "viewer", *DEMO_USERS]).delete()

        staff = User.objects.create_superuser(STAFF_USERNAME, "admin@example.com", STAFF_PASSWORD)
        viewer = User.objects.create_user("viewer", "viewer@example.com", "viewer", is_staff=True)
        # Sees tokens, sessions, devices and the audit trail; may revoke nothing.
        viewer.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=["token_admin", "oauth2_provider"], codename__startswith="view_"
            )
        )
        users = {
            name: User.objects.create_user(
                name, f"{name}@example.com", name, first_name=name.title(), last_name="Example"
            )
            for name in DEMO_USERS
        }

        stream_secret = secrets.token_urlsafe(32)
        stream = Application.objects.create(
            name=f"{DEMO_PREFIX}Stream",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris="http://127.0.0.1:8000/callback",
            client_secret=stream_secret,
            user=staff,
        )
        AppProfile.objects.create(
            application=stream, link="https://stream.example.com/", allow_app_token=True
        )

        client_secret = secrets.token_urlsafe(32)
        api_client = Application.objects.create(
            name=f"{DEMO_PREFIX}Account Portal",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=client_secret,
            user=staff,
        )
        AppProfile.objects.create(application=api_client, end_user_api=True)

        # Registered as DOT's dynamic client registration does: token_admin's receiver gives
        # it its Device, named after the client.
        tablet_app = Application.objects.create(
            name=f"{DEMO_PREFIX}Alice's iPad",
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris="http://127.0.0.1:8000/callback",
            registration_source="dcr",
            user=users["alice"],
        )
        phone = Device.objects.create(user=users["bob"], name="Bob's phone", type=Device.Type.FINGER_PRINT)

        raw: dict[str, str] = {}
        raw["alice"] = self._issue(users["alice"], stream, "basic stream write_post")
        raw["bob"] = self._issue(users["bob"], stream, "basic stream")
        Session.objects.filter(user=users["bob"], application=stream).update(device=phone)
        self._issue(users["alice"], tablet_app, "basic")
        raw["app"] = self._issue(None, stream, "", refresh=False)
        for number in range(options["tokens"]):
            self._issue(users[DEMO_USERS[number % len(DEMO_USERS)]], stream, "basic")

        self.stdout.write(self.style.SUCCESS("Demo data created.") + "\n")
        self.stdout.write(
            f"Admin:      http://127.0.0.1:8000/admin/  login {STAFF_USERNAME} / {STAFF_PASSWORD}"
            "  (view-only staff: viewer / viewer)\n"
            f"App.net:    curl -H 'Authorization: Bearer {raw['alice']}' http://127.0.0.1:8000/stream/0/token\n"
            f"            curl -H 'Authorization: Bearer {raw['app']}' http://127.0.0.1:8000/stream/0/apps/me/tokens\n"
            f"SE style:   curl 'http://127.0.0.1:8000/2.2/access-tokens/{raw['alice']};{raw['bob']}'\n"
            f"End user:   curl -u '{api_client.client_id}:{client_secret}' "
            f"http://127.0.0.1:8000/oauth/api/v1/users/{users['alice'].pk}/tokens\n"
            f"Stream app: {json.dumps({'client_id': stream.client_id, 'client_secret': stream_secret})}\n"
        )

    def _issue(self, user: Any, application: Any, scope: str, refresh: bool = True) -> str:
        """Save a token pair the way DOT's token endpoint does; returns the raw access token."""
        access_token = get_access_token_model()(
            user=user, application=application, scope=scope, expires=timezone.now() + timedelta(days=30)
        )
        raw_access = secrets.token_urlsafe(30)
        set_token_value(access_token, raw_access)
        access_token.save()
        if refresh:
            refresh_token = get_refresh_token_model()(
                user=user, application=application, access_token=access_token, token_family=uuid.uuid4()
            )
            set_token_value(refresh_token, secrets.token_urlsafe(30))
            refresh_token.save()
        return raw_access
