"""Races on PostgreSQL and MariaDB: real concurrent transactions against the service and DOT.

Threads each get their own database connection (``tests.concurrency``), so every revoke and
every refresh below is its own transaction racing the others, as in a multi-process
deployment. SQLite serialises every writer and has no window to open.

Two kinds of test:

* free-running: threads released together by a barrier, several rounds; whatever the
  interleaving, the end state must be consistent;
* forced interleavings: events (and a bounded poll of the database's lock waiters) put the refresh
  and the de-authorization in one exact order, so a window that the free-running rounds hit
  only sometimes is hit every time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from tests.concurrency import (
    THREAD_TIMEOUT,
    Background,
    refresh_request,
    run_together,
    wait_until_blocked_on_a_lock,
)
from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    GrantFactory,
    UserFactory,
    issue_session,
    rotate,
)
from tests.helpers import bearer, json_id, url
from token_admin.models import RevocationEvent, TokenSession
from token_admin.oauth2_validators import TokenAdminOAuth2Validator
from token_admin.revocation import Actor, Selection, Surface, revoke
from token_admin.revocation import writes as revocation

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor not in ("postgresql", "mysql"),
        reason="needs concurrent writers (PostgreSQL, MariaDB)",
    ),
]

ACTOR = Actor.command("race tests")


# Two bugs these tests found, now fixed: a revocation's UPDATE kept the snapshot it took
# before waiting on a refresh in progress, so it missed the pair that refresh minted (fixed by
# a locking read first, ``revocation.writes._lock_live_refresh_tokens``); and DOT mints from a
# refresh token it validated before the revocation (fixed by a check under the lock in
# ``TokenAdminOAuth2Validator._save_bearer_token``). A third: a sign-in committed between the
# UPDATE and the DELETE lost its access token but kept a live refresh token (fixed by revoking,
# after the DELETE, live refresh tokens of the selection whose access token is gone).
def errors_of(results: list[Any]) -> list[BaseException]:
    return [result for result in results if isinstance(result, BaseException)]


def inconsistent_refresh_tokens() -> list[int]:
    """Live refresh tokens that point at nothing: revoked-looking but still accepted by nobody."""
    return list(
        RefreshToken.objects.filter(revoked__isnull=True, access_token__isnull=True).values_list(
            "pk", flat=True
        )
    )


# --- many revokes of the same and of overlapping tokens ------------------------------------


def build_world(users: list[Any], apps: list[Any]) -> dict[tuple[int, int], dict[str, Any]]:
    """For each (user, app): a rotated session, a plain session, a lone token and a grant."""
    world: dict[tuple[int, int], dict[str, Any]] = {}
    for ui, user in enumerate(users):
        for ai, app in enumerate(apps):
            _, first_refresh = issue_session(user, app)
            rotated_access, rotated_refresh = rotate(rotate(first_refresh)[1])
            plain_access, plain_refresh = issue_session(user, app)
            lone = AccessTokenFactory(user=user, application=app)
            GrantFactory(user=user, application=app)
            world[(ui, ai)] = {
                "access": [rotated_access.pk, plain_access.pk, lone.pk],
                "refresh": [rotated_refresh.pk, plain_refresh.pk],
                "family": rotated_refresh.token_family,
            }
    return world


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_overlapping_revokes_end_consistent_and_audited(round_):
    users = UserFactory.create_batch(5)
    apps = ApplicationFactory.create_batch(3)
    world = build_world(users, apps)
    app_tokens = [AccessTokenFactory(user=None, application=app).pk for app in apps]
    session_of_family = {
        str(s.token_family): s.public_id for s in TokenSession.objects.filter(token_family__isnull=False)
    }

    def pair(ui: int, ai: int) -> dict[str, Any]:
        return world[(ui, ai)]

    same_tokens = pair(0, 0)["access"] + pair(1, 1)["access"][:1]
    overlapping = pair(1, 1)["access"] + pair(2, 2)["access"][1:]
    operations: list[Callable[[], Any]] = [
        # The very same selection, three times at once.
        *[lambda: revoke(Selection.tokens(same_tokens), surface=Surface.COMMAND, actor=ACTOR)] * 3,
        lambda: revoke(Selection.tokens(overlapping), surface=Surface.COMMAND, actor=ACTOR),
        lambda: revoke(Selection.users([users[0], users[1]]), surface=Surface.COMMAND, actor=ACTOR),
        lambda: revoke(Selection.users([users[1], users[2]]), surface=Surface.COMMAND, actor=ACTOR),
        lambda: revoke(
            Selection.user_apps([(users[0], apps[0]), (users[2], apps[1])])
            | Selection.tokens([app_tokens[0]]),
            surface=Surface.STACKEXCHANGE,
            actor=ACTOR,
        ),
        lambda: revoke(Selection.applications([apps[1]]), surface=Surface.ADMIN, actor=ACTOR),
        lambda: revoke(Selection.applications([apps[2]], user=users[3]), surface=Surface.ADMIN, actor=ACTOR),
        lambda: revoke(
            Selection.sessions(
                [session_of_family[str(pair(3, 0)["family"])], session_of_family[str(pair(1, 2)["family"])]]
            ),
            surface=Surface.END_USER,
            actor=ACTOR,
        ),
    ]
    # What the operations above select, written out independently of the service.
    doomed_pairs = {(0, a) for a in range(3)} | {(1, a) for a in range(3)} | {(2, a) for a in range(3)}
    doomed_pairs |= {(u, 1) for u in range(5)} | {(3, 2)}
    doomed_families = {pair(3, 0)["family"]}
    kept_pairs = set(world) - doomed_pairs

    access_before = AccessToken.objects.count()
    live_refresh_before = RefreshToken.objects.filter(revoked__isnull=True).count()
    grants_before = Grant.objects.count()

    results = run_together(*operations)

    assert errors_of(results) == []
    for key in doomed_pairs:
        assert not AccessToken.objects.filter(pk__in=world[key]["access"]).exists(), key
        assert not RefreshToken.objects.filter(pk__in=world[key]["refresh"], revoked__isnull=True).exists()
        assert not Grant.objects.filter(user=users[key[0]], application=apps[key[1]]).exists()
    for key in kept_pairs:
        alive = set(AccessToken.objects.filter(pk__in=world[key]["access"]).values_list("pk", flat=True))
        family_refresh = RefreshToken.objects.get(pk=world[key]["refresh"][0])
        if world[key]["family"] in doomed_families:
            # Only the session was revoked: its access token and refresh token, not the others.
            assert alive == set(world[key]["access"][1:]), key
            assert family_refresh.revoked is not None
        else:
            assert alive == set(world[key]["access"]), key
            assert family_refresh.revoked is None
    assert set(AccessToken.objects.filter(pk__in=app_tokens).values_list("pk", flat=True)) == {app_tokens[2]}
    assert inconsistent_refresh_tokens() == []
    assert not RefreshToken.objects.filter(revoked__isnull=False, access_token__isnull=False).exists()

    # One event per call, and the counts add up to what actually went: nothing counted twice.
    events = RevocationEvent.objects.all()
    assert events.count() == len(operations)
    totals = events.aggregate(
        access=Sum("access_tokens_revoked"),
        refresh=Sum("refresh_tokens_revoked"),
        grants=Sum("grants_revoked"),
    )
    assert totals["access"] == access_before - AccessToken.objects.count()
    assert (
        totals["refresh"] == live_refresh_before - RefreshToken.objects.filter(revoked__isnull=True).count()
    )
    assert totals["grants"] == grants_before - Grant.objects.count()


# --- a refresh through DOT's token endpoint racing a de-authorization -----------------------


def adn_status(raw_access_token: str) -> int:
    return Client().get(url("/stream/0/token"), **bearer(raw_access_token)).status_code


def assert_nothing_of_the_pair_works(
    user: Any, app: Any, raw_access: list[str], raw_refresh: list[str]
) -> None:
    """After a de-authorization returned: no token of (user, app) works, none can be refreshed."""
    live = AccessToken.objects.filter(user=user, application=app, expires__gt=timezone.now())
    assert list(live.values_list("pk", flat=True)) == []
    assert not RefreshToken.objects.filter(user=user, application=app, revoked__isnull=True).exists()
    for raw in raw_access:
        assert adn_status(raw) == 401
    for raw in raw_refresh:
        response = refresh_request(app, raw)
        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_grant"
    assert inconsistent_refresh_tokens() == []


@pytest.mark.parametrize("round_", range(6))
def test_refresh_racing_se_de_authenticate_leaves_nothing_that_works(round_):
    user, app = UserFactory(), ApplicationFactory()
    # The refresher's session, and a second session whose token the de-authenticate call
    # presents, so the call finds a valid token whatever the refresh has done by then.
    access, refresh = issue_session(user, app)
    presented = AccessTokenFactory(user=user, application=app)

    def refresh_twice() -> list[Any]:
        # Two rotations in a row widen the window in which the de-authorization can land.
        responses = [refresh_request(app, refresh.raw_token)]
        if responses[0].status_code == 200:
            responses.append(refresh_request(app, responses[0].json()["refresh_token"]))
        return responses

    def de_authenticate() -> Any:
        return Client().get(url(f"/2.2/apps/{presented.raw_token}/de-authenticate"))

    refreshed, deauthenticated = run_together(refresh_twice, de_authenticate)

    assert not isinstance(refreshed, BaseException), refreshed
    assert not isinstance(deauthenticated, BaseException), deauthenticated
    assert deauthenticated.status_code == 200, deauthenticated.content
    assert [item["account_id"] for item in deauthenticated.json()["items"]] == [json_id(user.pk)]
    minted = [response.json() for response in refreshed if response.status_code == 200]
    assert all(response.status_code in (200, 400) for response in refreshed)
    assert_nothing_of_the_pair_works(
        user,
        app,
        [access.raw_token, presented.raw_token, *(body["access_token"] for body in minted)],
        [refresh.raw_token, *(body["refresh_token"] for body in minted)],
    )


# --- the same race, each window forced open --------------------------------------------------


def deauthorize(user: Any, app: Any) -> Any:
    return revoke(Selection.user_apps([(user, app)]), surface=Surface.STACKEXCHANGE, actor=ACTOR)


def test_de_authorization_waiting_on_a_refresh_in_progress_revokes_what_it_minted(monkeypatch):
    """Refresh holds the family's lock and has minted; de-authorize starts and waits; refresh commits.

    The de-authorization's first UPDATE took its snapshot before the refresh committed, so it
    never sees the new refresh token, while its DELETE (a later snapshot) does see, and
    delete, the new access token: at commit the new refresh token points at nothing.
    """
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    minted, resume = threading.Event(), threading.Event()
    original = TokenAdminOAuth2Validator._save_bearer_token

    def save_then_pause(self, *args, **kwargs):
        result = original(self, *args, **kwargs)  # inside DOT's transaction: rows written, locks held
        minted.set()
        resume.wait(THREAD_TIMEOUT)
        return result

    monkeypatch.setattr(TokenAdminOAuth2Validator, "_save_bearer_token", save_then_pause)
    refresher = Background(lambda: refresh_request(app, refresh.raw_token))
    assert minted.wait(THREAD_TIMEOUT)
    started = threading.Event()

    def de_authorize() -> Any:
        started.set()
        return deauthorize(user, app)

    revoker = Background(de_authorize)
    assert started.wait(THREAD_TIMEOUT)
    wait_until_blocked_on_a_lock()
    resume.set()

    response = refresher.join()
    assert response.status_code == 200
    result = revoker.join()
    # Everything the refresh minted went with the rest: two pairs' worth of tokens.
    assert (result.access_tokens, result.refresh_tokens) == (1, 1)
    body = response.json()
    assert_nothing_of_the_pair_works(
        user, app, [access.raw_token, body["access_token"]], [refresh.raw_token, body["refresh_token"]]
    )


def test_a_refresh_validated_before_a_de_authorization_mints_nothing_after_it(monkeypatch):
    """Refresh validates the refresh token; de-authorize runs and returns; then the refresh saves.

    DOT's ``_save_bearer_token`` locks the refresh token again but does not look at whether it
    is still live, so without a check there it mints a new pair after the de-authorization.
    """
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    validated, resume = threading.Event(), threading.Event()
    original = TokenAdminOAuth2Validator.validate_refresh_token

    def validate_then_pause(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        validated.set()
        resume.wait(THREAD_TIMEOUT)
        return result

    monkeypatch.setattr(TokenAdminOAuth2Validator, "validate_refresh_token", validate_then_pause)
    refresher = Background(lambda: refresh_request(app, refresh.raw_token))
    assert validated.wait(THREAD_TIMEOUT)
    result = deauthorize(user, app)
    assert (result.access_tokens, result.refresh_tokens) == (1, 1)
    resume.set()

    response = refresher.join()
    minted = response.json() if response.status_code == 200 else {}
    assert response.status_code == 400, minted
    assert response.json()["error"] == "invalid_grant"
    assert_nothing_of_the_pair_works(user, app, [access.raw_token], [refresh.raw_token])


def test_a_sign_in_committed_between_the_revocations_statements_leaves_nothing_half_revoked(monkeypatch):
    """A new authorization-code sign-in commits after the UPDATE of refresh tokens, before the DELETE.

    The new pair holds no lock the revocation waits on, so the locking read does not help: the
    UPDATE never saw the new refresh token, the DELETE (a later snapshot) sees the new access
    token through the (user, app) condition. Either outcome is fine for a sign-in that raced
    the revocation, but not an error, and not a live refresh token pointing at nothing.
    """
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    paused, resume = threading.Event(), threading.Event()
    original = revocation._delete_access_tokens

    def pause_then_delete(*args, **kwargs):
        paused.set()
        resume.wait(THREAD_TIMEOUT)
        return original(*args, **kwargs)

    monkeypatch.setattr(revocation, "_delete_access_tokens", pause_then_delete)
    revoker = Background(lambda: deauthorize(user, app))
    assert paused.wait(THREAD_TIMEOUT)
    grant = GrantFactory(user=user, application=app)
    signed_in = Client().post(
        url("/o/token/"),
        {
            "grant_type": "authorization_code",
            "code": grant.code,
            "redirect_uri": grant.redirect_uri,
            "client_id": app.client_id,
            "client_secret": app.raw_secret,
        },
    )
    assert signed_in.status_code == 200, signed_in.content
    resume.set()

    revoker.join()
    assert inconsistent_refresh_tokens() == []
    new = signed_in.json()
    if connection.features.can_defer_constraint_checks:
        # The new access token went (the DELETE saw it), so its refresh token must not mint one.
        assert adn_status(new["access_token"]) == 401
        assert refresh_request(app, new["refresh_token"]).status_code == 400
        assert_nothing_of_the_pair_works(user, app, [access.raw_token], [refresh.raw_token])
    else:
        # MariaDB checks foreign keys at once: the DELETE leaves the token a live refresh token
        # points at, and the new session lives on whole, as one begun after the revocation would.
        assert adn_status(new["access_token"]) == 200
        assert refresh_request(app, new["refresh_token"]).status_code == 200
        assert adn_status(access.raw_token) == 401
        assert refresh_request(app, refresh.raw_token).status_code == 400
