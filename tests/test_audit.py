"""A readable audit trail: whose tokens each revocation took, by name, and the event as a sentence.

The revocation records, when it runs, which users and apps its tokens belonged to (ids and
labels) and counts per app, in the event's ``selection["affected"]``; actors are labelled by
app name and user; the admin shows each event as a sentence with links to what still exists.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session, login_name
from tests.helpers import json_id
from token_admin import audit, revocation
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor, Selection, Surface, revoke

pytestmark = pytest.mark.django_db

# How the users are labelled: their get_username() (an e-mail address in the host configuration).
ALICE, BOB = login_name("alice"), login_name("bob")
# The event page's links in its sentence are underlined, not told apart by colour only.
UNDERLINED = ' style="text-decoration: underline"'


@pytest.fixture
def alice():
    return UserFactory(username="alice")


@pytest.fixture
def bob():
    return UserFactory(username="bob", is_staff=True)


@pytest.fixture
def acc():
    return ApplicationFactory(name="Acc App")


def test_an_event_records_whose_sessions_went(alice, bob, acc):
    other_app = ApplicationFactory(name="Notes")
    for _ in range(2):
        issue_session(alice, acc)
    issue_session(alice, acc, refresh=False)  # a lone session
    issue_session(alice, other_app)
    issue_session(bob, acc)  # not selected

    result = revoke(Selection.users([alice]), surface=Surface.ADMIN, actor=Actor.staff(bob), reason="laptop")

    assert result.event.selection == {
        "kind": "users",
        "user_ids": [json_id(alice.pk)],
        "affected": {
            "sessions": 4,
            "users": [{"id": json_id(alice.pk), "username": ALICE, "sessions": 4}],
            "users_total": 1,
            "apps": [
                {"id": acc.pk, "name": "Acc App", "access_tokens": 3, "refresh_tokens": 2, "sessions": 3},
                {"id": other_app.pk, "name": "Notes", "access_tokens": 1, "refresh_tokens": 1, "sessions": 1},
            ],
            "apps_total": 2,
        },
    }


def test_app_tokens_count_for_their_app_and_name_no_user(acc):
    AccessTokenFactory(user=None, application=acc)
    result = revoke(Selection.applications([acc]), surface=Surface.COMMAND, actor=Actor.command("ops"))
    affected = result.event.selection["affected"]
    assert (affected["users"], affected["users_total"], affected["sessions"]) == ([], 0, 1)
    assert affected["apps"] == [
        {"id": acc.pk, "name": "Acc App", "access_tokens": 1, "refresh_tokens": 0, "sessions": 1}
    ]
    assert audit.text(result.event) == "1 session in Acc App revoked by ops"


def test_a_revocation_of_nothing_records_nothing_affected(alice):
    result = revoke(Selection.users([alice]), surface=Surface.COMMAND, actor=Actor.command("ops"))
    assert result.event.selection["affected"] == {
        "sessions": 0,
        "users": [],
        "users_total": 0,
        "apps": [],
        "apps_total": 0,
    }
    assert audit.text(result.event) == "Nothing revoked by ops"


def test_lists_are_capped_most_sessions_first_and_totals_count_all(monkeypatch, acc):
    monkeypatch.setattr(revocation.affected, "AFFECTED_MAX", 2)
    users = [UserFactory(username=f"user{index}") for index in range(4)]
    for index, user in enumerate(users):
        for _ in range(index + 1):
            issue_session(user, acc)
    result = revoke(Selection.applications([acc]), surface=Surface.COMMAND, actor=Actor.command("ops"))
    affected = result.event.selection["affected"]
    assert [user["username"] for user in affected["users"]] == [login_name("user3"), login_name("user2")]
    assert (affected["users_total"], affected["sessions"]) == (4, 10)


def test_the_statement_count_does_not_grow_with_users_and_apps(acc):
    small_user = UserFactory()
    issue_session(small_user, acc)
    with CaptureQueriesContext(connection) as small:
        revoke(Selection.applications([acc]), surface=Surface.COMMAND, actor=Actor.command("ops"))
    apps = [ApplicationFactory() for _ in range(5)]
    users = [UserFactory() for _ in range(8)]
    for app in apps:
        for user in users:
            issue_session(user, app)
    with CaptureQueriesContext(connection) as large:
        revoke(Selection.applications(apps), surface=Surface.COMMAND, actor=Actor.command("ops"))
    assert len(small.captured_queries) == len(large.captured_queries)
    grouped = [query for query in large.captured_queries if "GROUP BY" in query["sql"]]
    assert len(grouped) == 2


def test_no_token_value_is_recorded(alice, acc):
    access, refresh_token = issue_session(alice, acc)
    result = revoke(Selection.tokens([access]), surface=Surface.ADN, actor=Actor.token(access))
    recorded = json.dumps(result.event.selection) + result.event.actor_label + audit.text(result.event)
    assert access.raw_token not in recorded and refresh_token.raw_token not in recorded
    assert access.token_checksum not in recorded


# --- actors --------------------------------------------------------------------------------


def test_actors_are_labelled_by_app_name_and_user(alice, acc):
    user_token = AccessTokenFactory(user=alice, application=acc)
    app_token = AccessTokenFactory(user=None, application=acc)
    assert Actor.token(user_token).label == f"{ALICE}'s token in Acc App"
    assert Actor.token(app_token).label == "app token of Acc App"
    assert Actor.api_client(acc).label == "Acc App"
    assert Actor.api_client(ApplicationFactory(name="", client_id="cid-1")).label == "cid-1"


# --- the sentence --------------------------------------------------------------------------


def test_the_sentence_of_one_users_sessions_in_one_app(alice, bob, acc):
    for _ in range(3):
        issue_session(alice, acc)
    result = revoke(
        Selection.user_apps([(alice, acc)]),
        surface=Surface.ADMIN,
        actor=Actor.staff(bob),
        reason="stolen laptop",
    )
    assert (
        audit.text(result.event) == f"{ALICE}'s 3 sessions in Acc App revoked by staff {BOB}: stolen laptop"
    )


def test_the_sentence_of_several_users_and_apps(alice, bob, acc):
    notes = ApplicationFactory(name="Notes")
    issue_session(alice, acc)
    issue_session(alice, notes)
    issue_session(bob, acc)
    both_apps = revoke(Selection.users([alice]), surface=Surface.ADMIN, actor=Actor.staff(bob))
    both_users = revoke(
        Selection.applications([acc]), surface=Surface.END_USER, actor=Actor.api_client(notes)
    )
    assert audit.text(both_apps.event) == f"{ALICE}'s 2 sessions in 2 apps revoked by staff {BOB}"
    assert audit.text(both_users.event) == f"{BOB}'s 1 session in Acc App revoked by API client Notes"
    issue_session(alice, acc)
    issue_session(bob, acc)
    again = revoke(Selection.applications([acc]), surface=Surface.COMMAND, actor=Actor.command("ops"))
    assert audit.text(again.event) == "2 sessions of 2 users in Acc App revoked by ops"


def test_an_event_from_before_affected_was_recorded_reads_from_its_counts():
    event = RevocationEvent.objects.create(
        surface=Surface.COMMAND,
        actor_type=RevocationEvent.ActorType.COMMAND,
        actor_label="ops",
        selection={"kind": "access_tokens", "access_token_ids": [1, 2]},
        access_tokens_revoked=2,
        refresh_tokens_revoked=1,
    )
    assert audit.text(event) == "2 access tokens, 1 refresh token revoked by ops"


# --- the admin -----------------------------------------------------------------------------


@pytest.fixture
def auditor(client):
    user = UserFactory(username="auditor", is_staff=True)
    permission = Permission.objects.get(
        content_type__app_label="token_admin", codename="view_revocationevent"
    )
    user.user_permissions.add(permission)
    client.force_login(user)
    return user


def test_admin_shows_the_sentence_with_links_to_what_still_exists(client, auditor, alice, bob, acc):
    access, _ = issue_session(alice, acc)
    gone = ApplicationFactory(name="Old App")
    issue_session(alice, gone)
    event = revoke(
        Selection.users([alice]), surface=Surface.ADMIN, actor=Actor.staff(bob), reason="stolen <laptop>"
    ).event
    gone.delete()

    page = client.get(reverse("admin:token_admin_revocationevent_change", args=[event.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    user_url = reverse(f"admin:{alice._meta.app_label}_{alice._meta.model_name}_change", args=[alice.pk])
    bob_url = reverse(f"admin:{bob._meta.app_label}_{bob._meta.model_name}_change", args=[bob.pk])
    assert (
        f'<a href="{user_url}"{UNDERLINED}>{ALICE}</a>&#x27;s 2 sessions in 2 apps revoked by staff '
        f'<a href="{bob_url}"{UNDERLINED}>{BOB}</a>: stolen &lt;laptop&gt;'
    ) in html
    assert access.raw_token not in html

    listing = client.get(reverse("admin:token_admin_revocationevent_changelist"))
    assert listing.status_code == 200
    assert (
        f"{ALICE}&#x27;s 2 sessions in 2 apps revoked by staff {BOB}: stolen &lt;laptop&gt;"
        in listing.content.decode()
    )


def test_admin_links_the_one_app_while_it_exists(client, auditor, alice, bob, acc):
    issue_session(alice, acc)
    event = revoke(Selection.users([alice]), surface=Surface.ADMIN, actor=Actor.staff(bob)).event
    app_url = reverse(f"admin:{acc._meta.app_label}_{acc._meta.model_name}_change", args=[acc.pk])
    url = reverse("admin:token_admin_revocationevent_change", args=[event.pk])

    assert f'in <a href="{app_url}"{UNDERLINED}>Acc App</a>' in client.get(url).content.decode()
    acc.delete()
    html = client.get(url).content.decode()
    assert "in Acc App revoked by staff" in html and app_url not in html
