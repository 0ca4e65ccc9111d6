"""The staff resource API's browsable pages in a real headless Chromium: list, detail, revoke
with a dry run, revoke (the browser helpers and skip rules are ``test_admin_browser``'s)."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions

from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.test_admin_browser import Page, browser, staff_user  # noqa: F401 (the fixture)
from token_admin.models import RevocationEvent, TokenSession

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEW = ("view_tokensession", "view_revocationevent")


def response_json(page: Page) -> dict:
    """The JSON body the browsable page shows, less the status and headers above it."""
    text = page.find(".response-info pre").text
    return json.loads(text[text.index("\n\n") + 2 :])


def post_raw(page: Page, body: dict) -> None:
    """Send ``body`` as JSON from the raw-data form, and wait for the page to show the answer."""
    content = page.find("#post-generic-content-form textarea[name=_content]")
    content.clear()
    content.send_keys(json.dumps(body))
    page.submit(page.find("#post-generic-content-form button"))


def test_staff_walk_list_detail_dry_run_and_revoke(browser, live_server):  # noqa: F811
    revoker = staff_user(*VIEW, "revoke_tokens")
    token, _ = issue_session(UserFactory(username="alice"), ApplicationFactory(name="Stream"))
    session = TokenSession.objects.get()
    page = Page(browser, live_server.url)
    page.log_in(revoker.username)

    # The list: the session, live.
    page.open("/api/token-admin/sessions")
    assert page.find(".page-header h1").text == "Session List"
    listed = response_json(page)["results"]
    assert [(row["id"], row["user"]["username"], row["live"]) for row in listed] == [
        (str(session.public_id), "alice", True)
    ]

    # Its detail, then its revoke action through the "Extra Actions" menu.
    page.open(f"/api/token-admin/sessions/{session.public_id}")
    assert response_json(page)["application"]["name"] == "Stream"
    page.find("#extra-actions-menu").click()
    page.wait.until(expected_conditions.element_to_be_clickable((By.LINK_TEXT, "Revoke")))
    page.submit(page.driver.find_element(By.LINK_TEXT, "Revoke"))
    assert page.driver.current_url.endswith(f"/sessions/{session.public_id}/revoke")

    # A dry run counts and changes nothing.
    post_raw(page, {"reason": "phone lost", "dry_run": True})
    assert response_json(page) == {
        "dry_run": True,
        "access_tokens": 1,
        "refresh_tokens": 1,
        "grants": 0,
        "registration_tokens": 0,
        "event": None,
    }
    assert TokenSession.objects.count() == 1 and not RevocationEvent.objects.exists()
    assert type(token).objects.filter(pk=token.pk).exists()

    # Without a reason: the field error, nothing revoked. Then for real.
    post_raw(page, {})
    assert response_json(page) == {"reason": ["This field is required."]}
    post_raw(page, {"reason": "phone lost"})
    event = RevocationEvent.objects.get()
    assert response_json(page)["event"] == event.pk
    assert (event.surface, event.actor_user_id, event.reason) == ("manage", revoker.pk, "phone lost")
    assert not type(token).objects.filter(pk=token.pk).exists()

    page.open(f"/api/token-admin/sessions/{session.public_id}")
    assert response_json(page)["live"] is False
