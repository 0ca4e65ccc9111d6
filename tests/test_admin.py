"""The Django admin: revoke through the confirmation page, permissions, masking, links, query bounds."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_grant_model,
    get_refresh_token_model,
    set_token_value,
)

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    DeviceFactory,
    GrantFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import asked, json_id, signed_selection, translated
from token_admin import admin as token_admin_admin
from token_admin.models import RevocationEvent, TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()
Grant = get_grant_model()
User = get_user_model()

pytestmark = pytest.mark.django_db

TOKENS_URL = f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}_changelist"
APPS_URL = f"admin:{Application._meta.app_label}_{Application._meta.model_name}_changelist"
USERS_URL = f"admin:{User._meta.app_label}_{User._meta.model_name}_changelist"


def url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def staff(*codenames: str, superuser: bool = False) -> Any:
    """A staff user with exactly these permissions (``app_label.codename``)."""
    user = UserFactory(is_staff=True, is_superuser=superuser)
    for perm in codenames:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return user


TOKEN_VIEWER_PERMS = (
    f"{AccessToken._meta.app_label}.view_{AccessToken._meta.model_name}",
    "token_admin.view_tokensession",
    "token_admin.view_device",
    "token_admin.view_revocationevent",
)


@pytest.fixture
def revoker(client):
    """A staff user who may view tokens and revoke them, logged in."""
    user = staff(*TOKEN_VIEWER_PERMS, "token_admin.revoke_tokens")
    client.force_login(user)
    return user


@pytest.fixture
def viewer(client):
    """A view-only staff user, logged in."""
    user = staff(*TOKEN_VIEWER_PERMS)
    client.force_login(user)
    return user


def post_action(client, changelist: str, action: str, ids, query: str = "", **data: Any):
    """Post an admin action; a confirming post (``post="yes"``) carries the selection its
    confirmation page signed, as a browser would, unless the test passes its own."""
    payload = {"action": action, "_selected_action": [str(pk) for pk in ids], **data}
    if data.get("post") == "yes" and "selection" not in data:
        preview = {"action": action, "_selected_action": payload["_selected_action"]}
        if "select_across" in data:
            preview["select_across"] = data["select_across"]
        if data.get("user"):
            # Counted for the typed user: a confirming post for a user not yet counted counts again.
            preview.update(post="yes", reason="preview", user=data["user"])
        page = client.post(f"{changelist}{query}", preview)
        payload["selection"] = signed_selection(page)
    return client.post(f"{changelist}{query}", payload, follow=True)


def bulk_tokens(count: int, user, application, *, refresh: bool = True) -> list[int]:
    """``count`` token pairs in a few statements (no sessions: bulk_create sends no signals)."""
    expires = timezone.now() + timedelta(hours=1)
    tokens = []
    for _ in range(count):
        token = AccessToken(user=user, application=application, expires=expires, scope="basic")
        set_token_value(token, secrets.token_urlsafe(30))
        tokens.append(token)
    AccessToken.objects.bulk_create(tokens, batch_size=500)
    ids = list(
        AccessToken.objects.filter(token_checksum__in=[t.token_checksum for t in tokens]).values_list(
            "pk", flat=True
        )
    )
    if refresh:
        pairs = []
        for access_token_id in ids:
            rt = RefreshToken(
                user=user, application=application, access_token_id=access_token_id, token_family=uuid.uuid4()
            )
            set_token_value(rt, secrets.token_urlsafe(30))
            pairs.append(rt)
        RefreshToken.objects.bulk_create(pairs, batch_size=500)
    return ids


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def counts_on_page(response) -> tuple[int, int]:
    html = response.content.decode()
    access = re.search(r'id="count-access-tokens">(\d+)<', html)
    refresh = re.search(r'id="count-refresh-tokens">(\d+)<', html)
    return int(access.group(1)), int(refresh.group(1))


# --- registration --------------------------------------------------------------------------


def test_token_admin_replaces_dots_admin_and_wraps_the_user_admin():
    from django.contrib.auth.admin import UserAdmin

    assert type(admin.site._registry[AccessToken]) is token_admin_admin.AccessTokenAdmin
    assert type(admin.site._registry[RefreshToken]) is token_admin_admin.RefreshTokenAdmin
    assert type(admin.site._registry[Application]) is token_admin_admin.ApplicationAdmin
    user_admin = admin.site._registry[User]
    assert isinstance(user_admin, UserAdmin)
    assert isinstance(user_admin, token_admin_admin.UserTokensAdminMixin)


# --- the token changelist -------------------------------------------------------------------


def test_the_token_list_masks_tokens_and_never_shows_a_value(client, revoker):
    access, refresh = issue_session(UserFactory(username="alice"), ApplicationFactory(name="Stream"))

    response = client.get(url(TOKENS_URL))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"…{access.token_checksum[-4:]}" in html
    assert access.raw_token not in html
    assert access.token_checksum not in html
    assert refresh.raw_token not in html
    assert "alice" in html and "Stream" in html


def test_search_finds_users_and_apps_and_a_pasted_token_but_never_part_of_one(client, revoker):
    access, _ = issue_session(UserFactory(username="alice"), ApplicationFactory(name="Stream"))
    issue_session(UserFactory(username="bob"), ApplicationFactory(name="Other"))
    mask = f"…{access.token_checksum[-4:]}"

    assert mask in client.get(url(TOKENS_URL), {"q": "alice"}).content.decode()
    assert mask in client.get(url(TOKENS_URL), {"q": "Stream"}).content.decode()
    # The whole token: its row by checksum (tests/test_admin_secrets.py checks "only its row").
    assert mask in client.get(url(TOKENS_URL), {"q": access.raw_token}).content.decode()
    by_prefix = client.get(url(TOKENS_URL), {"q": access.raw_token[:-1]})
    assert by_prefix.status_code == 200
    assert mask not in by_prefix.content.decode()
    assert "0 access tokens" in by_prefix.content.decode()


def test_filters_by_app_status_refresh_token_device_user_and_session(client, revoker):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    stream, tablet = ApplicationFactory(name="Stream"), ApplicationFactory(name="Tablet")
    paired, _ = issue_session(alice, stream)
    lone = AccessTokenFactory(user=bob, application=stream, expires=timezone.now() - timedelta(minutes=1))
    device = DeviceFactory(user=alice, name="Alice's iPad", application=tablet)
    on_device, _ = issue_session(alice, tablet)

    def shown(**params: str) -> set[str]:
        response = client.get(url(TOKENS_URL), params)
        assert response.status_code == 200
        html = response.content.decode()
        return {name for name, token in masks.items() if f"…{token.token_checksum[-4:]}" in html}

    masks = {"paired": paired, "lone": lone, "on_device": on_device}
    assert shown() == {"paired", "lone", "on_device"}
    assert shown(app=stream.client_id) == {"paired", "lone"}
    assert shown(app="tablet") == {"on_device"}
    assert shown(app="nothing") == set()
    assert shown(status="active") == {"paired", "on_device"}
    assert shown(status="expired") == {"lone"}
    assert shown(refresh="yes") == {"paired", "on_device"}
    assert shown(refresh="no") == {"lone"}
    assert shown(device=str(device.pk)) == {"on_device"}
    assert shown(device="any") == {"on_device"}
    assert shown(device="none") == {"paired", "lone"}
    assert shown(device="999999") == set()
    assert shown(user=str(bob.pk)) == {"lone"}
    # A value the filter cannot parse: the admin's own answer, a redirect to "?e=1".
    assert client.get(url(TOKENS_URL), {"user": "x"})["Location"].endswith("?e=1")
    session = TokenSession.objects.get(access_token_checksum=lone.token_checksum)
    assert shown(session=str(session.public_id)) == {"lone"}
    assert client.get(url(TOKENS_URL), {"session": "not-a-uuid"})["Location"].endswith("?e=1")


def test_the_session_list_filters_by_device(client, revoker):
    """``?device=`` is also a field of the session model: the filter, not a field lookup, reads it."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    stream, tablet = ApplicationFactory(name="Stream"), ApplicationFactory(name="Tablet")
    issue_session(alice, stream)
    phone = DeviceFactory(user=bob, name="Bob's phone")
    issue_session(bob, stream)
    TokenSession.objects.filter(user=bob).update(device=phone)
    ipad = DeviceFactory(user=alice, name="Alice's iPad", application=tablet)
    issue_session(alice, tablet)  # on the iPad: its registered client, its user
    issue_session(bob, tablet)  # bob on alice's iPad's client: not the iPad's
    by_name = {
        ({alice.pk: "alice", bob.pk: "bob"}[s.user_id], s.application.name): str(s.public_id)
        for s in TokenSession.objects.select_related("user", "application")
    }
    client.force_login(revoker)

    def shown(**params: str) -> set[tuple[str, str]]:
        response = client.get(url("admin:token_admin_tokensession_changelist"), params)
        assert response.status_code == 200, response.get("Location")
        html = response.content.decode()
        return {key for key, public_id in by_name.items() if public_id in html}

    assert shown(device="any") == {("bob", "Stream"), ("alice", "Tablet")}
    assert shown(device="none") == {("alice", "Stream"), ("bob", "Tablet")}
    assert shown(device=str(ipad.pk)) == {("alice", "Tablet")}
    assert shown(device=str(phone.pk)) == {("bob", "Stream")}
    # The app filter is a text box naming the chosen app, never a list of every app.
    html = client.get(url(TOKENS_URL), {"app": stream.client_id}).content.decode()
    assert 'name="app"' in html and "Tablet" not in html.split('id="changelist-filter"')[1]


def test_the_changelist_runs_the_same_few_queries_for_10_or_300_tokens(client, revoker):
    user, app = UserFactory(), ApplicationFactory()
    bulk_tokens(10, user, app)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(TOKENS_URL)).status_code == 200
    bulk_tokens(290, UserFactory(), ApplicationFactory())
    with CaptureQueriesContext(connection) as many:
        assert client.get(url(TOKENS_URL)).status_code == 200

    assert len(many) == len(few) <= 8
    # One COUNT, for the paginator: no second COUNT(*) of the whole table.
    assert sum("COUNT(" in query["sql"].upper() for query in many.captured_queries) == 1


@pytest.mark.parametrize("name", ["tokensession", "device", "revocationevent"])
def test_token_admin_changelists_run_a_fixed_number_of_queries(
    client, revoker, name, django_assert_max_num_queries
):
    for _ in range(3):
        user = UserFactory()
        issue_session(user, ApplicationFactory())
        DeviceFactory(user=user)
    with django_assert_max_num_queries(8):
        response = client.get(url(f"admin:token_admin_{name}_changelist"))
    assert response.status_code == 200


# --- revoking selected tokens ---------------------------------------------------------------


def test_revoking_tokens_asks_for_confirmation_then_revokes_and_audits(client, revoker):
    user, app = UserFactory(username="alice"), ApplicationFactory(name="Stream")
    (first, first_rt), (second, _) = issue_session(user, app), issue_session(user, app)
    kept, kept_rt = issue_session(user, app)
    changelist = url(TOKENS_URL)

    confirm = post_action(client, changelist, "revoke_selected_tokens", [first.pk, second.pk])

    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Revoke access tokens" in html
    assert f"…{first.token_checksum[-4:]} · {user.get_username()} · Stream" in html
    assert counts_on_page(confirm) == (2, 2)
    assert AccessToken.objects.count() == 3 and not RevocationEvent.objects.exists()

    done = post_action(
        client, changelist, "revoke_selected_tokens", [first.pk, second.pk], post="yes", reason="Phone stolen"
    )

    assert done.status_code == 200
    assert done.redirect_chain[-1][0] == changelist
    event = RevocationEvent.objects.get()
    event_url = url("admin:token_admin_revocationevent_change", event.pk)
    assert messages_of(done) == [
        f'Revoked 2 access tokens and 2 refresh tokens. <a href="{event_url}">Audit event {event.pk}</a>.'
    ]
    assert (event.surface, event.actor_user, event.reason) == ("admin", revoker, "Phone stolen")
    assert asked(event.selection) == {
        "kind": "access_tokens",
        "access_token_ids": sorted([first.pk, second.pk]),
    }
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [kept.pk]
    first_rt.refresh_from_db()
    kept_rt.refresh_from_db()
    assert first_rt.revoked is not None and kept_rt.revoked is None


def test_a_reason_is_required_and_nothing_changes_without_one(client, revoker):
    token, _ = issue_session(UserFactory(), ApplicationFactory())

    response = post_action(
        client, url(TOKENS_URL), "revoke_selected_tokens", [token.pk], post="yes", reason=" "
    )

    assert response.status_code == 200
    assert translated("This field is required.") in response.content.decode()
    assert AccessToken.objects.filter(pk=token.pk).exists()
    assert not RevocationEvent.objects.exists()


def test_select_all_revokes_every_token_the_filter_shows(client, revoker):
    stream, other = ApplicationFactory(name="Stream"), ApplicationFactory()
    for _ in range(3):
        issue_session(UserFactory(), stream)
    untouched, _ = issue_session(UserFactory(), other)
    query = f"?app={stream.client_id}"
    shown = AccessToken.objects.filter(application=stream).values_list("pk", flat=True)[:1]

    confirm = post_action(client, url(TOKENS_URL), "revoke_selected_tokens", shown, query, select_across="1")
    assert "You selected 3 access tokens." in confirm.content.decode()
    assert counts_on_page(confirm) == (3, 3)

    done = post_action(
        client,
        url(TOKENS_URL),
        "revoke_selected_tokens",
        shown,
        query,
        select_across="1",
        post="yes",
        reason="x",
    )

    assert messages_of(done)[0].startswith("Revoked 3 access tokens and 3 refresh tokens.")
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [untouched.pk]


def test_confirm_and_revoke_of_900_tokens_take_a_fixed_small_number_of_queries(
    client, revoker, django_assert_max_num_queries
):
    user, app = UserFactory(), ApplicationFactory()
    ids = bulk_tokens(900, user, app)
    changelist = url(TOKENS_URL)

    with django_assert_max_num_queries(12):
        confirm = post_action(client, changelist, "revoke_selected_tokens", ids)
    assert counts_on_page(confirm) == (900, 900)
    assert "and 880 more" in confirm.content.decode()

    with django_assert_max_num_queries(20):
        done = client.post(
            changelist,
            {
                "action": "revoke_selected_tokens",
                "_selected_action": ids,
                "post": "yes",
                "reason": "Breach",
                "selection": signed_selection(confirm),
            },
        )
    assert done.status_code == 302
    assert not AccessToken.objects.exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True).exists()
    assert RevocationEvent.objects.get().access_tokens_revoked == 900


def test_deauthorizing_the_apps_of_selected_tokens_revokes_the_users_whole_grant(client, revoker):
    alice, app = UserFactory(), ApplicationFactory()
    selected, _ = issue_session(alice, app)
    sibling, _ = issue_session(alice, app)
    GrantFactory(user=alice, application=app)
    app_token = AccessTokenFactory(user=None, application=app)
    other_user, _ = issue_session(UserFactory(), app)

    confirm = post_action(client, url(TOKENS_URL), "deauthorize_selected_tokens", [selected.pk, app_token.pk])
    assert counts_on_page(confirm) == (3, 2)
    done = post_action(
        client,
        url(TOKENS_URL),
        "deauthorize_selected_tokens",
        [selected.pk, app_token.pk],
        post="yes",
        reason="r",
    )

    assert messages_of(done)[0].startswith(
        "Revoked 3 access tokens and 2 refresh tokens, deleted 1 authorization code."
    )
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [other_user.pk]
    assert not Grant.objects.exists()
    assert sibling.pk not in AccessToken.objects.values_list("pk", flat=True)


# --- permission -----------------------------------------------------------------------------


def test_staff_without_the_revoke_permission_see_no_action_and_cannot_post_one(client, viewer):
    token, _ = issue_session(UserFactory(), ApplicationFactory())

    page = client.get(url(TOKENS_URL)).content.decode()
    assert "revoke_selected_tokens" not in page and 'name="action"' not in page
    assert (
        "revoke_selected_sessions"
        not in client.get(url("admin:token_admin_tokensession_changelist")).content.decode()
    )

    forged = post_action(
        client, url(TOKENS_URL), "revoke_selected_tokens", [token.pk], post="yes", reason="x"
    )

    assert forged.status_code == 200
    assert AccessToken.objects.filter(pk=token.pk).exists()
    assert not RevocationEvent.objects.exists()


def test_the_revoke_check_refuses_a_call_that_bypasses_the_action_list(rf, viewer):
    from django.core.exceptions import PermissionDenied

    request = rf.post("/", {"post": "yes", "reason": "x"})
    request.user = viewer
    token_admin = admin.site._registry[AccessToken]
    with pytest.raises(PermissionDenied):
        token_admin.revoke_selected_tokens(request, AccessToken.objects.all())


# --- sessions, devices, apps, users --------------------------------------------------------


def test_revoking_a_session_revokes_its_family(client, revoker):
    access, refresh = issue_session(UserFactory(), ApplicationFactory())
    other, _ = issue_session(UserFactory(), ApplicationFactory())
    session = TokenSession.objects.get(token_family=refresh.token_family)
    changelist = url("admin:token_admin_tokensession_changelist")

    assert counts_on_page(post_action(client, changelist, "revoke_selected_sessions", [session.pk])) == (1, 1)
    done = post_action(
        client, changelist, "revoke_selected_sessions", [session.pk], post="yes", reason="Lost"
    )

    assert messages_of(done)[0].startswith("Revoked 1 access token and 1 refresh token.")
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [other.pk]
    assert RevocationEvent.objects.get().selection["session_ids"] == [str(session.public_id)]


def test_revoking_a_device_revokes_its_sessions_and_its_registered_client(client, revoker):
    alice = UserFactory()
    stream, tablet = ApplicationFactory(), ApplicationFactory()
    device = DeviceFactory(user=alice, application=tablet)
    issue_session(alice, tablet)
    _, on_stream = issue_session(alice, stream)
    TokenSession.objects.filter(token_family=on_stream.token_family).update(device=device)
    kept, _ = issue_session(alice, stream)
    changelist = url("admin:token_admin_device_changelist")

    assert counts_on_page(post_action(client, changelist, "revoke_selected_devices", [device.pk])) == (2, 2)
    done = post_action(client, changelist, "revoke_selected_devices", [device.pk], post="yes", reason="Sold")

    assert messages_of(done)[0].startswith("Revoked 2 access tokens and 2 refresh tokens.")
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [kept.pk]


def test_deauthorizing_apps_for_everyone_or_one_chosen_user(client):
    app_view = f"{Application._meta.app_label}.view_{Application._meta.model_name}"
    client.force_login(staff(app_view, "token_admin.revoke_tokens"))
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    app, other = ApplicationFactory(name="Stream"), ApplicationFactory()
    issue_session(alice, app)
    bob_token, _ = issue_session(bob, app)
    elsewhere, _ = issue_session(alice, other)
    changelist = url(APPS_URL)

    everyone = post_action(client, changelist, "deauthorize_applications", [app.pk])
    assert counts_on_page(everyone) == (2, 2)
    # Typing a user recounts for that user first; nothing is revoked yet.
    recount = post_action(
        client,
        changelist,
        "deauthorize_applications",
        [app.pk],
        post="yes",
        reason="r",
        user=alice.get_username(),
        selection=signed_selection(everyone),  # the page counted every user
    )
    assert counts_on_page(recount) == (1, 1)
    assert f"Only the tokens of {alice.get_username()} are counted." in recount.content.decode()
    assert AccessToken.objects.count() == 3
    unknown = post_action(
        client, changelist, "deauthorize_applications", [app.pk], post="yes", reason="r", user="zed"
    )
    assert "There is no user zed." in unknown.content.decode()

    done = post_action(
        client,
        changelist,
        "deauthorize_applications",
        [app.pk],
        post="yes",
        reason="Left the company",
        user=alice.get_username(),
        counted_user=alice.get_username(),
    )

    assert messages_of(done)[0].startswith("Revoked 1 access token and 1 refresh token.")
    assert set(AccessToken.objects.values_list("pk", flat=True)) == {bob_token.pk, elsewhere.pk}
    event = RevocationEvent.objects.get()
    assert asked(event.selection) == {
        "kind": "applications",
        "client_ids": [app.client_id],
        "user_id": json_id(alice.pk),
    }


def test_the_user_admin_revokes_all_tokens_of_selected_users(client):
    client.force_login(
        staff(f"{User._meta.app_label}.view_{User._meta.model_name}", "token_admin.revoke_tokens")
    )
    alice, bob = UserFactory(), UserFactory()
    issue_session(alice, ApplicationFactory())
    issue_session(alice, ApplicationFactory())
    kept, _ = issue_session(bob, ApplicationFactory())
    changelist = url(USERS_URL)

    page = client.get(changelist).content.decode()
    assert "revoke_all_user_tokens" in page
    assert f"?user={alice.pk}" in page  # the link to the user's tokens
    assert counts_on_page(post_action(client, changelist, "revoke_all_user_tokens", [alice.pk])) == (2, 2)
    done = post_action(
        client, changelist, "revoke_all_user_tokens", [alice.pk], post="yes", reason="Offboarded"
    )

    assert messages_of(done)[0].startswith("Revoked 2 access tokens and 2 refresh tokens.")
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_user_admin_keeps_its_own_actions_and_hides_revoking_without_permission(client):
    label, model = User._meta.app_label, User._meta.model_name
    client.force_login(staff(f"{label}.view_{model}", f"{label}.delete_{model}"))

    page = client.get(url(USERS_URL)).content.decode()

    assert 'value="delete_selected"' in page
    assert "revoke_all_user_tokens" not in page


# --- links ----------------------------------------------------------------------------------


def test_links_lead_from_app_and_token_to_sessions_devices_and_audit_events(client, revoker):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    alice, tablet = UserFactory(), ApplicationFactory(name="Tablet")
    device = DeviceFactory(user=alice, application=tablet, name="Alice's iPad")
    token, refresh = issue_session(alice, tablet)
    session = TokenSession.objects.get(token_family=refresh.token_family)

    apps_page = client.get(url(APPS_URL)).content.decode()
    assert f"?app={tablet.client_id}" in apps_page

    token_page = client.get(url(TOKENS_URL.replace("changelist", "change"), token.pk))
    html = token_page.content.decode()
    assert token_page.status_code == 200
    assert url("admin:token_admin_tokensession_change", session.pk) in html
    assert url("admin:token_admin_device_change", device.pk) in html
    assert f"?about={session.public_id}" in html
    assert token.raw_token not in html and token.token_checksum not in html

    session_page = client.get(url("admin:token_admin_tokensession_change", session.pk)).content.decode()
    assert f"?session={session.public_id}" in session_page
    device_page = client.get(url("admin:token_admin_device_change", device.pk)).content.decode()
    assert f"?device={device.pk}" in device_page and f"?about={device.public_id}" in device_page


# --- the audit trail ------------------------------------------------------------------------


def test_audit_events_are_read_only_even_for_superusers(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    token, refresh = issue_session(UserFactory(), ApplicationFactory())
    session = TokenSession.objects.get()
    from token_admin import revocation

    revocation.revoke(
        revocation.Selection.sessions([session.public_id]),
        surface=revocation.Surface.ADMIN,
        actor=revocation.Actor.command("t"),
        reason="Audit me",
    )
    event = RevocationEvent.objects.get()

    assert client.get(url("admin:token_admin_revocationevent_add")).status_code == 403
    assert client.get(url("admin:token_admin_revocationevent_delete", event.pk)).status_code == 403
    page = client.get(url("admin:token_admin_revocationevent_change", event.pk))
    assert page.status_code == 200
    assert "Audit me" in page.content.decode() and 'name="_save"' not in page.content.decode()
    client.post(url("admin:token_admin_revocationevent_change", event.pk), {"reason": "changed"})
    event.refresh_from_db()
    assert event.reason == "Audit me"
    listing = client.get(
        url("admin:token_admin_revocationevent_changelist"), {"about": str(session.public_id)}
    )
    assert "Audit me" in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    other = client.get(url("admin:token_admin_revocationevent_changelist"), {"about": str(uuid.uuid4())})
    assert "Audit me" not in other.content.decode()


def test_a_selection_too_large_to_carry_is_refused_with_a_message(client, revoker, monkeypatch):
    from token_admin.admin import actions as token_admin_actions

    monkeypatch.setattr(token_admin_actions, "SELECTION_MAX_BYTES", 10)
    token, _ = issue_session(UserFactory(), ApplicationFactory())

    response = post_action(client, url(TOKENS_URL), "revoke_selected_tokens", [token.pk])

    assert messages_of(response) == [
        "Too many selected to confirm on one page. Revoke by user or app (the de-authorize actions), "
        "or with the revoke_tokens command."
    ]
    assert AccessToken.objects.filter(pk=token.pk).exists()
