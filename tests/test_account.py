"""The self-service pages (``token_admin.account.urls``, mounted at /account/): what a signed-in
user sees of their own sessions and apps, every action through the revocation service, and
nothing of anyone else's."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.factories import (
    ApplicationFactory,
    DeviceFactory,
    GrantFactory,
    UserFactory,
    issue_session,
    login_name,
)
from tests.helpers import json_id, url
from token_admin.models import RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()


@pytest.fixture
def world():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    acc, notes = ApplicationFactory(name="Acc App"), ApplicationFactory(name="Notes")
    tokens = {
        "alice_acc": issue_session(alice, acc, scope="basic stream"),
        "alice_acc_2": issue_session(alice, acc, scope="basic write_post"),
        "alice_notes": issue_session(alice, notes, scope="files"),
        "bob_acc": issue_session(bob, acc),
    }
    used = timezone.now() - timedelta(hours=2)
    TokenSession.objects.filter(token_family=tokens["alice_acc"][1].token_family).update(
        last_used_at=used, last_ip="203.0.113.9", browser="Firefox 128", os="Ubuntu", device_family="Other"
    )
    phone = DeviceFactory(user=alice, name="Alice's phone")
    TokenSession.objects.filter(token_family=tokens["alice_notes"][1].token_family).update(device=phone)
    return {"alice": alice, "bob": bob, "acc": acc, "notes": notes, "tokens": tokens, "used": used}


def session_of(refresh_token) -> TokenSession:
    return TokenSession.objects.get(token_family=refresh_token.token_family)


def signed_in(client, user):
    client.force_login(user)
    return client


def text(response) -> str:
    """The page's visible text, roughly: tags dropped, whitespace folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def iso(moment) -> str:
    """A moment as the pages' ``<time datetime>`` has it: in the project's time zone."""
    return timezone.localtime(moment).isoformat()


def assert_no_token_values(response, world):
    html = response.content.decode()
    for access, refresh in world["tokens"].values():
        assert access.raw_token not in html
        assert refresh.raw_token not in html
        assert access.token_checksum not in html


# --- reading ---------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in (
        url("/account/sessions/"),
        url("/account/apps/"),
        url(f"/account/sessions/{uuid.uuid4()}/sign-out/"),
    ):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={path}"


def test_the_mount_point_leads_to_the_sessions_page(client, world):
    response = signed_in(client, world["alice"]).get(url("/account/"))
    assert (response.status_code, response["Location"]) == (302, url("/account/sessions/"))


def test_where_you_are_signed_in_lists_each_session_with_its_activity(client, world):
    response = signed_in(client, world["alice"]).get(url("/account/sessions/"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    ids = re.findall(r'<li class="card session" id="session-([0-9a-f-]+)">', html)
    alice_sessions = [
        session_of(world["tokens"][name][1]).public_id for name in ("alice_notes", "alice_acc_2", "alice_acc")
    ]
    assert ids == [str(public_id) for public_id in alice_sessions]  # newest first, bob's not there
    page = text(response)
    assert f"Signed in as {login_name('alice')}" in page
    assert "Acc App" in page and "Notes" in page
    assert "Alice's phone" in html.replace("&#x27;", "'")
    assert "203.0.113.9" in page and "Firefox 128 · Ubuntu" in page
    assert f'datetime="{iso(world["used"])}"' in html
    assert page.count("Sign out of ") == 3 + 1  # one per session (for screen readers) and "all apps"
    assert_no_token_values(response, world)


def test_connected_apps_lists_each_app_with_its_scopes_first_authorized_and_last_used(client, world):
    response = signed_in(client, world["alice"]).get(url("/account/apps/"))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.findall(r'<li class="card app" id="app-([^"]+)">', html) == [
        world["acc"].client_id,
        world["notes"].client_id,
    ]
    acc = html[
        html.index(f'id="app-{world["acc"].client_id}"') : html.index(f'id="app-{world["notes"].client_id}"')
    ]
    assert re.findall(r'<span class="tag">([^<]+)</span>', acc) == ["basic", "stream", "write_post"]
    first = session_of(world["tokens"]["alice_acc"][1]).created_at
    assert f'datetime="{iso(first)}"' in acc
    assert f'datetime="{iso(world["used"])}"' in acc
    assert "2 sessions" in acc
    assert_no_token_values(response, world)


def test_a_user_with_no_sessions_sees_so(client):
    client.force_login(UserFactory())
    assert "You are not signed in to any app." in text(client.get(url("/account/sessions/")))
    assert "No app has access to your account." in text(client.get(url("/account/apps/")))


def test_ended_sessions_are_not_listed(client, world):
    expired_access, _ = issue_session(world["alice"], world["notes"], refresh=False, expires_in=-timedelta(1))
    html = signed_in(client, world["alice"]).get(url("/account/sessions/")).content.decode()
    lone = TokenSession.objects.get(access_token_checksum=expired_access.token_checksum)
    assert str(lone.public_id) not in html


# --- actions ---------------------------------------------------------------------------


def test_signing_out_one_session_confirms_first_then_revokes_it_audited(client, world):
    session = session_of(world["tokens"]["alice_acc"][1])
    page_url = url(f"/account/sessions/{session.public_id}/sign-out/")
    signed_in(client, world["alice"])

    confirm = client.get(page_url)
    assert confirm.status_code == 200
    assert "Sign out of Acc App?" in text(confirm)
    assert 'method="post"' in confirm.content.decode() and "csrfmiddlewaretoken" in confirm.content.decode()
    assert AccessToken.objects.count() == 4  # nothing changed yet

    done = client.post(page_url, {"confirm": "yes"})

    assert (done.status_code, done["Location"]) == (302, url("/account/sessions/"))
    assert not AccessToken.objects.filter(pk=world["tokens"]["alice_acc"][0].pk).exists()
    assert AccessToken.objects.count() == 3
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_user, event.actor_label) == (
        "account",
        "user",
        world["alice"],
        login_name("alice"),
    )
    assert event.selection["session_ids"] == [str(session.public_id)]
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)
    assert event.reason == "Signed out on the account page"
    after = client.get(url("/account/sessions/"))
    assert "Signed out of Acc App." in text(after)
    assert str(session.public_id) not in after.content.decode()


def test_removing_an_apps_access_revokes_every_session_and_grant_of_that_app_only(client, world):
    GrantFactory(user=world["alice"], application=world["acc"])
    page_url = url(f"/account/apps/{world['acc'].client_id}/remove/")
    signed_in(client, world["alice"])

    confirm = client.get(page_url)
    assert "Remove access for Acc App?" in text(confirm)
    assert len(re.findall(r'class="card session"', confirm.content.decode())) == 2
    done = client.post(page_url, {"confirm": "yes"})

    assert (done.status_code, done["Location"]) == (302, url("/account/apps/"))
    remaining = set(AccessToken.objects.values_list("user", "application__name"))
    assert remaining == {(world["alice"].pk, "Notes"), (world["bob"].pk, "Acc App")}
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_user, event.grants_revoked) == ("account", world["alice"], 1)
    assert event.selection["kind"] == "user_apps"
    assert event.selection["affected"]["users"] == [
        {"id": json_id(world["alice"].pk), "username": login_name("alice"), "sessions": 2}
    ]
    assert "Acc App no longer has access to your account." in text(client.get(url("/account/apps/")))


def test_signing_out_of_all_apps_revokes_all_the_users_sessions_and_no_one_elses(client, world):
    signed_in(client, world["alice"])
    confirm = client.get(url("/account/sessions/sign-out-all/"))
    assert "This signs you out of all 3 sessions below." in text(confirm)

    done = client.post(url("/account/sessions/sign-out-all/"), {"confirm": "yes"})

    assert (done.status_code, done["Location"]) == (302, url("/account/sessions/"))
    assert list(AccessToken.objects.values_list("user", flat=True)) == [world["bob"].pk]
    assert RefreshToken.objects.filter(user=world["alice"], revoked__isnull=True).count() == 0
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_user, event.access_tokens_revoked) == ("account", world["alice"], 3)
    page = text(client.get(url("/account/sessions/")))
    assert "Signed out of all apps." in page and "You are not signed in to any app." in page


def test_an_action_with_nothing_left_to_revoke_writes_no_audit_event(client):
    client.force_login(UserFactory())
    response = client.post(url("/account/sessions/sign-out-all/"))
    assert (response.status_code, response["Location"]) == (302, url("/account/sessions/"))
    assert "You were not signed in to any app." in text(client.get(url("/account/sessions/")))
    assert not RevocationEvent.objects.exists()


def test_actions_need_the_csrf_token(world):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(world["alice"])
    session = session_of(world["tokens"]["alice_acc"][1])

    for path in (
        url(f"/account/sessions/{session.public_id}/sign-out/"),
        url("/account/sessions/sign-out-all/"),
    ):
        assert browser.post(path).status_code == 403
    assert AccessToken.objects.count() == 4
    assert not RevocationEvent.objects.exists()


# --- isolation and bad input -------------------------------------------------------------


def test_a_user_can_never_see_or_sign_out_another_users_session_by_id(client, world):
    bobs = session_of(world["tokens"]["bob_acc"][1])
    page_url = url(f"/account/sessions/{bobs.public_id}/sign-out/")
    signed_in(client, world["alice"])

    seen = client.get(page_url)
    posted = client.post(page_url, {"confirm": "yes"})

    for response in (seen, posted):
        assert response.status_code == 404
        assert "There is no such session or app in your account." in text(response)
        assert "Acc App" not in text(response)
    assert AccessToken.objects.filter(user=world["bob"]).count() == 1
    assert not RevocationEvent.objects.exists()


def test_removing_access_for_an_app_the_user_never_authorized_is_a_404(client, world):
    only_bobs = ApplicationFactory(name="Bob's app")
    issue_session(world["bob"], only_bobs)
    signed_in(client, world["alice"])

    response = client.post(url(f"/account/apps/{only_bobs.client_id}/remove/"), {"confirm": "yes"})

    assert response.status_code == 404
    assert AccessToken.objects.filter(application=only_bobs).count() == 1
    assert not RevocationEvent.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        url("/account/sessions/not-a-uuid/sign-out/"),
        url("/account/sessions/%00%27%22/sign-out/"),
        url(f"/account/sessions/{uuid.uuid4()}/sign-out/"),
        url("/account/sessions/12345678123456781234567812345678123/sign-out/"),
        url("/account/apps/no-such-client/remove/"),
        url("/account/apps/%E2%98%83/remove/"),
        url("/account/no/such/page"),
    ],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_or_malformed_ids_get_the_account_pages_404(client, world, path, method):
    signed_in(client, world["alice"])
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    html = response.content.decode()
    assert '<nav aria-label="Your account">' in html  # the account pages' own layout
    assert "There is no such session or app in your account." in html
    assert not RevocationEvent.objects.exists()


def test_other_methods_are_refused(client, world):
    signed_in(client, world["alice"])
    assert client.post(url("/account/sessions/")).status_code == 405
    assert client.delete(url("/account/sessions/sign-out-all/")).status_code == 405


# --- query counts --------------------------------------------------------------------------


@pytest.mark.parametrize("path", [url("/account/sessions/"), url("/account/apps/")])
def test_each_page_runs_a_fixed_number_of_queries(client, world, path, django_assert_num_queries):
    signed_in(client, world["alice"])
    # The session, the user, then the user's refresh tokens, access tokens, sessions and the
    # not-before watermarks over them (one indexed read, from the database: no cache).
    with django_assert_num_queries(6):
        assert client.get(path).status_code == 200
    for _ in range(10):
        issue_session(world["alice"], ApplicationFactory())
    with django_assert_num_queries(6):
        response = client.get(path)
    assert response.content.decode().count('class="card ') == (13 if "sessions" in path else 12)


def test_the_confirmation_and_the_action_run_a_fixed_number_of_queries(
    client, world, django_assert_num_queries, django_assert_max_num_queries
):
    session = session_of(world["tokens"]["alice_acc"][1])
    page_url = url(f"/account/sessions/{session.public_id}/sign-out/")
    signed_in(client, world["alice"])
    with django_assert_num_queries(6):
        client.get(page_url)
    # The same six reads, then the revocation's fixed statements (whatever the number of tokens),
    # the events outbox's INSERT ... SELECT among them.
    with django_assert_max_num_queries(18):
        assert client.post(page_url).status_code == 302
