"""Red-team findings: one reproduction each (each failed before its fix).

Admin pages as staff with view permissions only (plus ``revoke_tokens`` where said), the staff
and "me" APIs, the leaked-token report and DCR endpoints.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import (
    get_access_token_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from tests.factories import ApplicationFactory, GrantFactory, UserFactory, issue_session
from tests.helpers import signed_selection, url
from token_admin.events.models import Receiver
from token_admin.models import NotBefore, RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
IDToken = get_id_token_model()
Grant = get_grant_model()


def admin_view(model: Any, view: str) -> str:
    """The admin's URL name of ``model``'s ``view``, whichever app the (swappable) model is in."""
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"


def perm(action: str, model: Any) -> str:
    return f"{action}_{model._meta.model_name}"


def staff_with(*codenames: str) -> Any:
    user = UserFactory(is_staff=True)
    for codename in codenames:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def viewer_of_everything(*extra: str) -> Any:
    """View permission on every registered model (and ``extra``), nothing else."""
    user = UserFactory(is_staff=True)
    for model in admin.site._registry:
        opts = model._meta
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=opts.app_label, codename=f"view_{opts.model_name}")
        )
    for codename in extra:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def session_with_id_token() -> tuple[Any, Any, Any, Any]:
    """A user's session whose access token carries an ID token: (user, access, refresh, ID token)."""
    alice = UserFactory()
    access, refresh = issue_session(alice, ApplicationFactory())
    id_token = IDToken.objects.create(
        user=alice, application=access.application, expires=timezone.now() + timedelta(hours=1)
    )
    AccessToken.objects.filter(pk=access.pk).update(id_token=id_token)
    return alice, access, refresh, id_token


# --- 1. Deleting an ID token (or a code) in the admin revoked without audit or permission ------


def test_deleting_an_id_token_in_the_admin_cannot_kill_its_access_token_unaudited(client):
    alice, access, refresh, id_token = session_with_id_token()
    # No revoke_tokens: only the delete permissions Django asks for the cascade.
    client.force_login(
        staff_with(perm("view", IDToken), perm("delete", IDToken), perm("delete", AccessToken))
    )
    url = reverse(admin_view(IDToken, "delete"), args=[id_token.pk])

    response = client.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert AccessToken.objects.filter(pk=access.pk).exists()
    assert RefreshToken.objects.get(pk=refresh.pk).access_token_id == access.pk
    assert not RevocationEvent.objects.exists()


def test_an_authorization_code_cannot_be_deleted_unaudited_in_the_admin(client):
    grant = GrantFactory()
    client.force_login(staff_with(perm("view", Grant), perm("delete", Grant)))

    response = client.post(reverse(admin_view(Grant, "delete"), args=[grant.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert type(grant).objects.filter(pk=grant.pk).exists()


def test_deleting_a_user_still_cascades_to_their_id_tokens(client):
    alice, _, _, id_token = session_with_id_token()
    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)

    response = client.post(reverse(admin_view(alice, "delete"), args=[alice.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not IDToken.objects.filter(pk=id_token.pk).exists()
    assert RevocationEvent.objects.get().actor_user_id == staff.pk


# --- 2. The watermark lift page answered a Unicode digit with a 500 -----------------------------


def test_the_lift_page_answers_an_id_that_is_no_number_with_a_404(client):
    NotBefore.objects.all().delete()
    client.force_login(viewer_of_everything("revoke_tokens"))
    client.raise_request_exception = False

    response = client.get(url("/admin/token_admin/notbefore/²/lift/"))  # "²".isdigit(), int("²") fails

    assert response.status_code == 404


# --- 3. URL lookups on any local field: 500s on every changelist, for view-only staff ----------


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (AccessToken, {"expires__regex": "("}),  # an invalid pattern (also a ReDoS on SQLite)
        (AccessToken, {"scope__iregex": "("}),
        (AccessToken, {"resource": "x"}),  # DOT's JSON field validates at query time
        (AccessToken, {"resource__contains": "x"}),
        (RevocationEvent, {"selection__contains": "x"}),
        (AccessToken, {"expires__year": "0"}),
        (AccessToken, {"expires__year__gt": "10000"}),
        (AccessToken, {"expires__iso_year": "-1"}),
        (AccessToken, {"expires__year__in": "2020,99999999999999999999"}),
        (AccessToken, {"id__range": "9999999999"}),  # a range of the string's characters
        (AccessToken, {"refresh_token": "9" * 25}),  # a reverse relation's id out of range
        (RefreshToken, {"refreshed_access_token__in": "1," + "9" * 25}),
    ],
)
def test_a_crafted_lookup_on_a_changelist_is_refused_not_a_500(client, model, params):
    issue_session(UserFactory(), ApplicationFactory())
    client.force_login(viewer_of_everything())
    client.raise_request_exception = False
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")

    response = client.get(url, params)

    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 302:
        assert response["Location"] == f"{url}?e=1"


def test_date_lookups_in_range_still_filter(client):
    issue_session(UserFactory(), ApplicationFactory())
    client.force_login(viewer_of_everything())
    url = reverse(admin_view(AccessToken, "changelist"))
    year = str(timezone.now().year)

    assert len(client.get(url, {"expires__year": year}).context["cl"].result_list) == 1
    assert len(client.get(url, {"expires__year__in": f"{year},2001"}).context["cl"].result_list) == 1
    assert len(client.get(url, {"refresh_token__isnull": "False"}).context["cl"].result_list) == 1


# --- 4. The autocomplete view searched with a NUL (PostgreSQL's 500) -----------------------


def test_the_autocomplete_never_searches_with_a_nul(client):
    UserFactory(username="alice")
    client.force_login(viewer_of_everything())
    params = {
        "app_label": AccessToken._meta.app_label,
        "model_name": AccessToken._meta.model_name,
        "field_name": "user",
        "term": "a\x00",
    }

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:autocomplete"), params)

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert not any("\x00" in query["sql"] for query in queries.captured_queries)


# --- 5. A webhook's signing secret shown to view-only staff by a concurrent request ------------


def test_a_concurrent_change_page_never_shows_the_secret_to_a_view_only_user(client, rf):
    receiver = Receiver.objects.create(name="rx", url="https://rx.example.com/")
    viewer = viewer_of_everything()
    owner = UserFactory(is_staff=True, is_superuser=True)
    model_admin = admin.site._registry[Receiver]
    render = type(model_admin).render_change_form

    def render_with_a_concurrent_request(self, request, context, *args, **kwargs):
        # Another staff member, who may change receivers, opens the same page meanwhile.
        other = rf.get("/")
        other.user = owner
        thread = threading.Thread(target=self.get_form, args=(other, receiver))
        thread.start()
        thread.join()
        return render(self, request, context, *args, **kwargs)

    client.force_login(viewer)
    url = reverse("admin:token_admin_receiver_change", args=[receiver.pk])
    try:
        type(model_admin).render_change_form = render_with_a_concurrent_request
        response = client.get(url)
    finally:
        type(model_admin).render_change_form = render

    assert response.status_code == 200
    assert receiver.secret.encode() not in response.content
    assert b"whsec_\xe2\x80\xa6" in response.content  # whsec_…


# --- 6. A deeply nested JSON body: a 500 (Django's HTML page) where JSON is due ----------------

DEEP = "[" * 100_000


def test_a_leak_report_nested_too_deep_is_a_400_json(client):
    client.raise_request_exception = False

    response = client.post(url("/credentials/revoke"), DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_dcr_refuses_an_anonymous_body_nested_too_deep_before_reading_it(client):
    client.raise_request_exception = False

    response = client.post(url("/o/register/"), DEEP, content_type="application/json")

    assert response.status_code == 401  # DOT's answer: authentication first


@pytest.mark.parametrize("path", ["revocations", "me/sign-out"])
def test_the_manage_apis_answer_a_body_nested_too_deep_with_a_400_json(client, path):
    client.force_login(viewer_of_everything("revoke_tokens"))
    client.raise_request_exception = False

    response = client.post(
        url(f"/api/token-admin/{path}"), DEEP, content_type="application/json", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


# --- 7. A query string with bad percent-encoding: Django's HTML 400 on the JSON APIs ----------


@pytest.mark.parametrize("signed_in", [False, True])
@pytest.mark.parametrize("path", ["sessions", "me/sessions"])
def test_bad_percent_encoding_in_the_query_is_a_400_json(client, path, signed_in):
    if signed_in:
        client.force_login(viewer_of_everything())

    response = client.get(
        url(f"/api/token-admin/{path}"), QUERY_STRING="x=%ZZ", HTTP_ACCEPT="application/json"
    )

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "The query string is not valid percent-encoding."}


# --- 8. The admin's confirmation page carried the full checksum of each lone access token -------


@pytest.mark.parametrize(
    ("changelist", "action", "selected"),
    [
        (admin_view(AccessToken, "changelist"), "revoke_selected_tokens", "access token"),
        ("admin:token_admin_tokensession_changelist", "revoke_selected_sessions", "session"),
    ],
)
def test_the_confirmation_page_never_carries_a_full_token_checksum(client, changelist, action, selected):
    """Staff with view + revoke_tokens read the full checksum of every selected lone access
    token from the confirmation page's hidden ``selection`` (``signing.dumps`` is not
    encryption). It names the lone session by id, and the confirming post still revokes it."""
    access, _ = issue_session(UserFactory(), ApplicationFactory(), refresh=False)
    session = TokenSession.objects.get(access_token_checksum=access.token_checksum)
    client.force_login(viewer_of_everything("revoke_tokens"))
    url = reverse(changelist)
    chosen = {"action": action, "_selected_action": [access.pk if selected == "access token" else session.pk]}

    page = client.post(url, chosen)

    assert page.status_code == 200
    payload = _unsigned_payloads(page.content.decode())
    assert access.token_checksum not in payload
    assert str(session.public_id) in payload
    confirmed = client.post(
        url, {**chosen, "post": "yes", "reason": "lost", "selection": signed_selection(page)}
    )
    assert (confirmed.status_code, confirmed["Location"]) == (302, url)
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked, event.reason) == (1, 0, "lost")


def _unsigned_payloads(html: str) -> str:
    """Every signed value of the page, decoded without its key (as anyone can)."""
    import base64
    import re
    import zlib

    decoded = []
    for value in re.findall(r'value="(\.?[A-Za-z0-9_-]{20,}):[^"]*"', html):
        compressed = value.startswith(".")
        raw = base64.urlsafe_b64decode(value.lstrip(".") + "=" * (-len(value.lstrip(".")) % 4))
        decoded.append((zlib.decompress(raw) if compressed else raw).decode())
    return "\n".join(decoded)
