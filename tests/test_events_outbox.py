"""The outbox never fails a revocation: receivers deleted behind its back, a cache server down.

``outbox.record()`` runs in the revocation's transaction; whatever happens to the receivers
or to the cache, the revocation commits and the active receivers that still exist get a row.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client, override_settings
from oauth2_provider.models import get_access_token_model

from tests.cache_down import UNREACHABLE_CACHES
from tests.concurrency import Background, dot_accepts, wait_until_blocked_on_a_lock
from tests.factories import ApplicationFactory, UserFactory, issue_session, login_name
from tests.helpers import basic_header, url
from token_admin.events.models import Delivery, Receiver
from token_admin.models import RevocationEvent, TokenSession
from token_admin.revocation import Actor, Selection, Surface, affected, revoke

AccessToken = get_access_token_model()

# The cache of another process (``LocMemCache`` keeps one store per location).
ANOTHER_PROCESS = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "another process"}
}


def receiver(name, **kwargs):
    return Receiver.objects.create(name=name, url=f"http://127.0.0.1:9/{name}", **kwargs)


def revoke_session(access_token):
    return revoke(Selection.tokens([access_token]), surface=Surface.ADMIN, actor=Actor.command("test"))


def rows_of(event):
    """The receivers ``event`` has outbox rows for, by name (None: a receiver that is gone)."""
    names = dict(Receiver.objects.values_list("pk", "name"))
    receiver_ids = Delivery.objects.filter(revocation_event=event).values_list("receiver_id", flat=True)
    return sorted(names.get(pk) for pk in receiver_ids)


# Committed for real (``transaction=True``): a row for a vanished receiver fails the commit.
@pytest.mark.django_db(transaction=True)
def test_a_receiver_deleted_by_another_process_is_skipped_and_the_revocation_commits(api_app):
    app = ApplicationFactory()
    gone, kept = receiver("gone", application=app), receiver("kept")
    alice = UserFactory()
    first, _ = issue_session(alice, app)
    revoke_session(first)  # this process has seen both receivers (and, once, cached them)
    assert Delivery.objects.count() == 2
    second, refresh = issue_session(alice, app)
    session = TokenSession.objects.get(token_family=refresh.token_family)

    # Another worker (or a shell) deletes one: it can only clear its own cache.
    with override_settings(CACHES=ANOTHER_PROCESS):
        gone.delete()

    response = Client(raise_request_exception=False).delete(
        url(f"/oauth/api/v1/users/{alice.pk}/tokens/{session.public_id}"),
        HTTP_AUTHORIZATION=basic_header(api_app),
    )

    assert response.status_code == 204, response.content
    assert not dot_accepts(second.raw_token)
    assert rows_of(RevocationEvent.objects.latest("pk")) == ["kept"]
    assert kept.deliveries.count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_receiver_deleted_without_signals_is_skipped():
    """A raw delete (SQL, another app's migration, a queryset the signals never see)."""
    app = ApplicationFactory()
    gone = receiver("gone", application=app)
    receiver("kept")
    access, _ = issue_session(UserFactory(), app)
    revoke_session(issue_session(UserFactory(), app)[0])
    Delivery.objects.filter(receiver=gone).delete()
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(Receiver._meta.db_table)
        cursor.execute(f"DELETE FROM {table} WHERE id = %s", [gone.pk])

    done = revoke_session(access)

    assert done.access_tokens == 1
    assert not dot_accepts(access.raw_token)
    assert rows_of(done.event) == ["kept"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor not in ("postgresql", "mysql"), reason="needs concurrent writers (PostgreSQL, MariaDB)"
)
@pytest.mark.parametrize("round_", range(3))
def test_a_receiver_being_deleted_in_another_transaction_is_waited_for_then_skipped(round_):
    app = ApplicationFactory()
    gone = receiver("gone", application=app)
    receiver("kept")
    access, _ = issue_session(UserFactory(), app)

    with transaction.atomic():
        gone.delete()  # not committed yet: the revocation's read of the receivers waits for it
        revocation = Background(lambda: revoke_session(access))
        # Watched from a connection of its own: this transaction would see a frozen snapshot
        # of the statistics (PostgreSQL's stats_fetch_consistency).
        Background(wait_until_blocked_on_a_lock).join()
    done = revocation.join()

    assert done.access_tokens == 1
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    assert rows_of(done.event) == ["kept"]


@pytest.mark.django_db
def test_a_revocation_commits_with_the_cache_server_down():
    app = ApplicationFactory()
    receiver("mine", application=app)
    receiver("everyone")
    receiver("paused", active=False)
    receiver("other app's", application=ApplicationFactory())
    alice = UserFactory(username="alice")
    access, _ = issue_session(alice, app)
    other, _ = issue_session(alice, app)

    with override_settings(CACHES=UNREACHABLE_CACHES):
        done = revoke_session(access)
        out = StringIO()
        call_command("revoke_tokens", "--user", login_name("alice"), "--reason", "cache down", stdout=out)

    assert done.access_tokens == 1
    assert rows_of(done.event) == ["everyone", "mine"]
    assert not AccessToken.objects.filter(pk__in=[access.pk, other.pk]).exists()
    assert rows_of(RevocationEvent.objects.latest("pk")) == ["everyone", "mine"]
    assert "1 access token" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("cap", [1, 20])
def test_the_receivers_of_the_apps_revoked_from_or_of_every_app_past_the_audits_cap(monkeypatch, cap):
    """Past the audit's cap of apps listed, every active receiver gets a row (the worker skips
    it if the revocation had nothing for it); below it, only those of the apps named."""
    monkeypatch.setattr(affected, "AFFECTED_MAX", cap)
    first, second, untouched = ApplicationFactory(), ApplicationFactory(), ApplicationFactory()
    for app in (first, second, untouched):
        receiver(app.name, application=app)
    receiver("everyone")
    alice = UserFactory()
    issue_session(alice, first), issue_session(alice, second)

    done = revoke(Selection.users([alice]), surface=Surface.ADMIN, actor=Actor.command("test"))

    names = [first.name, second.name, "everyone"] + ([untouched.name] if cap == 1 else [])
    assert rows_of(done.event) == sorted(names)
