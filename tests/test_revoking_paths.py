"""Every way a token can die goes through the revocation service: audited and signalled.

DOT's own revoking views (mounted through ``token_admin.oauth_urls``), the deletion of a
user or an app, the admin's Delete (gone where it revoked nothing), DCR registration tokens
of devices, and the rate limits that must never stop a revocation.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Permission
from django.db import OperationalError, transaction
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model
from oauth2_provider.views import TokenView as DotTokenView

from tests.concurrency import can_mint, dot_accepts, refresh_request
from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    DeviceFactory,
    UserFactory,
    issue_session,
)
from tests.helpers import bearer, url
from token_admin.models import Device, RevocationEvent, TokenSession
from token_admin.revocation import Actor, Selection, Surface, revoke
from token_admin.revocation import service as revocation
from token_admin.signals import tokens_revoked

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()
REGISTRATION = "oauth2_provider:registration"

pytestmark = pytest.mark.django_db


def live(refresh) -> bool:
    return RefreshToken.objects.filter(pk=refresh.pk, revoked__isnull=True).exists()


# --- DOT's RFC 7009 endpoint ------------------------------------------------------------------


def rfc7009(app, token: str, hint: str = "") -> object:
    data = {"token": token, "client_id": app.client_id, "client_secret": app.raw_secret}
    if hint:
        data["token_type_hint"] = hint
    return Client().post(url("/o/revoke_token/"), data)


@pytest.mark.parametrize("which", ["access_token", "refresh_token", "no_hint"])
def test_rfc7009_revokes_the_whole_session_audited(which):
    user, app = UserFactory(), ApplicationFactory()
    first, first_refresh = issue_session(user, app)
    minted = refresh_request(app, first_refresh.raw_token).json()
    kept, kept_refresh = issue_session(user, app)
    token = minted["refresh_token"] if which == "refresh_token" else minted["access_token"]

    response = rfc7009(app, token, "" if which == "no_hint" else which)

    assert (response.status_code, response.content) == (200, b"")
    assert not dot_accepts(minted["access_token"]) and not can_mint(app, minted["refresh_token"])
    assert dot_accepts(kept.raw_token) and live(kept_refresh)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_application_id) == ("oauth", "oauth_client", app.pk)
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


def test_rfc7009_never_revokes_another_clients_token_nor_writes_an_event():
    user, app, other_app = UserFactory(), ApplicationFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)

    for token in (access.raw_token, refresh.raw_token, "not-a-token"):
        assert rfc7009(other_app, token).status_code == 200

    assert dot_accepts(access.raw_token) and live(refresh)
    assert not RevocationEvent.objects.exists()


def test_rfc7009_with_bad_client_credentials_is_refused_in_oauth_format():
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    response = Client().post(
        url("/o/revoke_token/"), {"token": access.raw_token, "client_id": "nobody", "client_secret": "x"}
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}
    assert dot_accepts(access.raw_token)


# --- DOT's authorized-token delete page ---------------------------------------------------------


def test_the_authorized_token_delete_page_revokes_the_session_with_the_user_as_actor():
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    browser = Client()
    browser.force_login(user)

    response = browser.post(reverse("oauth2_provider:authorized-token-delete", args=[access.pk]))

    assert response.status_code == 302
    assert not dot_accepts(access.raw_token) and not live(refresh)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_user_id) == ("oauth", "user", user.pk)
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


def test_the_authorized_token_delete_page_never_reaches_another_users_token():
    owner, intruder = UserFactory(), UserFactory()
    access, refresh = issue_session(owner, ApplicationFactory())
    browser = Client()
    browser.force_login(intruder)

    response = browser.post(reverse("oauth2_provider:authorized-token-delete", args=[access.pk]))

    assert response.status_code == 404
    assert dot_accepts(access.raw_token) and live(refresh)
    assert not RevocationEvent.objects.exists()


# --- DOT's token endpoint: a pair revoked before DOT answers ----------------------------------


def test_a_pair_revoked_between_minting_and_answering_gets_invalid_grant_not_500(monkeypatch):
    user, app = UserFactory(), ApplicationFactory()
    _, refresh = issue_session(user, app)
    original = DotTokenView.create_token_response

    def mint_then_revoke(self, request):
        answer = original(self, request)  # committed
        revoke(Selection.users([user]), surface=Surface.COMMAND, actor=Actor.command("tests"))
        return answer

    monkeypatch.setattr(DotTokenView, "create_token_response", mint_then_revoke)

    response = refresh_request(app, refresh.raw_token)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": "The grant was revoked."}
    assert response["Cache-Control"] == "no-store"


# --- deleting a user or an app ------------------------------------------------------------------


def test_deleting_a_user_anywhere_revokes_first_audited_and_signalled(django_capture_on_commit_callbacks):
    user, app = UserFactory(username="alice"), ApplicationFactory()
    issue_session(user, app)
    issue_session(user, app, refresh=False)
    received = []
    tokens_revoked.connect(lambda sender, **kwargs: received.append(kwargs), weak=False, dispatch_uid="t1")
    try:
        with django_capture_on_commit_callbacks(execute=True):  # the signal goes out on commit
            user.delete()
    finally:
        tokens_revoked.disconnect(dispatch_uid="t1")

    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_label) == (
        "deletion",
        "system",
        f"deletion of user {user.get_username()}",
    )
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (2, 1)
    assert [(kwargs["access_tokens"], kwargs["refresh_tokens"]) for kwargs in received] == [(2, 1)]
    assert not AccessToken.objects.exists()


def test_deleting_an_app_anywhere_revokes_first_audited():
    app = ApplicationFactory(name="Stream")
    issue_session(UserFactory(), app)
    AccessTokenFactory(user=None, application=app)

    app.delete()

    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type) == ("deletion", "system")
    assert event.actor_label.startswith("deletion of app Stream")
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (2, 1)


def test_deleting_a_user_or_app_with_no_tokens_writes_no_event():
    UserFactory().delete()
    ApplicationFactory().delete()
    assert not RevocationEvent.objects.exists()


def superuser_client() -> tuple[Client, object]:
    staff = UserFactory(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    return client, staff


def test_deleting_an_app_in_the_admin_revokes_with_the_staff_user_as_actor():
    client, staff = superuser_client()
    app = ApplicationFactory()
    issue_session(UserFactory(), app)
    url = reverse(f"admin:{Application._meta.app_label}_{Application._meta.model_name}_delete", args=[app.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Application.objects.filter(pk=app.pk).exists()
    event = RevocationEvent.objects.get()  # one event: the receiver found nothing left
    assert (event.surface, event.actor_type, event.actor_user_id) == ("admin", "staff", staff.pk)
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


def test_deleting_users_in_the_admin_revokes_with_the_staff_user_as_actor():
    client, staff = superuser_client()
    alice, bob = UserFactory(), UserFactory()
    issue_session(alice, ApplicationFactory())
    issue_session(bob, ApplicationFactory())
    changelist = reverse(f"admin:{alice._meta.app_label}_{alice._meta.model_name}_changelist")

    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"}
    )

    assert response.status_code == 302
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_user_id, event.access_tokens_revoked) == ("admin", staff.pk, 2)


# --- the admin's Delete on sessions and devices is gone ---------------------------------------


@pytest.mark.parametrize("model", ["tokensession", "device"])
def test_sessions_and_devices_cannot_be_deleted_in_the_admin(model):
    client, _ = superuser_client()
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    obj = TokenSession.objects.get() if model == "tokensession" else DeviceFactory(user=user)

    assert client.get(reverse(f"admin:token_admin_{model}_delete", args=[obj.pk])).status_code == 403
    changelist = client.get(reverse(f"admin:token_admin_{model}_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    forged = client.post(
        reverse(f"admin:token_admin_{model}_changelist"),
        {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
    )
    assert forged.status_code in (200, 302)
    assert type(obj).objects.filter(pk=obj.pk).exists()
    assert dot_accepts(access.raw_token) and live(refresh)


# --- DCR registration tokens -------------------------------------------------------------------


def dcr_device(user):
    client = ApplicationFactory(registration_source="dcr", user=user)
    device = Device.objects.get(application=client)  # recorded when DOT saved the DCR client
    registration = AccessTokenFactory(user=user, application=client, scope=REGISTRATION)
    return device, registration


def test_revoking_a_device_revokes_its_clients_registration_token():
    user = UserFactory()
    device, registration = dcr_device(user)
    _, other_registration = dcr_device(user)
    access, _ = issue_session(user, device.application)

    preview = revoke(
        Selection.devices([device]), surface=Surface.COMMAND, actor=Actor.command("t"), dry_run=True
    )
    result = revoke(Selection.devices([device]), surface=Surface.COMMAND, actor=Actor.command("t"))

    assert (preview.access_tokens, preview.registration_tokens) == (1, 1)
    assert (result.access_tokens, result.refresh_tokens, result.registration_tokens) == (1, 1, 1)
    assert not AccessToken.objects.filter(pk__in=[access.pk, registration.pk]).exists()
    assert AccessToken.objects.filter(pk=other_registration.pk).exists()
    assert result.event.selection["registration_tokens_revoked"] == 1
    assert result.event.access_tokens_revoked == 1  # registration tokens are never counted as sessions


def test_revoking_a_users_tokens_revokes_the_registration_tokens_of_their_devices_only():
    user, other = UserFactory(), UserFactory()
    _, registration = dcr_device(user)
    _, others = dcr_device(other)
    # A registration-scope token of an app that is no device of the user: not theirs to lose here.
    unrelated = AccessTokenFactory(user=user, application=ApplicationFactory(), scope=REGISTRATION)

    result = revoke(Selection.users([user]), surface=Surface.COMMAND, actor=Actor.command("t"))

    assert (result.access_tokens, result.registration_tokens) == (0, 1)
    assert not AccessToken.objects.filter(pk=registration.pk).exists()
    assert AccessToken.objects.filter(pk__in=[others.pk, unrelated.pk]).count() == 2


def test_naming_a_registration_token_revokes_nothing():
    user = UserFactory()
    _, registration = dcr_device(user)
    result = revoke(Selection.tokens([registration.pk]), surface=Surface.COMMAND, actor=Actor.command("t"))
    assert (result.access_tokens, result.registration_tokens) == (0, 0)
    assert AccessToken.objects.filter(pk=registration.pk).exists()


# --- limits never stop a revocation -------------------------------------------------------------


def test_app_net_delete_is_counted_but_never_refused_by_the_rate_limit(client, settings):
    settings.TOKEN_ADMIN = {"ADN_RATE_LIMIT": 1}
    access, refresh = issue_session(UserFactory(), ApplicationFactory())
    auth = bearer(access)
    assert client.get(url("/stream/0/token"), **auth).status_code == 200
    assert client.get(url("/stream/0/token"), **auth).status_code == 429

    response = client.delete(url("/stream/0/token"), **auth)

    assert response.status_code == 200
    assert response["X-RateLimit-Remaining"] == "0"
    assert json.loads(response.content)["meta"] == {"code": 200}
    assert not dot_accepts(access.raw_token) and not live(refresh)


# --- deadlocks ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # retried only outside the caller's transaction
def test_a_revocation_rolled_back_by_a_deadlock_runs_again(monkeypatch):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    original = revocation._revoke_once
    calls = []

    def deadlock_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
        return original(*args, **kwargs)

    monkeypatch.setattr(revocation, "_revoke_once", deadlock_once)

    result = revoke(Selection.tokens([access.pk]), surface=Surface.COMMAND, actor=Actor.command("t"))

    assert len(calls) == 2 and result.access_tokens == 1
    assert RevocationEvent.objects.count() == 1


def test_a_deadlock_inside_the_callers_transaction_is_not_retried(monkeypatch):
    def deadlock(*args, **kwargs):
        raise OperationalError(1213, "Deadlock found")

    monkeypatch.setattr(revocation, "_revoke_once", deadlock)
    with pytest.raises(OperationalError), transaction.atomic():
        revoke(Selection.users([UserFactory()]), surface=Surface.COMMAND, actor=Actor.command("t"))


def test_view_only_staff_cannot_revoke_by_deleting_an_app():
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.set(
        Permission.objects.filter(codename__in=[f"view_{Application._meta.model_name}"])
    )
    client = Client()
    client.force_login(viewer)
    app = ApplicationFactory()
    access, _ = issue_session(UserFactory(), app)
    url = reverse(f"admin:{Application._meta.app_label}_{Application._meta.model_name}_delete", args=[app.pk])

    assert client.post(url, {"post": "yes"}).status_code == 403
    assert dot_accepts(access.raw_token)
    assert not RevocationEvent.objects.exists()


def test_refresh_tokens_cannot_be_deleted_in_the_admin():
    client, _ = superuser_client()
    _, refresh = issue_session(UserFactory(), ApplicationFactory())
    opts = RefreshToken._meta
    assert (
        client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_delete", args=[refresh.pk])).status_code
        == 403
    )
    assert live(refresh)
