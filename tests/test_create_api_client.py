"""``manage.py create_api_client NAME``: an API client of the end-user token API, printed once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_application_model

from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import basic, url
from token_admin.models import AppProfile

pytestmark = pytest.mark.django_db

Application = get_application_model()
ROOT = Path(__file__).resolve().parent.parent


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_api_client", *args, stdout=out)
    return out.getvalue()


def test_prints_the_credentials_as_one_json_line():
    output = create("Support desk")

    assert output.endswith("\n") and output.count("\n") == 1
    credentials = json.loads(output)
    assert list(credentials) == ["client_id", "client_secret"]
    application = Application.objects.get(client_id=credentials["client_id"])
    assert application.name == "Support desk"
    assert application.client_type == Application.CLIENT_CONFIDENTIAL
    assert application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
    assert application.client_secret != credentials["client_secret"]  # stored hashed
    assert AppProfile.objects.get(application=application).end_user_api is True


def test_the_printed_credentials_work_against_the_api(client):
    credentials = json.loads(create("Support desk"))
    user = UserFactory()
    issue_session(user, ApplicationFactory(name="Client X"))
    response = client.get(
        url(f"/oauth/api/v1/users/{user.pk}/tokens"),
        **basic(credentials["client_id"], credentials["client_secret"]),
    )

    assert response.status_code == 200
    assert [entry["client_name"] for entry in response.json()["tokens"]] == ["Client X"]


def test_each_call_makes_a_new_client():
    first, second = json.loads(create("Desk")), json.loads(create("Desk"))

    assert first["client_id"] != second["client_id"]
    assert first["client_secret"] != second["client_secret"]


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused(name):
    with pytest.raises(CommandError, match="The name must not be empty."):
        create(name)
    assert not Application.objects.exists()


def test_a_too_long_name_is_refused():
    with pytest.raises(CommandError, match="Invalid API client: name: "):
        create("x" * 256)
    assert not Application.objects.exists()


def test_a_missing_name_is_refused():
    with pytest.raises(CommandError, match="name"):
        create()


def test_bad_input_exits_non_zero_with_the_message():
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}

    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_client", " "],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert "CommandError: The name must not be empty." in result.stderr
