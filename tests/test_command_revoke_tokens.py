"""``manage.py revoke_tokens``: each selector, dry run, output formats and bad input."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from oauth2_provider.models import get_access_token_model, get_grant_model, get_refresh_token_model

from tests.factories import (
    AccessTokenFactory,
    ApplicationFactory,
    DeviceFactory,
    GrantFactory,
    UserFactory,
    issue_session,
    login_name,
    rotate,
)
from tests.helpers import asked, json_id
from token_admin.models import RevocationEvent, TokenSession

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()
Grant = get_grant_model()
# What alice and bob sign in with (and --user names them by): "alice", or an e-mail address.
ALICE, BOB = login_name("alice"), login_name("bob")

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _os_user(monkeypatch):
    # getpass.getuser() reads LOGNAME first: the audit label is then known.
    monkeypatch.setenv("LOGNAME", "ops")


@pytest.fixture
def world():
    """Two users, two apps, rotated and lone tokens, grants, an app token and a registration token."""
    w = SimpleNamespace()
    w.alice, w.bob = UserFactory(username="alice"), UserFactory(username="bob")
    w.app1, w.app2 = ApplicationFactory(client_id="app-one"), ApplicationFactory(client_id="app-two")
    first_access, first_refresh = issue_session(w.alice, w.app1)
    w.a1_at, w.a1_rt = rotate(first_refresh)  # the family now also holds a revoked refresh token
    w.a2_at, w.a2_rt = issue_session(w.alice, w.app2)
    w.a_lone = AccessTokenFactory(user=w.alice, application=w.app2)
    w.b1_at, w.b1_rt = issue_session(w.bob, w.app1)
    w.app_token = AccessTokenFactory(user=None, application=w.app1)
    # DOT's registration token manages a client: never revoked nor counted.
    w.registration = AccessTokenFactory(
        user=w.alice, application=w.app1, scope="oauth2_provider:registration"
    )
    w.g_a1 = GrantFactory(user=w.alice, application=w.app1)
    w.g_b1 = GrantFactory(user=w.bob, application=w.app1)
    w.g_b2 = GrantFactory(user=w.bob, application=w.app2)
    # A device holding alice's app2 session, and one whose dynamically registered client has a session.
    w.device = DeviceFactory(user=w.alice)
    TokenSession.objects.filter(token_family=w.a2_rt.token_family).update(device=w.device)
    w.app3 = ApplicationFactory(client_id="app-three")
    w.client_device = DeviceFactory(user=w.alice, application=w.app3)
    w.c_at, w.c_rt = issue_session(w.alice, w.app3)
    w.g_c = GrantFactory(user=w.alice, application=w.app3)
    return w


def state():
    """Live access tokens, live refresh tokens, grants and audit events, as sets of ids."""
    return (
        set(AccessToken.objects.values_list("pk", flat=True)),
        set(RefreshToken.objects.filter(revoked__isnull=True).values_list("pk", flat=True)),
        set(Grant.objects.values_list("pk", flat=True)),
        set(RevocationEvent.objects.values_list("pk", flat=True)),
    )


def run(*args):
    """The command with ``args``; a reason is added when they give none (one is required)."""
    out = StringIO()
    reason = () if "--reason" in args or "--dry-run" in args else ("--reason", "Tested")
    call_command("revoke_tokens", *args, *reason, stdout=out)
    return out.getvalue()


def session_id(refresh_token=None, access_token=None):
    if refresh_token is not None:
        return str(TokenSession.objects.get(token_family=refresh_token.token_family).public_id)
    return str(TokenSession.objects.get(access_token_checksum=access_token.token_checksum).public_id)


def assert_revoked(before, access_tokens=(), refresh_tokens=(), grants=()):
    """Exactly these rows went, and exactly one audit event was written."""
    after = state()
    assert after[0] == before[0] - {token.pk for token in access_tokens}
    assert after[1] == before[1] - {token.pk for token in refresh_tokens}
    assert after[2] == before[2] - {grant.pk for grant in grants}
    assert len(after[3] - before[3]) == 1


def test_user_alone_revokes_all_of_the_users_tokens(world):
    before = state()
    output = run("--user", ALICE, "--reason", "stolen laptop")

    assert output == "Revoked 4 access tokens, 3 refresh tokens and 2 grants.\n"
    assert_revoked(
        before,
        [world.a1_at, world.a2_at, world.a_lone, world.c_at],
        [world.a1_rt, world.a2_rt, world.c_rt],
        [world.g_a1, world.g_c],
    )
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_label) == (
        "command",
        "command",
        "revoke_tokens by ops",
    )
    assert event.reason == "stolen laptop"
    assert asked(event.selection) == {"kind": "users", "user_ids": [json_id(world.alice.pk)]}
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked, event.grants_revoked) == (4, 3, 2)


def test_user_by_primary_key_and_repeated(world):
    before = state()
    output = run("--user", str(world.bob.pk), "--user", BOB)

    assert output == "Revoked 1 access token, 1 refresh token and 2 grants.\n"
    assert_revoked(before, [world.b1_at], [world.b1_rt], [world.g_b1, world.g_b2])
    assert asked(RevocationEvent.objects.get().selection) == {
        "kind": "users",
        "user_ids": [json_id(world.bob.pk)],
    }


def test_app_alone_revokes_every_token_of_the_app_app_tokens_included(world):
    before = state()
    output = run("--app", "app-one")

    assert output == "Revoked 3 access tokens, 2 refresh tokens and 2 grants.\n"
    assert_revoked(
        before,
        [world.a1_at, world.b1_at, world.app_token],
        [world.a1_rt, world.b1_rt],
        [world.g_a1, world.g_b1],
    )
    assert AccessToken.objects.filter(pk=world.registration.pk).exists()
    assert asked(RevocationEvent.objects.get().selection) == {
        "kind": "applications",
        "client_ids": ["app-one"],
    }


def test_user_with_app_deauthorizes_each_pair(world):
    before = state()
    output = run("--user", ALICE, "--user", BOB, "--app", "app-two")

    assert output == "Revoked 2 access tokens, 1 refresh token and 1 grant.\n"
    assert_revoked(before, [world.a2_at, world.a_lone], [world.a2_rt], [world.g_b2])
    assert asked(RevocationEvent.objects.get().selection) == {
        "kind": "user_apps",
        "pairs": sorted([[json_id(world.alice.pk), "app-two"], [json_id(world.bob.pk), "app-two"]]),
    }


def test_device_revokes_its_sessions_and_its_registered_client(world):
    before = state()
    output = run("--device", str(world.device.public_id), "--device", str(world.client_device.public_id))

    assert output == "Revoked 2 access tokens, 2 refresh tokens and 1 grant.\n"
    assert_revoked(before, [world.a2_at, world.c_at], [world.a2_rt, world.c_rt], [world.g_c])
    assert asked(RevocationEvent.objects.get().selection) == {
        "kind": "devices",
        "device_ids": sorted([str(world.device.public_id), str(world.client_device.public_id)]),
    }


def test_session_revokes_the_family_and_a_lone_token(world):
    before = state()
    family, lone = session_id(world.a1_rt), session_id(access_token=world.a_lone)
    output = run("--session", family, "--session", lone)

    assert output == "Revoked 2 access tokens, 1 refresh token and 0 grants.\n"
    assert_revoked(before, [world.a1_at, world.a_lone], [world.a1_rt])
    assert asked(RevocationEvent.objects.get().selection) == {
        "kind": "sessions",
        "session_ids": sorted([family, lone]),
    }


def test_json_output(world):
    output = run("--app", "app-two", "--format", "json")
    assert output == '{"access_tokens": 2, "refresh_tokens": 1, "grants": 1, "dry_run": false}\n'
    assert json.loads(output) == {"access_tokens": 2, "refresh_tokens": 1, "grants": 1, "dry_run": False}


def test_revoking_again_finds_nothing_left(world):
    run("--user", ALICE)
    assert run("--user", ALICE) == "Revoked 0 access tokens, 0 refresh tokens and 0 grants.\n"
    assert RevocationEvent.objects.count() == 2


@pytest.mark.parametrize(
    "selector",
    [
        lambda w: ["--user", ALICE],
        lambda w: ["--user", BOB, "--user", ALICE],
        lambda w: ["--app", "app-one"],
        lambda w: ["--app", "app-one", "--app", "app-three"],
        lambda w: ["--user", ALICE, "--app", "app-one", "--app", "app-two"],
        lambda w: ["--device", str(w.device.public_id)],
        lambda w: ["--device", str(w.client_device.public_id)],
        lambda w: ["--session", session_id(w.a1_rt), "--session", session_id(access_token=w.a_lone)],
    ],
    ids=["user", "users", "app", "apps", "user-apps", "device", "client-device", "sessions"],
)
def test_dry_run_changes_nothing_and_counts_what_the_real_run_revokes(world, selector):
    args = selector(world)
    before = state()

    dry = json.loads(run(*args, "--dry-run", "--format", "json"))

    assert state() == before  # tokens, refresh tokens, grants and audit all untouched
    real = json.loads(run(*args, "--format", "json"))
    assert dry.pop("dry_run") is True
    assert real.pop("dry_run") is False
    assert dry == real
    assert sum(dry.values()) > 0  # each selector has something to revoke in this world


def test_dry_run_text_output(world):
    before = state()
    output = run("--user", ALICE, "--app", "app-one", "--dry-run")
    assert (
        output == "Dry run: would revoke 1 access token, 1 refresh token and 1 grant. Nothing was changed.\n"
    )
    assert state() == before


def test_dry_run_counts_with_a_fixed_number_of_queries(world, django_assert_num_queries):
    # One lookup per selector kind, then the live refresh tokens read once and two COUNTs
    # (access tokens, grants), however many tokens there are.
    with django_assert_num_queries(5):
        run("--user", ALICE, "--app", "app-one", "--dry-run")
    for _ in range(5):
        rotate(RefreshToken.objects.get(token_family=world.a1_rt.token_family, revoked__isnull=True))
        issue_session(world.alice, world.app1)
    with django_assert_num_queries(5):
        output = run("--user", ALICE, "--app", "app-one", "--dry-run", "--format", "json")
    assert output == '{"access_tokens": 6, "refresh_tokens": 6, "grants": 1, "dry_run": true}\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Nothing selected: give --user, --app, --device or --session."),
        (["--reason", "x", "--dry-run"], "Nothing selected: give --user, --app, --device or --session."),
        (["--user", "nobody", "--user", ALICE, "--user", "0"], "Unknown user (username or id): nobody, 0."),
        (["--user", ALICE, "--app", "no-such-app"], "Unknown app (client_id): no-such-app."),
        (["--device", "not-a-uuid"], "Malformed device id (expected a UUID): not-a-uuid."),
        (["--session", "12345"], "Malformed session id (expected a UUID): 12345."),
        (
            ["--device", "00000000-0000-0000-0000-000000000001"],
            "Unknown device: 00000000-0000-0000-0000-000000000001.",
        ),
        (
            ["--session", "00000000-0000-0000-0000-000000000002"],
            "Unknown session: 00000000-0000-0000-0000-000000000002.",
        ),
        (
            ["--device", "00000000-0000-0000-0000-000000000001", "--user", ALICE],
            "--device and --session stand alone: they cannot be combined with any other selector.",
        ),
        (
            ["--session", "00000000-0000-0000-0000-000000000002", "--app", "app-one"],
            "--device and --session stand alone: they cannot be combined with any other selector.",
        ),
    ],
)
def test_bad_input_is_a_command_error_and_changes_nothing(world, args, message):
    before = state()
    with pytest.raises(CommandError) as raised:
        run(*args)
    assert str(raised.value) == message
    assert state() == before


def test_username_that_is_another_users_id_is_ambiguous(world):
    UserFactory(**{get_user_model().USERNAME_FIELD: str(world.alice.pk)})
    before = state()
    with pytest.raises(CommandError) as raised:
        run("--user", str(world.alice.pk))
    assert str(raised.value) == (
        f"Ambiguous --user {world.alice.pk}: it is the username of one user and the id of another."
    )
    assert state() == before


def test_usernames_match_exactly(world):
    # MySQL's case-insensitive collation would find "alice"; the command must not.
    with pytest.raises(CommandError) as raised:
        run("--user", ALICE.capitalize())
    assert str(raised.value) == f"Unknown user (username or id): {ALICE.capitalize()}."
