"""Not-before watermarks on the surfaces: the lists treat earlier sessions as ended, the
``revoke_tokens --not-before`` command and the admin set them."""

from __future__ import annotations

import importlib
import json
import re
from io import StringIO
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from tests.concurrency import dot_accepts
from tests.factories import UserFactory, issue_session, login_name
from tests.helpers import watermarks_set
from token_admin import queries
from token_admin.models import NotBefore, RevocationEvent, TokenSession
from token_admin.not_before import set_not_before
from token_admin.watermarks import EPOCH, Scope

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _os_user(monkeypatch):
    monkeypatch.setenv("LOGNAME", "ops")


@pytest.fixture
def world(people):
    alice, bob, stream, web = people["alice"], people["bob"], people["stream"], people["web"]
    return {
        **people,
        "alice_stream": issue_session(alice, stream),
        "alice_lone": issue_session(alice, web, refresh=False),
        "bob_stream": issue_session(bob, stream),
    }


# --- the lists ---------------------------------------------------------------------------------


def test_the_end_user_list_leaves_out_sessions_begun_before_a_global_watermark(
    world, django_capture_on_commit_callbacks
):
    assert len(queries.end_user_sessions(world["alice"])) == 2
    with django_capture_on_commit_callbacks(execute=True):
        set_not_before(Scope.GLOBAL, set_by="tests")
    later = issue_session(world["alice"], world["web"])

    listed = queries.end_user_sessions(world["alice"])

    assert [item.session.access_token_checksum or item.session.token_family for item in listed] == [
        later[1].token_family
    ]
    assert (listed[0].token_expired, listed[0].refresh_usable) == (False, True)


def test_the_end_user_list_reads_the_watermarks_in_one_query(world, django_assert_num_queries):
    set_not_before(Scope.GLOBAL, when=timezone.now() - timezone.timedelta(days=1), set_by="tests")

    with django_assert_num_queries(4):
        assert len(queries.end_user_sessions(world["alice"])) == 2


def test_the_admins_signed_in_flag_is_off_for_sessions_before_the_watermark(world, django_assert_num_queries):
    session_admin = admin.site._registry[TokenSession]
    set_not_before(Scope.APP, world["web"], when=timezone.now(), set_by="tests")
    # A global watermark revokes no rows: only the flag can show it.
    set_not_before(Scope.GLOBAL, set_by="tests")
    later = issue_session(world["bob"], world["stream"])
    page = list(TokenSession.objects.order_by("pk"))

    with django_assert_num_queries(3):  # families, lone tokens, watermarks
        session_admin.page_loaded(page)

    live = {(s.user.get_username(), s.application.client_id, s.token_family): s.live for s in page}
    assert live == {
        (login_name("alice"), "stream", world["alice_stream"][1].token_family): False,
        (login_name("alice"), "web", None): False,
        (login_name("bob"), "stream", world["bob_stream"][1].token_family): False,
        (login_name("bob"), "stream", later[1].token_family): True,
    }


# --- the command -------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = StringIO()
    call_command("revoke_tokens", *args, stdout=out)
    return out.getvalue().strip()


def test_the_command_sets_a_users_watermark_now(world):
    output = run(
        "--user", login_name("alice"), "--not-before", "now", "--reason", "lost phone", "--format", "json"
    )

    data = json.loads(output)
    row = watermarks_set().get()
    assert data == {
        "access_tokens": 2,
        "refresh_tokens": 1,
        "grants": 0,
        "not_before": data["not_before"],
        "dry_run": False,
    }
    assert (row.scope, row.user, row.reason, row.set_by) == (
        "user",
        world["alice"],
        "lost phone",
        "revoke_tokens by ops",
    )
    assert not dot_accepts(world["alice_stream"][0].raw_token)
    assert dot_accepts(world["bob_stream"][0].raw_token)
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_label) == (
        "policy",
        f"not-before for user {login_name('alice')} set by revoke_tokens by ops",
    )


def test_the_command_sets_a_global_watermark_and_dry_runs_it(world):
    assert run("--global", "--not-before", "now", "--dry-run").startswith("Would set not-before ")
    assert not watermarks_set().exists()

    output = run("--global", "--not-before", "2026-01-01T00:00:00", "--reason", "r")

    assert output == (
        "Set not-before 2026-01-01T00:00:00+00:00. Revoked 0 access tokens, 0 refresh tokens and 0 grants."
    )
    assert watermarks_set().get().key == "global"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--not-before", "now"], "--not-before takes --user (repeatable), --app (repeatable) or --global."),
        (["--global"], "--global only goes with --not-before."),
        (["--user", "alice", "--app", "web", "--not-before", "now"], "--not-before takes --user"),
        (["--global", "--user", "alice", "--not-before", "now"], "--not-before takes --user"),
        (["--user", "alice", "--not-before", "yesterday"], "Malformed --not-before 'yesterday'"),
        (
            ["--user", "alice", "--not-before", "2999-01-01T00:00:00Z"],
            "--not-before cannot be in the future.",
        ),
        (
            ["--user", "nobody", "--not-before", "now", "--reason", "r"],
            "Unknown user (username or id): nobody.",
        ),
        (["--user", "alice", "--not-before", "now"], "A reason is required"),
    ],
)
def test_the_command_refuses_bad_input(world, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        run(*args)
    assert not watermarks_set().exists()


# --- the admin ---------------------------------------------------------------------------------


def test_the_admin_sets_a_watermark_after_showing_the_dry_run_counts(client, world):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="staff"))
    add = reverse("admin:token_admin_notbefore_add")
    fields = {
        "scope": "user",
        "user": login_name("alice"),
        "application": "",
        "not_before": "",
        "reason": "stolen laptop",
    }

    preview = client.post(add, fields)

    html = preview.content.decode()
    assert preview.status_code == 200
    assert 'id="count-access-tokens">2<' in html and 'id="count-refresh-tokens">1<' in html
    assert not watermarks_set().exists()
    previewed = re.search(r'name="previewed" value="([^"]+)"', html).group(1)

    # A changed field counts again instead of setting.
    again = client.post(add, {**fields, "reason": "other", "confirm": "yes", "previewed": previewed})
    assert 'id="not-before-preview"' in again.content.decode()
    assert not watermarks_set().exists()

    done = client.post(add, {**fields, "confirm": "yes", "previewed": previewed}, follow=True)

    assert done.redirect_chain == [(reverse("admin:token_admin_notbefore_changelist"), 302)]
    row = watermarks_set().get()
    assert (row.user, row.reason, row.set_by) == (
        world["alice"],
        "stolen laptop",
        f"staff {login_name('staff')}",
    )
    assert not dot_accepts(world["alice_stream"][0].raw_token)
    assert "alice" in done.content.decode()


def test_the_admin_form_reports_bad_input(client, world):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    add = reverse("admin:token_admin_notbefore_add")

    response = client.post(add, {"scope": "app", "application": "nope", "reason": ""})

    assert response.status_code == 200
    html = response.content.decode()
    assert "No application has this client_id." in html
    assert "A reason is required" in html
    assert not watermarks_set().exists()


def test_the_migrations_global_row_is_no_watermark_and_is_not_listed(client, world):
    # Created by migration 0004 (run again here: a transactional test's flush removes it).
    from django.apps import apps
    from django.db import connection

    migration = importlib.import_module("token_admin.migrations.0004_not_before_watermarks")
    migration.create_global_row(apps, SimpleNamespace(connection=connection))
    migration.create_global_row(apps, SimpleNamespace(connection=connection))  # idempotent
    assert NotBefore.objects.get(key="global").not_before == EPOCH  # locked by refreshes from the start
    assert dot_accepts(world["alice_stream"][0].raw_token)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    set_not_before(Scope.USER, world["bob"], set_by="tests")

    response = client.get(reverse("admin:token_admin_notbefore_changelist"))

    assert [str(row) for row in response.context["cl"].result_list] == [str(watermarks_set().get())]


def test_staff_without_the_revoke_permission_cannot_set_one(client, world):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("admin:token_admin_notbefore_add")).status_code == 403
