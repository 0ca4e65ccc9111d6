"""Every revoking path against a refresh in progress, each window forced open.

On PostgreSQL and MariaDB (SQLite serialises writers, so it has no window to open). For
each path, a thread plays DOT's refresh of the session's refresh token: it locks the old
refresh token, mints the new pair, and pauses before committing. The revocation starts,
the test waits until it is blocked on that lock, then lets the refresh commit. Afterwards
nothing of the session may work: neither the old pair nor the pair the refresh minted is
accepted by a plain DOT ``ProtectedResourceView`` or can mint, and the audit event counts
exactly what went (the refresh already deleted the old access token and revoked the old
refresh token; the revocation took the new pair: one and one).

The admin paths build their confirmation page before the refresh begins, so they also
show a stale page cannot revoke less than it counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from tests.concurrency import (
    THREAD_TIMEOUT,
    Background,
    PausedRefresh,
    PausedRevocation,
    can_mint,
    dot_accepts,
    refresh_request,
    run_together,
    wait_until_blocked_on_a_lock,
)
from tests.factories import ApplicationFactory, DeviceFactory, UserFactory, issue_session
from tests.helpers import basic, bearer, signed_selection, url
from token_admin.models import RevocationEvent, TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Application = get_application_model()

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor not in ("postgresql", "mysql"),
        reason="needs concurrent writers (PostgreSQL, MariaDB)",
    ),
]


@dataclass
class World:
    user: Any
    app: Any
    access: Any
    refresh: Any
    session: TokenSession
    device: Any
    api_client: Any
    staff: Client


@pytest.fixture
def world() -> World:
    user = UserFactory(username="alice")
    app = ApplicationFactory(name="Stream")
    access, refresh = issue_session(user, app)
    session = TokenSession.objects.get(token_family=refresh.token_family)
    device = DeviceFactory(user=user, name="Alice's phone")
    TokenSession.objects.filter(pk=session.pk).update(device=device)
    api_client = ApplicationFactory(name="Support desk", api_client=True)
    staff_user = UserFactory(is_staff=True, is_superuser=True)
    staff = Client()
    staff.force_login(staff_user)
    return World(user, app, access, refresh, session, device, api_client, staff)


# --- the paths: each prepares what a client has before the refresh, returns the revoking call


def end_user_delete(world: World) -> Callable[[], Any]:
    path = url(f"/oauth/api/v1/users/{world.user.pk}/tokens/{world.session.public_id}")
    return lambda: Client().delete(path, **basic(world.api_client))


def adn_delete(world: World) -> Callable[[], Any]:
    return lambda: Client().delete(url("/stream/0/token"), **bearer(world.access))


def se_invalidate(world: World) -> Callable[[], Any]:
    return lambda: Client().get(url(f"/2.2/access-tokens/{world.access.raw_token}/invalidate"))


def se_de_authenticate(world: World) -> Callable[[], Any]:
    return lambda: Client().get(url(f"/2.2/apps/{world.access.raw_token}/de-authenticate"))


def rfc7009_access_token(world: World) -> Callable[[], Any]:
    return lambda: _rfc7009(world, world.access.raw_token, "access_token")


def rfc7009_refresh_token(world: World) -> Callable[[], Any]:
    return lambda: _rfc7009(world, world.refresh.raw_token, "refresh_token")


def _rfc7009(world: World, token: str, hint: str) -> Any:
    data = {
        "token": token,
        "token_type_hint": hint,
        "client_id": world.app.client_id,
        "client_secret": world.app.raw_secret,
    }
    return Client().post(url("/o/revoke_token/"), data)


def _admin(
    changelist: str, action: str, pick: Callable[[World], Any]
) -> Callable[[World], Callable[[], Any]]:
    def prepare(world: World) -> Callable[[], Any]:
        url = reverse(changelist)
        selected = {"action": action, "_selected_action": [str(pick(world))]}
        page = world.staff.post(url, selected)  # the confirmation page, counted before the refresh
        assert page.status_code == 200, page.content
        confirm = {**selected, "post": "yes", "reason": "race", "selection": signed_selection(page)}
        return lambda: world.staff.post(url, confirm)

    prepare.__name__ = f"admin_{action}"
    return prepare


def _token_changelist() -> str:
    return f"admin:{AccessToken._meta.app_label}_{AccessToken._meta.model_name}_changelist"


def _app_changelist() -> str:
    return f"admin:{Application._meta.app_label}_{Application._meta.model_name}_changelist"


def _user_changelist() -> str:
    model = get_user_model()
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"


def _command(*selector: str | Callable[[World], str]) -> Callable[[World], Callable[[], Any]]:
    def prepare(world: World) -> Callable[[], Any]:
        args = [part(world) if callable(part) else part for part in selector]
        return lambda: call_command("revoke_tokens", *args, "--reason", "race")

    prepare.__name__ = "command_" + "_".join(part for part in selector if isinstance(part, str))
    return prepare


PATHS = [
    end_user_delete,
    adn_delete,
    se_invalidate,
    se_de_authenticate,
    rfc7009_access_token,
    rfc7009_refresh_token,
    _admin(_token_changelist(), "revoke_selected_tokens", lambda world: world.access.pk),
    _admin(_token_changelist(), "deauthorize_selected_tokens", lambda world: world.access.pk),
    _admin(_app_changelist(), "deauthorize_applications", lambda world: world.app.pk),
    _admin(
        "admin:token_admin_tokensession_changelist",
        "revoke_selected_sessions",
        lambda world: world.session.pk,
    ),
    _admin("admin:token_admin_device_changelist", "revoke_selected_devices", lambda world: world.device.pk),
    _admin(_user_changelist(), "revoke_all_user_tokens", lambda world: world.user.pk),
    _command("--session", lambda world: str(world.session.public_id)),
    _command("--user", lambda world: world.user.get_username()),
    _command("--app", lambda world: world.app.client_id),
    _command("--user", lambda world: world.user.get_username(), "--app", lambda world: world.app.client_id),
    _command("--device", lambda world: str(world.device.public_id)),
]


# Paths that name the session by a token value the client holds; every other path names the
# session, its user, app or device, which a refresh does not change.
PRESENTS_A_TOKEN = {
    adn_delete,
    se_invalidate,
    se_de_authenticate,
    rfc7009_access_token,
    rfc7009_refresh_token,
}


def assert_nothing_of_the_session_works(world: World, minted: dict[str, Any]) -> None:
    """``minted``: the pair the refresh answered with ({} if it answered invalid_grant)."""
    for raw in (world.access.raw_token, minted.get("access_token")):
        assert raw is None or not dot_accepts(raw)
    for raw in (world.refresh.raw_token, minted.get("refresh_token")):
        assert raw is None or not can_mint(world.app, raw)
    assert not RefreshToken.objects.filter(
        token_family=world.refresh.token_family, revoked__isnull=True
    ).exists()
    assert not RefreshToken.objects.filter(revoked__isnull=True, access_token__isnull=True).exists()


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.__name__)
def test_a_revocation_waiting_on_a_refresh_revokes_the_pair_it_minted(world, monkeypatch, path):
    revoking_call = path(world)
    refresh = PausedRefresh(monkeypatch, world.app, world.refresh.raw_token)
    revoker = Background(revoking_call)
    wait_until_blocked_on_a_lock()
    minted = refresh.finish()

    response = revoker.join()

    if response is not None:  # the command returns nothing
        assert response.status_code in (200, 204, 302), response.content
    assert_nothing_of_the_session_works(world, minted)
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="InnoDB's locking read reads the newest rows: after its wait it locks the minted token",
)
def test_a_revocation_that_waits_on_two_refreshes_in_a_row_revokes_the_pair_the_second_minted(
    world, monkeypatch
):
    """Two refreshes of the session, one after the other, each holding the lock the
    revocation's locking read of the family waits for.

    On PostgreSQL a locking read that waited skips the refresh token rotated meanwhile and
    does not see the one minted (its snapshot is older): both reads find nothing. Two equal
    reads once ended the loop, and the UPDATE that followed (a new snapshot) revoked the
    second refresh token and unlinked its access token, which nothing deleted: it stayed
    valid. (Found by the storm, under load.)
    """
    first = PausedRefresh(monkeypatch, world.app, world.refresh.raw_token)
    revoker = PausedRevocation(rfc7009_access_token(world))
    wait_until_blocked_on_a_lock()  # the first locking read waits for the first refresh
    minted = [first.finish()]
    assert revoker.read.wait(THREAD_TIMEOUT), "the revocation never read the family"
    assert revoker.rows_locked == 0  # the rotated token skipped, the minted one not seen
    second = PausedRefresh(monkeypatch, world.app, minted[0]["refresh_token"])
    revoker.resume()
    wait_until_blocked_on_a_lock()  # a later locking read waits for the second refresh
    minted.append(second.finish())

    response = revoker.join()

    assert response.status_code == 200, response.content
    for pair in minted:
        assert_nothing_of_the_session_works(world, pair)
    assert not AccessToken.objects.filter(application=world.app).exists()
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


@pytest.mark.parametrize(
    "path", [path for path in PATHS if path.__name__.startswith("admin_")], ids=lambda path: path.__name__
)
def test_a_confirmation_page_from_before_a_refresh_still_revokes_the_session(world, path):
    """Staff open the confirmation page, the app refreshes, staff confirm: the new pair goes."""
    confirm = path(world)
    minted = refresh_request(world.app, world.refresh.raw_token).json()

    response = confirm()

    assert response.status_code == 302
    assert_nothing_of_the_session_works(world, minted)
    event = RevocationEvent.objects.get()
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (1, 1)


# --- a bounded storm: refreshes and every path at once ---------------------------------------

# Rounds through every path: 12 x 17 paths = 204 races per database.
STORM_ROUNDS = 12


def test_a_storm_of_refreshes_and_revocations_leaves_no_revoked_session_working(world):
    """Rounds of a fresh session whose refresh races a revocation through each path in turn.

    Whatever the interleaving, a revoked session has nothing live at the end; every call
    answers without a server error (a refresh that lost may answer 400 invalid_grant).
    """
    rounds = found_nothing = 0
    for round_ in range(STORM_ROUNDS):
        for path in PATHS:
            access, refresh = issue_session(world.user, world.app)
            world.access, world.refresh = access, refresh
            world.session = TokenSession.objects.get(token_family=refresh.token_family)
            TokenSession.objects.filter(pk=world.session.pk).update(device=world.device)
            revoking_call = path(world)

            def refresh_twice(raw: str = refresh.raw_token) -> list[Any]:
                responses = [refresh_request(world.app, raw)]
                if responses[0].status_code == 200:
                    responses.append(refresh_request(world.app, responses[0].json()["refresh_token"]))
                return responses

            events_before = RevocationEvent.objects.count()
            refreshed, revoked = run_together(refresh_twice, revoking_call)
            assert not isinstance(refreshed, BaseException), refreshed
            assert not isinstance(revoked, BaseException), (path.__name__, revoked)
            assert all(response.status_code in (200, 400) for response in refreshed)
            if revoked is not None:
                assert revoked.status_code < 500, (path.__name__, revoked.content)
            rounds += 1
            if RevocationEvent.objects.count() == events_before:
                # Only a path that presents a token can find nothing: the refresh rotated that
                # token away before the request looked it up (App.net then answers 401).
                assert path in PRESENTS_A_TOKEN, (round_, path.__name__)
                found_nothing += 1
                continue
            minted = [response.json() for response in refreshed if response.status_code == 200]
            family = RefreshToken.objects.filter(token_family=refresh.token_family)
            assert not family.filter(revoked__isnull=True).exists(), (round_, path.__name__)
            for pair in minted:
                assert not dot_accepts(pair["access_token"]), (round_, path.__name__)
                assert not can_mint(world.app, pair["refresh_token"]), (round_, path.__name__)
    assert not RefreshToken.objects.filter(revoked__isnull=True, access_token__isnull=True).exists()
    assert rounds == STORM_ROUNDS * len(PATHS)
    print(f"\nstorm: {rounds} races, {found_nothing} where the presented token was already rotated away")
