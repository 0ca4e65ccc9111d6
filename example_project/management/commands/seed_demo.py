"""Fill the example project with a staff login, apps, users, devices and tokens to try.

It prints the numbered walkthrough of ``example_project.demo`` (the landing page shows the
same one), so what a newcomer pastes is what the tests run.
"""

from __future__ import annotations

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

from example_project import demo
from example_project.demo import DEMO_USERS, STAFF_PASSWORD, STAFF_USERNAME
from token_admin.models import AppProfile, Device, TokenSession

DEMO_PREFIX = "Demo "


class Command(BaseCommand):
    help = "Create demo data for the example project (replaces earlier demo data)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--tokens", type=int, default=40, help="Extra user tokens for the stream app.")
        parser.add_argument(
            "--base-url",
            default=demo.DEFAULT_BASE_URL,
            help="Where the demo server answers (for the walkthrough).",
        )

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        Application = get_application_model()
        User = get_user_model()
        Application.objects.filter(name__startswith=DEMO_PREFIX).delete()
        User.objects.filter(username__in=[STAFF_USERNAME, demo.VIEWER_USERNAME, *DEMO_USERS]).delete()
        # Fixed client ids: earlier demo clients of another name go too.
        Application.objects.filter(
            client_id__in=[demo.WEB_CLIENT_ID, demo.SCRIPT_CLIENT_ID, demo.PORTAL_CLIENT_ID]
        ).delete()

        staff = User.objects.create_superuser(STAFF_USERNAME, "admin@example.com", STAFF_PASSWORD)
        viewer = User.objects.create_user(
            demo.VIEWER_USERNAME, "viewer@example.com", demo.VIEWER_PASSWORD, is_staff=True
        )
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
            redirect_uris=f"http://127.0.0.1{demo.CALLBACK_PATH}",
            client_secret=stream_secret,
            user=staff,
        )
        AppProfile.objects.create(
            application=stream, link="https://stream.example.com/", allow_app_token=True
        )

        api_client = Application.objects.create(
            name=f"{DEMO_PREFIX}Account Portal",
            client_id=demo.PORTAL_CLIENT_ID,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=demo.PORTAL_CLIENT_SECRET,
            user=staff,
        )
        AppProfile.objects.create(application=api_client, end_user_api=True)

        # What a newcomer signs in with: a browser app (authorization code with PKCE, any
        # 127.0.0.1 port, as RFC 8252 lets loopback redirects do) and a script (password grant).
        Application.objects.create(
            name=f"{DEMO_PREFIX}Web",
            client_id=demo.WEB_CLIENT_ID,
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=f"http://127.0.0.1{demo.CALLBACK_PATH}",
            user=staff,
        )
        Application.objects.create(
            name=f"{DEMO_PREFIX}Script",
            client_id=demo.SCRIPT_CLIENT_ID,
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_PASSWORD,
            user=staff,
        )

        # Registered as DOT's dynamic client registration does: token_admin's receiver gives
        # it its Device, named after the client.
        tablet_app = Application.objects.create(
            name=f"{DEMO_PREFIX}Alice's iPad",
            client_type=Application.CLIENT_PUBLIC,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=f"http://127.0.0.1{demo.CALLBACK_PATH}",
            registration_source="dcr",
            user=users["alice"],
        )
        phone = Device.objects.create(user=users["bob"], name="Bob's phone", type=Device.Type.FINGER_PRINT)

        raw: dict[str, str] = {}
        raw["alice"] = self._issue(users["alice"], stream, "basic stream write_post")
        raw["bob"] = self._issue(users["bob"], stream, "basic stream")
        TokenSession.objects.filter(user=users["bob"], application=stream).update(device=phone)
        self._issue(users["alice"], tablet_app, "basic")
        raw["app"] = self._issue(None, stream, "", refresh=False)
        for number in range(options["tokens"]):
            self._issue(users[DEMO_USERS[number % len(DEMO_USERS)]], stream, "basic")

        if options["verbosity"] == 0:
            return  # `make demo`: the landing page shows the same walkthrough
        base = options["base_url"].rstrip("/")
        out = self.stdout
        out.write(self.style.SUCCESS(f"Demo data created. Start at {base}/") + "\n")
        out.write(
            f"Admin: {base}/admin/  {STAFF_USERNAME} / {STAFF_PASSWORD} (view-only staff: "
            f"{demo.VIEWER_USERNAME} / {demo.VIEWER_PASSWORD}). Demo users: "
            + ", ".join(f"{name} / {name}" for name in DEMO_USERS)
            + "\n\nFrom a second terminal:\n"
        )
        for number, step in enumerate(demo.walkthrough(base, users["alice"].pk), start=1):
            out.write(f"\n{number}. {step.title}\n")
            for command in step.commands:
                out.write(f"   {command}\n")
            if step.note:
                out.write(f"   {step.note}\n")
        out.write(
            f"\nMore ready-made tokens: App.net app token {raw['app']} (GET /stream/0/apps/me/tokens), "
            f"bob {raw['bob']}. Stream app: client id {stream.client_id}, secret {stream_secret}\n"
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
