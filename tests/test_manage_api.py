"""The staff resource API (/api/token-admin/): reads, filters, cursor pages, revokes, auth."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from tests.factories import AccessTokenFactory, AppProfileFactory, DeviceFactory, UserFactory, issue_session
from token_admin.models import RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

BASE = "/api/token-admin"


def grant(user, *codenames):
    for codename in codenames:
        app_label, name = codename.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=name))


@pytest.fixture
def staff(db):
    user = UserFactory(is_staff=True)
    grant(
        user,
        "token_admin.view_tokensession",
        "token_admin.view_device",
        "token_admin.view_revocationevent",
        "oauth2_provider.view_application",
        "oauth2_provider.view_accesstoken",
    )
    return user


def test_smoke(client, staff):
    user = UserFactory()
    app = AppProfileFactory().application
    issue_session(user, app)
    client.force_login(staff)
    for path in ("applications", "sessions", "devices", "access-tokens", "revocation-events", ""):
        response = client.get(f"{BASE}/{path}", HTTP_ACCEPT="application/json")
        print(path, response.status_code, response.content[:600])
    session = TokenSession.objects.get()
    response = client.post(f"{BASE}/sessions/{session.public_id}/revoke", {"reason": "x", "dry_run": True}, content_type="application/json")
    print(response.status_code, response.content)
    grant(staff, "token_admin.revoke_tokens")
    staff = type(staff).objects.get(pk=staff.pk)
    client.force_login(staff)
    response = client.post(f"{BASE}/sessions/{session.public_id}/revoke", {"dry_run": True}, content_type="application/json")
    print(response.status_code, response.content)
    response = client.post(f"{BASE}/sessions/{session.public_id}/revoke", {"reason": "x", "dry_run": True}, content_type="application/json")
    print(response.status_code, response.content)
    response = client.get(f"{BASE}/sessions/{session.public_id}", HTTP_ACCEPT="text/html")
    print(response.status_code, response.content[:200])
    response = client.get(f"/api/schema/?format=json")
    print(response.status_code, len(response.content))
