"""Strings whose English word has more than one sense carry a translation context, so that
Django's own catalogs (German, French, ...) never put another sense on token_admin's pages:
"May" (what an app is allowed to do) must not come out as the month, "Mai"."""

from __future__ import annotations

import re

import pytest
from django.test import override_settings
from django.urls import reverse

from tests.factories import ApplicationFactory, UserFactory, issue_session

pytestmark = pytest.mark.django_db

LANGUAGES = ["de", "fr"]


def text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def alice_with_an_app(client):
    alice = UserFactory(username="alice")
    app = ApplicationFactory(name="Notes")
    issue_session(alice, app, scope="files")
    client.force_login(alice)
    return app


@pytest.mark.parametrize("language", LANGUAGES)
def test_connected_apps_say_what_an_app_may_do_never_the_month(client, alice_with_an_app, language):
    with override_settings(LANGUAGE_CODE=language):
        page = client.get(reverse("token_admin_account:apps"))

    assert page.status_code == 200
    html = page.content.decode()
    assert '<dt>May</dt><dd class="scopes"><span class="tag">files</span></dd>' in html
    assert not re.search(r"\bmai\b", text(page), re.IGNORECASE)
