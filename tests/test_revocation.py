"""The one revocation service: set-based, atomic, idempotent, audited and signalled."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    DeviceFactory,
    GrantFactory,
    RefreshTokenFactory,
    UserFactory,
    issue_session,
    rotate,
)
from tests.helpers import asked, json_id
from token_admin.models import RevocationEvent, TokenSession
from token_admin.revocation import Actor, Selection, Surface, revoke
from token_admin.signals import tokens_revoked

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

pytestmark = pytest.mark.django_db(transaction=False)

COMMAND = Actor.command("tests")


def live_refresh_tokens(**filters):
    return RefreshToken.objects.filter(revoked__isnull=True, **filters)


def revoke_tokens(ids, reason=""):
    return revoke(Selection.tokens(ids), surface=Surface.COMMAND, actor=COMMAND, reason=reason)


def test_revoking_an_access_token_revokes_its_refresh_token_and_keeps_the_record():
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    other_access, other_refresh = issue_session(user, app)

    result = revoke_tokens([access.pk])

    assert (result.access_tokens, result.refresh_tokens, result.grants) == (1, 1, 0)
    assert not AccessToken.objects.filter(pk=access.pk).exists()
    refresh.refresh_from_db()
    assert refresh.revoked is not None
    assert refresh.access_token_id is None
    # The other session is untouched.
    assert AccessToken.objects.filter(pk=other_access.pk).exists()
    assert live_refresh_tokens(pk=other_refresh.pk).exists()


def test_revoking_a_rotated_session_revokes_the_whole_family():
    user, app = UserFactory(), ApplicationFactory()
    first_access, first_refresh = issue_session(user, app)
    second_access, second_refresh = rotate(first_refresh)
    third_access, third_refresh = rotate(second_refresh)

    result = revoke_tokens([third_access.pk])

    assert (result.access_tokens, result.refresh_tokens) == (1, 1)
    assert not AccessToken.objects.filter(application=app).exists()
    assert not live_refresh_tokens(token_family=first_refresh.token_family).exists()


def test_an_access_token_without_refresh_token_is_deleted():
    token = AccessTokenFactory()
    result = revoke_tokens([token.pk])
    assert (result.access_tokens, result.refresh_tokens) == (1, 0)
    assert not AccessToken.objects.filter(pk=token.pk).exists()


def test_revoking_twice_changes_nothing_and_does_not_fail():
    access, refresh = issue_session(UserFactory(), ApplicationFactory())
    first = revoke_tokens([access.pk])
    refresh.refresh_from_db()
    revoked_at = refresh.revoked

    second = revoke_tokens([access.pk])

    assert (first.access_tokens, first.refresh_tokens) == (1, 1)
    assert (second.access_tokens, second.refresh_tokens, second.grants) == (0, 0, 0)
    refresh.refresh_from_db()
    assert refresh.revoked == revoked_at


def test_each_call_writes_one_audit_event():
    staff = UserFactory(is_staff=True)
    access, _ = issue_session(UserFactory(), ApplicationFactory())

    result = revoke(
        Selection.tokens([access.pk]), surface=Surface.ADMIN, actor=Actor.staff(staff), reason="lost phone"
    )

    event = RevocationEvent.objects.get()
    assert event == result.event
    assert event.surface == "admin"
    assert event.actor_type == "staff"
    assert event.actor_label == staff.get_username()
    assert event.actor_user == staff
    assert event.reason == "lost phone"
    assert asked(event.selection) == {"kind": "access_tokens", "access_token_ids": [access.pk]}
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked, event.grants_revoked) == (1, 1, 0)


def test_audit_events_never_hold_a_token_value():
    access, refresh = issue_session(UserFactory(), ApplicationFactory())
    result = revoke(Selection.tokens([access.pk]), surface=Surface.ADN, actor=Actor.token(access))
    stored = str(RevocationEvent.objects.values().get())
    assert access.raw_token not in stored
    assert refresh.raw_token not in stored
    assert access.token_checksum not in stored
    assert result.event.actor_label == f"{access.user.get_username()}'s token in {access.application.name}"


def test_audit_events_are_append_only():
    revoke_tokens([])
    event = RevocationEvent.objects.get()
    with pytest.raises(TypeError):
        event.save()
    with pytest.raises(TypeError):
        event.delete()
    with pytest.raises(TypeError):
        RevocationEvent.objects.all().delete()
    with pytest.raises(TypeError):
        RevocationEvent.objects.update(reason="changed")
    assert RevocationEvent.objects.count() == 1


def test_audit_event_outlives_the_users_and_apps_it_names():
    staff = UserFactory(is_staff=True)
    app = ApplicationFactory()
    access, _ = issue_session(UserFactory(), app)
    revoke(Selection.tokens([access.pk]), surface=Surface.ADMIN, actor=Actor.staff(staff))
    staff.delete()
    app.delete()
    event = RevocationEvent.objects.get()
    assert event.actor_user is None
    assert event.actor_label == staff.get_username()
    assert event.access_tokens_revoked == 1


def test_signal_is_sent_after_commit_with_the_counts(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, **kwargs):
        received.append((sender, kwargs))

    tokens_revoked.connect(receiver)
    try:
        access, _ = issue_session(UserFactory(), ApplicationFactory())
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = revoke_tokens([access.pk])
        assert received == []  # nothing before commit
        for callback in callbacks:
            callback()
    finally:
        tokens_revoked.disconnect(receiver)

    assert len(received) == 1
    sender, kwargs = received[0]
    assert sender is RevocationEvent
    assert kwargs["event"] == result.event
    assert (kwargs["access_tokens"], kwargs["refresh_tokens"], kwargs["grants"]) == (1, 1, 0)


@pytest.mark.parametrize("count", [10, 1000])
def test_query_count_is_the_same_for_10_and_1000_tokens(count):
    user, app = UserFactory(), ApplicationFactory()
    tokens = AccessTokenFactory.create_batch(count, user=user, application=app)
    for token in tokens:
        RefreshTokenFactory(access_token=token)

    with CaptureQueriesContext(connection) as context:
        result = revoke_tokens([token.pk for token in tokens])

    assert (result.access_tokens, result.refresh_tokens) == (count, count)
    assert len(context.captured_queries) == expected_statements(), context.captured_queries
    assert not AccessToken.objects.filter(application=app).exists()
    assert not live_refresh_tokens(application=app).exists()


def expected_statements() -> int:
    # 2 reads turning tokens into sessions; savepoint, 2 locking reads (the second finds
    # nothing new), 2 GROUP BY reads of whose tokens go (refresh tokens, access tokens: the
    # audit event's "affected"), revoke refresh tokens, delete access tokens, (PostgreSQL
    # and SQLite) the sweep of refresh tokens left pointing at nothing, the event, the
    # events outbox's INSERT ... SELECT (one, with or without receivers), release.
    return 13 if connection.features.can_defer_constraint_checks else 12


def test_query_count_is_fixed_for_every_kind_of_selection():
    user, app = UserFactory(), ApplicationFactory()
    for _ in range(5):
        issue_session(user, app)
    GrantFactory.create_batch(3, user=user, application=app)
    with CaptureQueriesContext(connection) as small:
        revoke(Selection.users([user]), surface=Surface.COMMAND, actor=COMMAND)
    for _ in range(50):
        issue_session(user, app)
    GrantFactory.create_batch(30, user=user, application=app)
    with CaptureQueriesContext(connection) as large:
        revoke(Selection.users([user]), surface=Surface.COMMAND, actor=COMMAND)
    assert len(small.captured_queries) == len(large.captured_queries)


def test_revoke_user_tokens_covers_every_app_and_no_other_user():
    user, other = UserFactory(), UserFactory()
    app1, app2 = ApplicationFactory(), ApplicationFactory()
    issue_session(user, app1)
    issue_session(user, app2)
    GrantFactory(user=user, application=app1)
    kept_access, kept_refresh = issue_session(other, app1)
    kept_grant = GrantFactory(user=other, application=app1)

    result = revoke(Selection.users([user]), surface=Surface.COMMAND, actor=COMMAND)

    assert (result.access_tokens, result.refresh_tokens, result.grants) == (2, 2, 1)
    assert not AccessToken.objects.filter(user=user).exists()
    assert not live_refresh_tokens(user=user).exists()
    assert not Grant.objects.filter(user=user).exists()
    assert AccessToken.objects.filter(pk=kept_access.pk).exists()
    assert live_refresh_tokens(pk=kept_refresh.pk).exists()
    assert Grant.objects.filter(pk=kept_grant.pk).exists()
    assert asked(result.event.selection) == {"kind": "users", "user_ids": [json_id(user.pk)]}


def test_deauthorize_touches_only_that_user_and_app():
    user, other = UserFactory(), UserFactory()
    app, other_app = ApplicationFactory(), ApplicationFactory()
    issue_session(user, app)
    issue_session(user, app, refresh=False)
    GrantFactory(user=user, application=app)
    keep = [issue_session(user, other_app)[0], issue_session(other, app)[0]]
    kept_grant = GrantFactory(user=user, application=other_app)

    result = revoke(Selection.user_apps([(user, app)]), surface=Surface.STACKEXCHANGE, actor=COMMAND)

    assert (result.access_tokens, result.refresh_tokens, result.grants) == (2, 1, 1)
    assert not AccessToken.objects.filter(user=user, application=app).exists()
    assert AccessToken.objects.filter(pk__in=[token.pk for token in keep]).count() == 2
    assert Grant.objects.filter(pk=kept_grant.pk).exists()
    assert asked(result.event.selection) == {
        "kind": "user_apps",
        "pairs": [[json_id(user.pk), app.client_id]],
    }


def test_deauthorize_can_take_app_tokens_in_the_same_call():
    user, app = UserFactory(), ApplicationFactory()
    issue_session(user, app)
    app_token = AccessTokenFactory(user=None, application=app, scope="")
    kept_app_token = AccessTokenFactory(user=None, application=app, scope="")

    result = revoke(
        Selection.user_apps([(user, app)]) | Selection.tokens([app_token.pk]),
        surface=Surface.STACKEXCHANGE,
        actor=COMMAND,
    )

    assert (result.access_tokens, result.refresh_tokens) == (2, 1)
    assert list(AccessToken.objects.filter(application=app)) == [kept_app_token]
    assert asked(result.event.selection) == {
        "kind": "user_apps",
        "pairs": [[json_id(user.pk), app.client_id]],
        "access_token_ids": [app_token.pk],
    }


def test_deauthorize_revokes_orphaned_refresh_tokens_of_the_pair():
    """A refresh token whose access token is gone is still revoked (it is the session)."""
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    AccessToken.objects.filter(pk=access.pk).delete()  # DOT leaves the refresh token live
    result = revoke(Selection.user_apps([(user, app)]), surface=Surface.COMMAND, actor=COMMAND)
    assert result.refresh_tokens == 1
    refresh.refresh_from_db()
    assert refresh.revoked is not None


def test_revoke_applications_includes_app_tokens_and_can_be_limited_to_one_user():
    user, other = UserFactory(), UserFactory()
    app = ApplicationFactory()
    issue_session(user, app)
    kept, _ = issue_session(other, app)
    app_token = AccessTokenFactory(user=None, application=app, scope="")

    result = revoke(Selection.applications([app], user=user), surface=Surface.ADMIN, actor=COMMAND)
    assert result.access_tokens == 1
    assert AccessToken.objects.filter(pk__in=[kept.pk, app_token.pk]).count() == 2

    result = revoke(Selection.applications([app]), surface=Surface.ADMIN, actor=COMMAND)
    assert result.access_tokens == 2
    assert not AccessToken.objects.filter(application=app).exists()


def test_revoke_sessions_by_public_id_and_only_for_their_user():
    user, other = UserFactory(), UserFactory()
    app = ApplicationFactory()
    first_access, first_refresh = issue_session(user, app)
    rotated_access, rotated_refresh = rotate(first_refresh)
    lone = AccessTokenFactory(user=user, application=app)
    other_access, _ = issue_session(other, app)

    family_session = TokenSession.objects.get(token_family=first_refresh.token_family)
    lone_session = TokenSession.objects.get(access_token_checksum=lone.token_checksum)
    other_session = TokenSession.objects.get(user=other)

    result = revoke(
        Selection.sessions(
            [family_session.public_id, lone_session.public_id, other_session.public_id], user=user
        ),
        surface=Surface.END_USER,
        actor=COMMAND,
    )

    assert (result.access_tokens, result.refresh_tokens) == (2, 1)
    assert not AccessToken.objects.filter(user=user).exists()
    assert AccessToken.objects.filter(pk=other_access.pk).exists()


def test_revoke_device_revokes_its_sessions_and_its_registered_client():
    user = UserFactory()
    dcr_app = ApplicationFactory(registration_source="dcr")
    device = DeviceFactory(user=user, application=dcr_app)
    issue_session(user, dcr_app)
    other_app = ApplicationFactory()
    bound_access, _ = issue_session(user, other_app)
    TokenSession.objects.filter(user=user, application=other_app).update(device=device)
    kept_access, _ = issue_session(user, other_app)

    result = revoke(Selection.devices([device]), surface=Surface.ADMIN, actor=COMMAND)

    assert (result.access_tokens, result.refresh_tokens) == (2, 2)
    assert not AccessToken.objects.filter(application=dcr_app).exists()
    assert not AccessToken.objects.filter(pk=bound_access.pk).exists()
    assert AccessToken.objects.filter(pk=kept_access.pk).exists()
    assert asked(result.event.selection) == {"kind": "devices", "device_ids": [str(device.public_id)]}


def test_registration_tokens_are_never_revoked_here():
    user, app = UserFactory(), ApplicationFactory()
    registration = AccessTokenFactory(user=user, application=app, scope="oauth2_provider:registration")
    result = revoke(Selection.users([user]), surface=Surface.COMMAND, actor=COMMAND)
    assert result.access_tokens == 0
    assert AccessToken.objects.filter(pk=registration.pk).exists()


def test_a_failure_rolls_back_everything(monkeypatch):
    access, refresh = issue_session(UserFactory(), ApplicationFactory())

    def broken_create(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(RevocationEvent.objects, "create", broken_create)
    with pytest.raises(RuntimeError):
        revoke_tokens([access.pk])
    assert AccessToken.objects.filter(pk=access.pk).exists()
    assert live_refresh_tokens(pk=refresh.pk).exists()


def test_a_queryset_selection_is_revoked_with_its_families():
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    rotate(refresh)
    kept, _ = issue_session(UserFactory(), app)
    current = AccessToken.objects.get(user=user)
    result = revoke(
        Selection.tokens(AccessToken.objects.filter(user=user), user_id=json_id(user.pk)),
        surface=Surface.ADMIN,
        actor=COMMAND,
    )
    assert (result.access_tokens, result.refresh_tokens) == (1, 1)
    assert list(AccessToken.objects.all()) == [kept]
    assert asked(result.event.selection) == {
        "kind": "access_tokens",
        "access_token_ids": [current.pk],
        "user_id": json_id(user.pk),
    }


def test_a_legacy_refresh_token_without_family_is_revoked_with_its_session():
    """Refresh tokens from before DOT kept families have ``token_family`` NULL."""
    user, app = UserFactory(), ApplicationFactory()
    access = AccessTokenFactory(user=user, application=app)
    legacy = RefreshTokenFactory(access_token=access, token_family=None)
    session = TokenSession.objects.get(access_token_checksum=access.token_checksum)

    result = revoke(
        Selection.sessions([session.public_id], user=user), surface=Surface.END_USER, actor=COMMAND
    )

    assert (result.access_tokens, result.refresh_tokens) == (1, 1)
    legacy.refresh_from_db()
    assert legacy.revoked is not None and legacy.access_token_id is None


def test_a_malformed_session_id_is_refused_before_anything_is_written():
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    with pytest.raises(ValueError):
        revoke(Selection.sessions(["not-a-uuid"]), surface=Surface.END_USER, actor=COMMAND)
    assert AccessToken.objects.filter(pk=access.pk).exists()
    assert not RevocationEvent.objects.exists()


@pytest.mark.parametrize(
    "revoke",
    [
        lambda user, app, device, session: revoke(
            Selection.users([user]), surface=Surface.COMMAND, actor=COMMAND, dry_run=True
        ),
        lambda user, app, device, session: revoke(
            Selection.user_apps([(user, app)]), surface=Surface.COMMAND, actor=COMMAND, dry_run=True
        ),
        lambda user, app, device, session: revoke(
            Selection.applications([app]), surface=Surface.COMMAND, actor=COMMAND, dry_run=True
        ),
        lambda user, app, device, session: revoke(
            Selection.devices([device]), surface=Surface.COMMAND, actor=COMMAND, dry_run=True
        ),
        lambda user, app, device, session: revoke(
            Selection.sessions([session.public_id]), surface=Surface.COMMAND, actor=COMMAND, dry_run=True
        ),
    ],
    ids=["user", "user_app", "app", "device", "session"],
)
def test_dry_run_counts_exactly_what_the_real_run_revokes_and_writes_nothing(revoke):
    user, app = UserFactory(), ApplicationFactory()
    first_access, first_refresh = issue_session(user, app)
    rotate(first_refresh)
    issue_session(user, app, refresh=False)
    GrantFactory.create_batch(2, user=user, application=app)
    dcr_app = ApplicationFactory(registration_source="dcr")
    device = DeviceFactory(user=user, application=dcr_app)
    issue_session(user, dcr_app)
    session = TokenSession.objects.get(token_family=first_refresh.token_family)
    before = (AccessToken.objects.count(), live_refresh_tokens().count(), Grant.objects.count())

    with CaptureQueriesContext(connection) as context:
        preview = revoke(user, app, device, session)

    assert preview.event is None
    # Access tokens named or owned, those bound to the refresh tokens, refresh tokens, grants.
    assert len([query for query in context.captured_queries if "COUNT" in query["sql"]]) <= 4
    assert (AccessToken.objects.count(), live_refresh_tokens().count(), Grant.objects.count()) == before
    assert not RevocationEvent.objects.exists()

    done = _real_run(preview, user, app, device, session)
    assert (done.access_tokens, done.refresh_tokens, done.grants, done.registration_tokens) == (
        preview.access_tokens,
        preview.refresh_tokens,
        preview.grants,
        preview.registration_tokens,
    )
    assert preview.access_tokens > 0
    # Whose tokens would go, as the real run's audit event records it.
    assert preview.selection == done.event.selection
    assert preview.selection["affected"]["sessions"] > 0


def test_a_dry_run_of_named_tokens_reports_what_the_real_run_affects():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    app, other = ApplicationFactory(name="Acc App"), ApplicationFactory(name="Notes")
    first_access, first_refresh = issue_session(alice, app)
    rotated_access, _ = rotate(first_refresh)
    lone, _ = issue_session(bob, other, refresh=False)
    issue_session(bob, app)  # not named
    selection = Selection.tokens([rotated_access.pk, lone.pk])

    preview = revoke(selection, surface=Surface.COMMAND, actor=COMMAND, dry_run=True)
    done = revoke(selection, surface=Surface.COMMAND, actor=COMMAND)

    assert (
        (preview.access_tokens, preview.refresh_tokens) == (done.access_tokens, done.refresh_tokens) == (2, 1)
    )
    assert (
        preview.selection["affected"]
        == done.event.selection["affected"]
        == {
            "sessions": 2,
            "users": sorted(
                [
                    {"id": json_id(alice.pk), "username": alice.get_username(), "sessions": 1},
                    {"id": json_id(bob.pk), "username": bob.get_username(), "sessions": 1},
                ],
                key=lambda entry: str(entry["id"]),
            ),
            "users_total": 2,
            "apps": sorted(
                [
                    {"id": app.pk, "name": "Acc App", "access_tokens": 1, "refresh_tokens": 1, "sessions": 1},
                    {"id": other.pk, "name": "Notes", "access_tokens": 1, "refresh_tokens": 0, "sessions": 1},
                ],
                key=lambda entry: str(entry["id"]),
            ),
            "apps_total": 2,
        }
    )


def _real_run(preview, user, app, device, session):
    kind = preview.selection["kind"]
    common = {"surface": Surface.COMMAND, "actor": COMMAND}
    if kind == "users":
        return revoke(Selection.users([user]), **common)
    if kind == "user_apps":
        return revoke(Selection.user_apps([(user, app)]), **common)
    if kind == "applications":
        return revoke(Selection.applications([app]), **common)
    if kind == "devices":
        return revoke(Selection.devices([device]), **common)
    return revoke(Selection.sessions([session.public_id]), **common)
