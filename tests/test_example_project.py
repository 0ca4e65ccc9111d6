"""Smoke tests of the example project under its own settings module and URLconf.

The rest of the suite runs on the minimal ``tests.settings`` and ``tests.urls``; the demo's
own behaviour is tested in test_demo_walkthrough.py, test_demo_browser.py and test_seed_demo.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLResolver

from example_project import urls as example_urls
from tests import urls as test_urls
from tests.helpers import subprocess_database_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("example_project")]

REPO = Path(__file__).resolve().parent.parent


def mounted(urlpatterns) -> dict[str, str]:
    """token_admin's URL modules by the prefix they are mounted at."""
    return {
        str(entry.pattern): getattr(entry.urlconf_name, "__name__", "admin")
        for entry in urlpatterns
        if isinstance(entry, URLResolver)
    }


def test_the_tests_mount_every_url_module_the_example_project_mounts_at_the_same_path():
    assert mounted(test_urls.urlpatterns) == mounted(example_urls.urlpatterns)


def test_its_settings_pass_the_system_checks():
    # SystemCheckError (and so a failed test) on any error; token_admin's and everyone else's.
    call_command("check", fail_level="ERROR", verbosity=0)


def test_its_landing_page_and_the_apis_answer_under_its_urlconf():
    client = Client()
    assert client.get("/").status_code == 200
    response = client.get("/stream/0/token")
    assert (response.status_code, response.json()["meta"]["code"]) == (401, 401)


def test_manage_py_turns_a_command_error_into_exit_status_1(tmp_path):
    # A real shell and the example project's settings module, as an operator runs it, on a copy
    # of the test database (already migrated: a migrate here alone took ~10 s).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": subprocess_database_url(tmp_path),
    }
    bad = subprocess.run(
        [sys.executable, "manage.py", "revoke_tokens", "--user", "nobody"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert bad.returncode == 1
    assert bad.stderr == "CommandError: Unknown user (username or id): nobody.\n"
    assert bad.stdout == ""
