"""The admin of event receivers and of the delivery log."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import ApplicationFactory, UserFactory, issue_session
from token_admin.events.models import Delivery, Receiver
from token_admin.models import RevocationEvent
from token_admin.revocation import Actor, Selection, Surface, revoke

RECEIVERS = reverse("admin:token_admin_receiver_changelist")
DELIVERIES = reverse("admin:token_admin_delivery_changelist")


@pytest.fixture
def staff(db, client):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_receiver", "view_delivery"], content_type__app_label="token_admin"
        )
    )
    client.force_login(user)
    return client


def test_create_receiver_makes_its_secret_and_rotation_replaces_it(admin_client):
    response = admin_client.post(
        reverse("admin:token_admin_receiver_add"),
        {
            "name": "Resource server",
            "format": "webhook",
            "url": "https://rs.example/hooks",
            "algorithm": "ES256",
            "active": "on",
        },
    )
    assert response.status_code == 302
    receiver = Receiver.objects.get()
    assert receiver.secret.startswith("whsec_")
    page = admin_client.get(reverse("admin:token_admin_receiver_change", args=[receiver.pk]))
    assert receiver.secret in page.content.decode()

    old = receiver.secret
    response = admin_client.post(RECEIVERS, {"action": "rotate_secret", "_selected_action": [receiver.pk]})
    assert response.status_code == 302
    receiver.refresh_from_db()
    assert receiver.secret != old and receiver.previous_secret == old


def test_jwt_receiver_shows_public_key_only(admin_client):
    receiver = Receiver.objects.create(name="caep", url="https://rs.example/caep", format="caep")
    page = admin_client.get(reverse("admin:token_admin_receiver_change", args=[receiver.pk])).content.decode()
    assert "&quot;kty&quot;: &quot;EC&quot;" in page and receiver.key_id in page
    assert "PRIVATE KEY" not in page


def test_backchannel_logout_needs_an_app(admin_client):
    response = admin_client.post(
        reverse("admin:token_admin_receiver_add"),
        {
            "name": "RP",
            "format": "backchannel_logout",
            "url": "https://rp.example/logout",
            "algorithm": "ES256",
        },
    )
    assert response.status_code == 200
    assert "Back-channel logout is sent to one app" in response.content.decode()
    assert not Receiver.objects.exists()


def test_pause_stops_new_events(admin_client):
    receiver = Receiver.objects.create(name="rs", url="http://127.0.0.1:9/")
    admin_client.post(RECEIVERS, {"action": "pause", "_selected_action": [receiver.pk]})
    revoke(
        Selection.users([issue_session(UserFactory(), ApplicationFactory())[0].user]),
        surface=Surface.ADMIN,
        actor=Actor.command("t"),
    )
    assert not Delivery.objects.exists()


def test_delivery_log_and_retry_now(admin_client):
    Receiver.objects.create(name="rs", url="http://127.0.0.1:9/")
    revoke(
        Selection.users([issue_session(UserFactory(), ApplicationFactory())[0].user]),
        surface=Surface.ADMIN,
        actor=Actor.command("t"),
    )
    Delivery.objects.update(status="failed", last_error="ConnectionError: refused")
    page = admin_client.get(DELIVERIES + "?status=failed").content.decode()
    assert "Failed (deadline passed)" in page and "ConnectionError: refused" in page
    response = admin_client.post(
        DELIVERIES,
        {"action": "retry_now", "_selected_action": list(Delivery.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 302
    assert Delivery.objects.get().status == "pending"


def test_viewer_sees_no_secret_and_cannot_retry(staff):
    receiver = Receiver.objects.create(name="rs", url="http://127.0.0.1:9/")
    page = staff.get(reverse("admin:token_admin_receiver_change", args=[receiver.pk])).content.decode()
    assert receiver.secret not in page
    assert "retry_now" not in staff.get(DELIVERIES).content.decode()


@pytest.mark.parametrize(
    "url",
    [
        RECEIVERS + "?secret__startswith=whsec_",
        RECEIVERS + "?previous_secret=x",
        DELIVERIES + "?context__lone__contains=ab",
        DELIVERIES + "?receiver__secret__gt=a",
    ],
)
def test_secret_lookups_refused(admin_client, url):
    assert admin_client.get(url).status_code == 400


def receiver_with_deliveries():
    receiver = Receiver.objects.create(name="rs", url="https://rs.example/hooks")
    revoke(
        Selection.users([issue_session(UserFactory(), ApplicationFactory())[0].user]),
        surface=Surface.ADMIN,
        actor=Actor.command("t"),
    )
    assert Delivery.objects.filter(receiver=receiver).count() == 1
    return receiver


def test_a_superuser_deletes_a_receiver_and_its_deliveries_go_with_it(admin_client):
    receiver = receiver_with_deliveries()
    delete = reverse("admin:token_admin_receiver_delete", args=[receiver.pk])
    page = admin_client.get(delete)
    assert page.status_code == 200
    # The confirmation form, not the list of what the user may not delete (any language).
    assert 'name="post" value="yes"' in page.content.decode()
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not Receiver.objects.exists() and not Delivery.objects.exists()
    # The audit trail is the revocation's, which stays.
    assert RevocationEvent.objects.count() == 1


def test_staff_who_may_delete_receivers_delete_them_in_bulk(db, client):
    user = UserFactory(username="editor", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_receiver", "delete_receiver"], content_type__app_label="token_admin"
        )
    )
    client.force_login(user)
    receiver = receiver_with_deliveries()
    response = client.post(
        RECEIVERS, {"action": "delete_selected", "_selected_action": [receiver.pk], "post": "yes"}
    )
    assert response.status_code == 302
    assert not Receiver.objects.exists() and not Delivery.objects.exists()


def test_view_only_staff_cannot_delete_a_receiver(staff):
    receiver = receiver_with_deliveries()
    delete = reverse("admin:token_admin_receiver_delete", args=[receiver.pk])
    assert staff.get(delete).status_code == 403
    assert staff.post(delete, {"post": "yes"}).status_code == 403
    assert Receiver.objects.count() == 1 and Delivery.objects.count() == 1
