"""The example project's demo data: what `make demo` prints must work as printed."""

import base64
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from token_admin.models import Device, Session

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", tokens=3, stdout=out)
    return out.getvalue()


def test_seed_demo_runs_twice_and_its_printed_commands_work():
    seed()
    printed = seed()  # replaces the first run's data instead of failing on it

    bearer = re.search(r"Bearer ([\w-]+)' http://127.0.0.1:8000/stream/0/token", printed).group(1)
    response = Client().get("/stream/0/token", HTTP_AUTHORIZATION=f"Bearer {bearer}")
    assert response.status_code == 200
    assert response.json()["data"]["user"]["username"] == "alice"

    app_token = re.search(r"Bearer ([\w-]+)' http://127.0.0.1:8000/stream/0/apps/me/tokens", printed).group(1)
    response = Client().get("/stream/0/apps/me/tokens", HTTP_AUTHORIZATION=f"Bearer {app_token}")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 5  # alice, bob and the 3 extra tokens

    tokens = re.search(r"2\.2/access-tokens/([\w;-]+)'", printed).group(1)
    response = Client().get(f"/2.2/access-tokens/{tokens}")
    assert response.status_code == 200
    assert len(response.json()["items"]) == 2

    credentials, user_id = re.search(
        r"curl -u '([^']+)' http://127.0.0.1:8000/oauth/api/v1/users/(\d+)/tokens", printed
    ).groups()
    basic = base64.b64encode(credentials.encode()).decode()
    response = Client().get(f"/oauth/api/v1/users/{user_id}/tokens", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200
    assert sorted(
        entry.get("device_name") for entry in response.json()["tokens"] if "device_name" in entry
    ) == ["Demo Alice's iPad"]

    assert sorted(Device.objects.values_list("name", flat=True)) == ["Bob's phone", "Demo Alice's iPad"]
    assert Session.objects.filter(device__name="Bob's phone").count() == 1


def test_demo_logins_can_use_the_admin():
    seed()
    admin = Client()
    assert admin.login(username="admin", password="admin")
    page = admin.get("/admin/oauth2_provider/accesstoken/")
    assert page.status_code == 200
    assert b"Revoke" in page.content
    viewer = Client()
    assert viewer.login(username="viewer", password="viewer")
    page = viewer.get("/admin/oauth2_provider/accesstoken/")
    assert page.status_code == 200
    assert b"Revoke" not in page.content
