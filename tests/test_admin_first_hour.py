"""The admin as a newcomer meets it: change pages named in words with a "Revoke…" button that
leads to the changelist's confirmation page, plain filter titles, and one reason policy
(``TOKEN_ADMIN["REASON_REQUIRED"]``) for the admin and ``revoke_tokens``."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client, override_settings
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from tests.factories import ApplicationFactory, DeviceFactory, UserFactory, issue_session, login_name
from tests.helpers import asked, signed_selection, translated
from token_admin.models import RevocationEvent, TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()

pytestmark = pytest.mark.django_db

VIEW_ALL = [
    f"view_{model._meta.model_name}" for model in (AccessToken, RefreshToken, Application, TokenSession)
] + ["view_device", "view_revocationevent"]


def staff_client(*codenames: str) -> Client:
    user = UserFactory(is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def change_url(obj: Any) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def revoke_button(page: Any) -> tuple[str, dict[str, str]] | None:
    """The change page's "Revoke…" form: where it posts and what."""
    found = re.search(r'<form method="post" action="([^"]+)" class="revoke-button">(.*?)</form>', page, re.S)
    if found is None:
        return None
    return found.group(1), dict(re.findall(r'name="(\w+)" value="([^"]*)"', found.group(2)))


@pytest.fixture
def alice_on_stream():
    alice = UserFactory(username="alice")
    stream = ApplicationFactory(name="Stream")
    access, refresh = issue_session(alice, stream)
    session = TokenSession.objects.get(token_family=refresh.token_family)
    device = DeviceFactory(user=alice, name="Alice's phone")
    TokenSession.objects.filter(pk=session.pk).update(device=device)
    return {"access": access, "refresh": refresh, "session": session, "device": device, "app": stream}


PAGES = [
    ("access", "revoke_selected_tokens", "Revoke access tokens", "Access token …{end} · alice on Stream"),
    (
        "refresh",
        "revoke_selected_refresh_tokens",
        "Revoke refresh tokens",
        "Refresh token …{end} · alice on Stream",
    ),
    ("session", "revoke_selected_sessions", "Revoke sessions", "Session of alice on Stream"),
    ("device", "revoke_selected_devices", "Revoke devices", "Alice&#x27;s phone"),
    ("app", "deauthorize_applications", "De-authorize apps", "Stream"),
]


def by(title: str) -> str:
    """Django's filter heading ("By <title>"), in the project's language."""
    return translated(" By %(filter_title)s ").strip() % {"filter_title": title}


@pytest.mark.parametrize(("kind", "action", "title", "heading"), PAGES, ids=[page[0] for page in PAGES])
def test_each_change_page_is_named_in_words_and_its_revoke_button_confirms_then_revokes(
    alice_on_stream, kind, action, title, heading
):
    obj = alice_on_stream[kind]
    client = staff_client(*VIEW_ALL, "revoke_tokens")
    page = client.get(change_url(obj)).content.decode()
    end = getattr(obj, "token_checksum", "")[-4:]
    assert f"<h2>{heading.format(end=end).replace('alice', login_name('alice'))}</h2>" in page
    assert "AccessToken #" not in page and "RefreshToken #" not in page

    target, fields = revoke_button(page)
    assert target == reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_changelist")
    assert fields.pop("csrfmiddlewaretoken")
    assert fields == {"action": action, "_selected_action": str(obj.pk), "index": "0"}
    assert RevocationEvent.objects.count() == 0

    # The button leads to the changelist action's own confirmation page, counting alice's session.
    confirmation = client.post(target, fields)
    assert confirmation.status_code == 200
    html = confirmation.content.decode()
    assert f"<h1>{title}</h1>" in html
    assert '<td id="count-access-tokens">1</td>' in html and '<td id="count-refresh-tokens">1</td>' in html
    assert AccessToken.objects.filter(pk=alice_on_stream["access"].pk).exists()

    done = client.post(
        target,
        {**fields, "post": "yes", "reason": "Phone stolen", "selection": signed_selection(confirmation)},
    )
    assert done.status_code == 302
    assert not AccessToken.objects.filter(pk=alice_on_stream["access"].pk).exists()
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked, event.reason) == (1, 1, "Phone stolen")


@pytest.mark.parametrize("kind", [page[0] for page in PAGES])
def test_staff_who_may_not_revoke_see_no_revoke_button(alice_on_stream, kind):
    page = staff_client(*VIEW_ALL).get(change_url(alice_on_stream[kind]))
    assert page.status_code == 200
    assert revoke_button(page.content.decode()) is None
    assert "Revoke…" not in page.content.decode()


def test_revoking_a_refresh_token_revokes_its_whole_family_and_says_so_in_the_audit_event(alice_on_stream):
    client = staff_client(*VIEW_ALL, "revoke_tokens")
    changelist = reverse(f"admin:{RefreshToken._meta.app_label}_{RefreshToken._meta.model_name}_changelist")
    fields = {"action": "revoke_selected_refresh_tokens", "_selected_action": alice_on_stream["refresh"].pk}
    page = client.post(changelist, fields)
    client.post(
        changelist, {**fields, "post": "yes", "reason": "Leaked", "selection": signed_selection(page)}
    )
    event = RevocationEvent.objects.get()
    assert asked(event.selection) == {
        "kind": "refresh_token_families",
        "token_families": [str(alice_on_stream["refresh"].token_family)],
    }
    assert RefreshToken.objects.get(pk=alice_on_stream["refresh"].pk).revoked is not None


def test_filters_are_titled_in_plain_words(alice_on_stream):
    client = staff_client(*VIEW_ALL)
    tokens = client.get(
        reverse(f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}_changelist")
    )
    html = tokens.content.decode()
    assert by("refresh token") in html and "has refresh token" not in html
    assert ">With one</a>" in html and ">Without</a>" in html
    about = {"about": str(alice_on_stream["session"].public_id)}  # the filter shows once a link sets it
    events = client.get(reverse("admin:token_admin_revocationevent_changelist"), about).content.decode()
    assert by("session or device") in events and by("about") not in events


def confirm_without_reason(client: Client, obj: Any) -> Any:
    target, fields = revoke_button(client.get(change_url(obj)).content.decode())
    page = client.post(target, fields)
    return client.post(target, {**fields, "post": "yes", "reason": "", "selection": signed_selection(page)})


def test_the_reason_is_marked_required_and_refused_empty_by_default(alice_on_stream):
    client = staff_client(*VIEW_ALL, "revoke_tokens")
    answer = confirm_without_reason(client, alice_on_stream["session"])
    html = answer.content.decode()
    assert answer.status_code == 200
    assert '<label for="id_reason" class="required">Reason (required):</label>' in html
    assert translated("This field is required.") in html
    assert RevocationEvent.objects.count() == 0


@override_settings(TOKEN_ADMIN={"REASON_REQUIRED": False})
def test_with_reasons_optional_the_admin_revokes_without_one(alice_on_stream):
    client = staff_client(*VIEW_ALL, "revoke_tokens")
    page = client.get(change_url(alice_on_stream["session"]))
    target, fields = revoke_button(page.content.decode())
    assert '<label for="id_reason">Reason (optional):</label>' in client.post(target, fields).content.decode()
    answer = confirm_without_reason(client, alice_on_stream["session"])
    assert answer.status_code == 302
    assert RevocationEvent.objects.get().reason == ""


def test_revoke_tokens_refuses_to_run_without_a_reason_by_default(alice_on_stream):
    with pytest.raises(CommandError, match=r'A reason is required: give --reason "..."'):
        call_command("revoke_tokens", "--user", login_name("alice"), stdout=StringIO())
    with pytest.raises(CommandError, match="A reason is required"):
        call_command("revoke_tokens", "--user", login_name("alice"), "--reason", "   ", stdout=StringIO())
    assert RevocationEvent.objects.count() == 0
    assert AccessToken.objects.filter(pk=alice_on_stream["access"].pk).exists()

    # A dry run records nothing, so it needs no reason.
    out = StringIO()
    call_command("revoke_tokens", "--user", login_name("alice"), "--dry-run", "--format", "json", stdout=out)
    assert out.getvalue() == '{"access_tokens": 1, "refresh_tokens": 1, "grants": 0, "dry_run": true}\n'


@override_settings(TOKEN_ADMIN={"REASON_REQUIRED": False})
def test_revoke_tokens_runs_without_a_reason_when_the_setting_says_optional(alice_on_stream):
    out = StringIO()
    call_command("revoke_tokens", "--user", login_name("alice"), "--format", "json", stdout=out)
    assert out.getvalue() == '{"access_tokens": 1, "refresh_tokens": 1, "grants": 0, "dry_run": false}\n'
    assert RevocationEvent.objects.get().reason == ""


def test_an_app_with_nothing_to_revoke_offers_no_confirm_button_and_says_so():
    idle = ApplicationFactory(name="Idle app")
    client = staff_client(*VIEW_ALL, "revoke_tokens")
    target, fields = revoke_button(client.get(change_url(idle)).content.decode())
    html = client.post(target, fields).content.decode()
    assert "there is nothing to revoke: none of the selected tokens is still live" in html
    assert "Yes, revoke" not in html and 'name="reason"' not in html
