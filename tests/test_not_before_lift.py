"""Lifting (lowering or removing) a not-before watermark: the service, the command, the admin;
and the global dry run's count, exact or (on PostgreSQL, for a big table) an estimate."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from tests.concurrency import dot_accepts
from tests.factories import ApplicationFactory, UserFactory, issue_session, login_name
from tests.helpers import json_id
from token_admin import not_before
from token_admin.models import NotBefore, RevocationEvent
from token_admin.not_before import lift_not_before, set_not_before
from token_admin.watermarks import EPOCH, Scope

pytestmark = pytest.mark.django_db
AccessToken = get_access_token_model()
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def _os_user(monkeypatch):
    monkeypatch.setenv("LOGNAME", "ops")


@pytest.fixture
def world():
    alice, bob, app = UserFactory(username="alice"), UserFactory(username="bob"), ApplicationFactory()
    now = timezone.now()
    pairs = {}
    for name, user, age in (("old", alice, 3 * HOUR), ("mid", bob, HOUR / 2), ("bob_old", bob, 3 * HOUR)):
        pairs[name] = issue_session(user, app)
        AccessToken.objects.filter(pk=pairs[name][0].pk).update(created=now - age)
    return {"alice": alice, "bob": bob, "app": app, **pairs}


def works(world, *names: str) -> dict[str, bool]:
    return {name: dot_accepts(world[name][0].raw_token) for name in names}


def lifted_events():
    return RevocationEvent.objects.filter(selection__kind="not_before_lifted")


def test_removing_a_global_watermark_brings_back_what_it_made_invalid(
    world, django_capture_on_commit_callbacks
):
    setting = set_not_before(Scope.GLOBAL, set_by="tests", reason="key rotation")
    assert works(world, "old", "mid") == {"old": False, "mid": False}  # the cache holds it now

    with django_capture_on_commit_callbacks(execute=True):  # the cache is updated on commit
        done = lift_not_before(Scope.GLOBAL, set_by="staff ann", reason="mistake")

    assert (done.previous, done.not_before, done.tokens_valid_again) == (setting.not_before, None, 3)
    assert works(world, "old", "mid", "bob_old") == {"old": True, "mid": True, "bob_old": True}
    assert NotBefore.objects.get(key="global").not_before == EPOCH  # the row stays for refresh locks
    event = lifted_events().get()
    assert (event.surface, event.actor_type, event.actor_label, event.reason) == (
        "policy",
        "policy",
        "not-before for everyone removed by staff ann",
        "mistake",
    )
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (0, 0)
    assert {key: event.selection[key] for key in ("scope", "from", "to")} == {
        "scope": "global",
        "from": setting.not_before.isoformat(),
        "to": None,
    }


def test_lowering_a_global_watermark_brings_back_only_what_is_after_the_new_time(world):
    set_not_before(Scope.GLOBAL, set_by="tests")
    to = timezone.now() - HOUR

    done = lift_not_before(Scope.GLOBAL, to=to, set_by="tests")

    assert (done.not_before, done.tokens_valid_again) == (to, 1)
    assert works(world, "old", "mid", "bob_old") == {"old": False, "mid": True, "bob_old": False}
    assert NotBefore.objects.get(key="global").not_before == to
    assert lifted_events().get().actor_label == "not-before for everyone lowered by tests"


def test_lifting_a_user_watermark_never_brings_back_what_it_revoked(world):
    set_not_before(Scope.USER, world["bob"], set_by="tests")  # revokes bob's sessions
    assert works(world, "mid", "bob_old") == {"mid": False, "bob_old": False}

    done = lift_not_before(Scope.USER, world["bob"], set_by="tests")

    assert done.tokens_valid_again == 0  # revoked: deleted, nothing to come back
    assert works(world, "mid", "bob_old", "old") == {"mid": False, "bob_old": False, "old": True}
    assert not NotBefore.objects.filter(key=f"user:{world['bob'].pk}").exists()
    assert lifted_events().get().selection["user_id"] == json_id(world["bob"].pk)
    later = issue_session(world["bob"], world["app"])
    assert dot_accepts(later[0].raw_token)


def test_a_dry_run_counts_and_changes_nothing(world):
    set_not_before(Scope.GLOBAL, set_by="tests")
    done = lift_not_before(Scope.GLOBAL, to=timezone.now() - HOUR, set_by="tests", dry_run=True)
    assert (done.tokens_valid_again, done.tokens_valid_again_estimated, done.event) == (1, False, None)
    assert works(world, "mid") == {"mid": False}
    assert not lifted_events().exists()


def test_nothing_to_lift_and_raising_are_refused(world):
    with pytest.raises(ValueError, match="There is no watermark for everyone to lift."):
        lift_not_before(Scope.GLOBAL, set_by="tests")
    with pytest.raises(
        ValueError, match=re.escape(f"There is no watermark for user {login_name('alice')} to lift.")
    ):
        lift_not_before(Scope.USER, world["alice"], set_by="tests")
    setting = set_not_before(Scope.GLOBAL, when=timezone.now() - HOUR, set_by="tests")
    with pytest.raises(ValueError, match="only lowered or removed here"):
        lift_not_before(Scope.GLOBAL, to=setting.not_before, set_by="tests")
    assert not lifted_events().exists()


# --- the command --------------------------------------------------------------------------------


def lift(*args: str) -> dict:
    out = StringIO()
    call_command("lift_not_before", *args, "--format", "json", stdout=out)
    return json.loads(out.getvalue())


def test_the_command_lifts_and_dry_runs(world):
    setting = set_not_before(Scope.GLOBAL, set_by="tests")
    to = (timezone.now() - HOUR).replace(microsecond=0)
    assert lift("--global", "--to", to.isoformat(), "--dry-run") == {
        "previous": setting.not_before.isoformat(),
        "not_before": to.isoformat(),
        "tokens_valid_again": 1,
        "tokens_valid_again_estimated": False,
        "dry_run": True,
    }
    assert not lifted_events().exists()
    assert lift("--global", "--reason", "undo")["not_before"] is None
    assert lifted_events().get().actor_label == "not-before for everyone removed by lift_not_before by ops"
    assert works(world, "old") == {"old": True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--global", "--reason", "x"], "There is no watermark for everyone to lift."),
        (["--global"], "A reason is required"),
        (["--user", "nobody", "--reason", "x"], "Unknown user (username or id): nobody."),
        (["--global", "--to", "yesterday", "--reason", "x"], "Malformed --to 'yesterday'"),
        (["--global", "--to", "2999-01-01T00:00:00Z", "--reason", "x"], "--to cannot be in the future."),
    ],
)
def test_the_command_refuses_bad_input(world, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        lift(*args)


# --- the admin ----------------------------------------------------------------------------------


def test_the_admin_lifts_a_watermark_after_showing_the_count(client, world):
    client.force_login(UserFactory(is_staff=True, is_superuser=True, username="ann"))
    setting = set_not_before(Scope.GLOBAL, set_by="tests")
    changelist = client.get(reverse("admin:token_admin_notbefore_changelist")).content.decode()
    url = reverse("admin:token_admin_notbefore_lift", args=[setting.watermark.pk])
    assert f'href="{url}"' in changelist
    fields = {"not_before": "", "reason": "mistake"}

    preview = client.post(url, fields)

    html = preview.content.decode()
    assert 'id="count-valid-again">3<' in html
    assert "Confirming removes the watermark." in html
    assert not lifted_events().exists()
    previewed = re.search(r'name="previewed" value="([^"]+)"', html).group(1)
    done = client.post(url, {**fields, "confirm": "yes", "previewed": previewed}, follow=True)
    assert done.redirect_chain == [(reverse("admin:token_admin_notbefore_changelist"), 302)]
    assert (
        lifted_events().get().actor_label == f"not-before for everyone removed by staff {login_name('ann')}"
    )
    assert works(world, "old") == {"old": True}


def test_the_admin_refuses_raising_and_staff_without_permission(client, world):
    setting = set_not_before(Scope.GLOBAL, when=timezone.now() - HOUR, set_by="tests")
    url = reverse("admin:token_admin_notbefore_lift", args=[setting.watermark.pk])
    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    later = timezone.localtime(setting.not_before + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    response = client.post(url, {"not_before": later, "reason": "x"})
    assert "Give a time before the watermark" in response.content.decode()
    assert client.get(reverse("admin:token_admin_notbefore_lift", args=[999999])).status_code == 404
    assert not lifted_events().exists()


# --- the global dry run's count ----------------------------------------------------------------


def test_the_global_dry_run_counts_exactly_on_a_small_table(world):
    done = set_not_before(Scope.GLOBAL, set_by="tests", dry_run=True)
    assert (done.tokens_invalidated, done.tokens_invalidated_estimated) == (3, False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner estimate")
def test_the_global_dry_run_estimates_on_a_big_table(world, monkeypatch):
    monkeypatch.setattr(not_before, "EXACT_COUNT_MAX", 0)  # every table is "big"
    done = set_not_before(Scope.GLOBAL, set_by="tests", dry_run=True)
    assert done.tokens_invalidated_estimated is True
    assert done.tokens_invalidated >= 1
    out = StringIO()
    call_command("revoke_tokens", "--global", "--not-before", "now", "--dry-run", stdout=out)
    assert "earlier access token" in out.getvalue() and "(An estimate: too many to count.)" in out.getvalue()
