"""Not-before watermarks (global, per user, per app): enforced at authentication and refresh,
set through the revocation service, read from the database in the token's own query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.concurrency import can_mint, dot_accepts, refresh_request
from tests.factories import issue_session
from tests.helpers import asked, bearer, json_id, url, watermarks_set
from token_admin import watermarks
from token_admin.models import RevocationEvent
from token_admin.not_before import set_not_before
from token_admin.oauth2_validators import TokenAdminOAuth2Validator
from token_admin.watermarks import Scope

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db


INVALID_TOKEN = {
    "meta": {
        "code": 401,
        "error_message": "Call requires authentication: Invalid token.",
        "error_slug": "invalid-token",
    }
}
REFUSED = {
    "error": "invalid_grant",
    "error_description": "The refresh token was issued before a not-before time.",
}
INVALID_GRANT = {"error": "invalid_grant"}


@pytest.fixture(autouse=True)
def _no_activity_writes(settings):
    """These tests count the watermarks' queries: no session-activity UPDATE among them."""
    settings.TOKEN_ADMIN = {"ACTIVITY_TRACKING": False}


@pytest.fixture(autouse=True)
def _fresh_validator(fresh_validator):
    """Each request builds its validator (conftest's ``fresh_validator``)."""


@pytest.fixture
def world(people):
    alice, bob, stream, web = people["alice"], people["bob"], people["stream"], people["web"]
    return {
        **people,
        "alice_stream": issue_session(alice, stream),
        "alice_web": issue_session(alice, web),
        "bob_stream": issue_session(bob, stream),
        "bob_web": issue_session(bob, web),
    }


def accepted(world) -> dict[str, bool]:
    return {
        name: dot_accepts(world[name][0].raw_token)
        for name in ("alice_stream", "alice_web", "bob_stream", "bob_web")
    }


def get_token(client, access_token):
    return client.get(url("/stream/0/token"), **bearer(access_token))


# --- enforcement at authentication -----------------------------------------------------------


def test_a_global_watermark_invalidates_every_earlier_token_without_touching_a_row(client, world):
    tokens_before = AccessToken.objects.count()

    setting = set_not_before(Scope.GLOBAL, set_by="tests", reason="key rotation")

    assert accepted(world) == dict.fromkeys(["alice_stream", "alice_web", "bob_stream", "bob_web"], False)
    response = get_token(client, world["alice_stream"][0])
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    # O(1): nothing deleted or revoked, one row and one audit event.
    assert AccessToken.objects.count() == tokens_before
    assert not RefreshToken.objects.filter(revoked__isnull=False).exists()
    event = RevocationEvent.objects.get()
    assert (event.surface, event.actor_type, event.actor_label, event.reason) == (
        "policy",
        "policy",
        "not-before for everyone set by tests",
        "key rotation",
    )
    assert asked(event.selection) == {
        "kind": "not_before",
        "scope": "global",
        "not_before": setting.not_before.isoformat(),
    }
    assert (event.access_tokens_revoked, event.refresh_tokens_revoked) == (0, 0)
    # A token issued after the watermark works.
    later, _ = issue_session(world["alice"], world["stream"])
    response = get_token(client, later)
    assert response.status_code == 200, response.content
    assert response.json()["data"]["client_id"] == world["stream"].client_id


def test_a_user_watermark_ends_that_users_tokens_and_revokes_them(world):
    setting = set_not_before(Scope.USER, world["alice"], set_by="tests")

    assert accepted(world) == {"alice_stream": False, "alice_web": False, "bob_stream": True, "bob_web": True}
    assert not can_mint(world["stream"], world["alice_stream"][1].raw_token)
    assert (setting.revocation.access_tokens, setting.revocation.refresh_tokens) == (2, 2)
    event = RevocationEvent.objects.get()
    assert asked(event.selection) == {
        "kind": "not_before",
        "scope": "user",
        "not_before": setting.not_before.isoformat(),
        "user_id": json_id(world["alice"].pk),
    }
    assert event.actor_label == f"not-before for user {world['alice'].get_username()} set by tests"
    assert watermarks_set().get().key == f"user:{world['alice'].pk}"


def test_an_app_watermark_ends_that_apps_tokens(world):
    setting = set_not_before(Scope.APP, world["web"], set_by="tests")

    assert accepted(world) == {"alice_stream": True, "alice_web": False, "bob_stream": True, "bob_web": False}
    assert (setting.revocation.access_tokens, setting.revocation.refresh_tokens) == (2, 2)
    assert RevocationEvent.objects.get().selection["client_id"] == world["web"].client_id


def test_a_past_user_watermark_revokes_only_sessions_begun_before_it(world):
    cutoff = timezone.now()
    newer = issue_session(world["alice"], world["stream"])

    setting = set_not_before(Scope.USER, world["alice"], when=cutoff, set_by="tests")

    assert (setting.revocation.access_tokens, setting.revocation.refresh_tokens) == (2, 2)
    assert dot_accepts(newer[0].raw_token)
    assert not dot_accepts(world["alice_web"][0].raw_token)


def test_a_watermark_only_moves_forward_and_is_one_row(world):
    first = set_not_before(Scope.USER, world["alice"], set_by="tests").not_before
    earlier = first - timedelta(days=1)

    again = set_not_before(Scope.USER, world["alice"], when=earlier, set_by="tests", reason="again")

    assert again.not_before == first
    row = watermarks_set().get()
    assert (row.not_before, row.reason, row.scope, row.user_id) == (first, "again", "user", world["alice"].pk)
    assert RevocationEvent.objects.count() == 2


def test_bad_settings_are_refused_before_anything_is_written(world):
    with pytest.raises(ValueError, match="cannot be in the future"):
        set_not_before(Scope.GLOBAL, when=timezone.now() + timedelta(minutes=1), set_by="tests")
    with pytest.raises(ValueError, match="does not fit"):
        set_not_before(Scope.USER, set_by="tests")
    with pytest.raises(ValueError, match="does not fit"):
        set_not_before(Scope.GLOBAL, world["alice"], set_by="tests")
    assert not watermarks_set().exists()
    assert not RevocationEvent.objects.exists()


def test_a_dry_run_counts_and_writes_nothing(world):
    user_run = set_not_before(Scope.USER, world["alice"], set_by="tests", dry_run=True)
    global_run = set_not_before(Scope.GLOBAL, set_by="tests", dry_run=True)

    assert (user_run.revocation.access_tokens, user_run.revocation.refresh_tokens) == (2, 2)
    assert (user_run.watermark, user_run.revocation.event) == (None, None)
    assert global_run.tokens_invalidated == 4
    assert not watermarks_set().exists()
    assert not RevocationEvent.objects.exists()
    assert all(accepted(world).values())


def test_watermarks_can_be_turned_off(settings, world):
    set_not_before(Scope.GLOBAL, set_by="tests")
    settings.TOKEN_ADMIN = {"NOT_BEFORE_ENABLED": False}

    assert all(accepted(world).values())


# --- the hot path: DOT's one query, the database deciding -------------------------------------


def test_a_bearer_check_is_dots_one_query_with_the_watermarks_in_it(world, django_assert_num_queries):
    set_not_before(Scope.APP, world["web"], set_by="tests")
    token = world["alice_stream"][0].raw_token

    with django_assert_num_queries(1) as context:
        assert dot_accepts(token)
    # The token's own statement reads the watermarks: no cache, nothing to go stale.
    assert "token_admin_notbefore" in context.captured_queries[0]["sql"]
    with django_assert_num_queries(1):
        assert not dot_accepts(world["alice_web"][0].raw_token)


def test_a_watermark_is_in_force_the_moment_it_is_written_whatever_the_cache_holds(
    world, django_assert_num_queries
):
    token = world["alice_stream"][0].raw_token
    assert dot_accepts(token)
    cache.set("token_admin:not_before:global", 0.0)  # what an old release cached as "none"

    set_not_before(Scope.GLOBAL, set_by="tests")

    with django_assert_num_queries(1):
        assert not dot_accepts(token)


def test_a_check_in_flight_when_a_global_watermark_is_set_cannot_undo_it(world):
    """Finding: a cold cache fill read the watermarks, the global watermark was set, then the
    fill wrote the old value back and every token worked again for the cache's lifetime. Here
    the watermark is set right after the first statement that reads watermarks runs: that
    check may still answer with what it read, every later one refuses."""
    from django.db import connection

    token = world["alice_stream"][0].raw_token
    fired = []

    def set_after_the_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not fired and "token_admin_notbefore" in sql:
            fired.append(sql)
            set_not_before(Scope.GLOBAL, set_by="tests")
        return result

    with connection.execute_wrapper(set_after_the_read):
        dot_accepts(token)
    assert fired
    assert not dot_accepts(token)
    assert not dot_accepts(world["bob_web"][0].raw_token)


def test_turned_off_costs_no_query(settings, world, django_assert_num_queries):
    settings.TOKEN_ADMIN = {"NOT_BEFORE_ENABLED": False, "ACTIVITY_TRACKING": False}
    with django_assert_num_queries(1):
        assert dot_accepts(world["alice_stream"][0].raw_token)


# --- enforcement at refresh ------------------------------------------------------------------


@pytest.mark.parametrize("rotating", [True, False])
def test_a_refresh_token_issued_before_a_global_watermark_cannot_mint(settings, world, rotating):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ROTATE_REFRESH_TOKEN": rotating}
    set_not_before(Scope.GLOBAL, set_by="tests")

    response = refresh_request(world["stream"], world["alice_stream"][1].raw_token)

    # A rotation is refused in DOT's transaction; without rotation DOT's own check refuses it.
    assert (response.status_code, response.json()) == (400, REFUSED if rotating else INVALID_GRANT)
    assert response["Cache-Control"] == "no-store"
    later = issue_session(world["alice"], world["stream"])
    response = refresh_request(world["stream"], later[1].raw_token)
    assert response.status_code == 200, response.content
    assert dot_accepts(response.json()["access_token"])


def test_a_global_watermark_set_after_the_refresh_was_validated_mints_nothing(world, monkeypatch):
    original = TokenAdminOAuth2Validator.validate_refresh_token

    def validate_then_set(self, *args, **kwargs):
        valid = original(self, *args, **kwargs)
        set_not_before(Scope.GLOBAL, set_by="tests")
        return valid

    monkeypatch.setattr(TokenAdminOAuth2Validator, "validate_refresh_token", validate_then_set)
    refresh_token = world["alice_stream"][1]
    tokens_before = set(AccessToken.objects.values_list("pk", flat=True))

    response = refresh_request(world["stream"], refresh_token.raw_token)

    assert (response.status_code, response.json()) == (400, REFUSED)
    assert set(AccessToken.objects.values_list("pk", flat=True)) == tokens_before
    assert RefreshToken.objects.get(pk=refresh_token.pk).revoked is None  # rolled back with the refresh


def test_applicable_for_a_page_is_one_query(world, django_assert_num_queries):
    set_not_before(Scope.USER, world["alice"], set_by="tests")
    pairs = [
        (world["alice"].pk, world["stream"].pk),
        (world["bob"].pk, world["web"].pk),
        (None, world["web"].pk),
    ]

    with django_assert_num_queries(1):
        found = watermarks.applicable_for(pairs)
    alice_mark = watermarks_set().get().not_before
    assert found == {pairs[0]: alice_mark, pairs[1]: None, pairs[2]: None}
