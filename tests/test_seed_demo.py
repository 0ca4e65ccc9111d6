"""The example project's demo data: what `make demo` prints must work as printed."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from tests.helpers import bearer
from token_admin.models import Device, TokenSession

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("example_project")]


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", tokens=3, stdout=out)
    return out.getvalue()


def test_seed_demo_runs_twice_and_its_ready_made_tokens_work():
    seed()
    printed = seed()  # replaces the first run's data instead of failing on it

    app_token, bob = re.search(r"App.net app token ([\w-]+) .*, bob ([\w-]+)\.", printed).groups()
    response = Client().get("/stream/0/token", **bearer(bob))
    assert response.status_code == 200
    assert response.json()["data"]["user"]["username"] == "bob"

    response = Client().get("/stream/0/apps/me/tokens", **bearer(app_token))
    assert response.status_code == 200
    assert len(response.json()["data"]) == 5  # alice, bob and the 3 extra tokens

    assert sorted(Device.objects.values_list("name", flat=True)) == ["Bob's phone", "Demo Alice's iPad"]
    assert TokenSession.objects.filter(device__name="Bob's phone").count() == 1


def test_seed_demo_is_silent_at_verbosity_0():
    out = StringIO()
    call_command("seed_demo", tokens=0, verbosity=0, stdout=out)
    assert out.getvalue() == ""
    assert TokenSession.objects.filter(user__username="alice").count() == 2


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
