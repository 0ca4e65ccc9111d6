"""A refresh racing the setting of a not-before watermark (real concurrent transactions).

The refresh is paused inside DOT's transaction after it minted its new pair: it holds its
refresh token's lock and, under a shared lock, the watermark rows it read. The watermark
being set waits for it; whatever the refresh minted must then be invalid.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.concurrency import (
    THREAD_TIMEOUT,
    Background,
    PausedRefresh,
    can_mint,
    dot_accepts,
    refresh_request,
    wait_until_blocked_on_a_lock,
)
from tests.factories import ApplicationFactory, UserFactory, issue_session
from token_admin.models import NotBefore
from token_admin.not_before import set_not_before
from token_admin.oauth2_validators import TokenAdminOAuth2Validator
from token_admin.watermarks import Scope

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor not in ("postgresql", "mysql"),
        reason="needs concurrent writers (PostgreSQL, MariaDB)",
    ),
]


@pytest.fixture(autouse=True)
def _fresh_validator(fresh_validator):
    """Each request builds its validator (conftest's ``fresh_validator``)."""


def assert_ended(pair: dict, application) -> None:
    """The pair the refresh answered with (if any) neither authenticates nor mints."""
    if pair:
        assert not dot_accepts(pair["access_token"])
        assert not can_mint(application, pair["refresh_token"])


@pytest.mark.parametrize("round_", range(3))
def test_a_user_watermark_set_during_a_refresh_ends_what_it_minted(monkeypatch, round_):
    alice, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(alice, app)
    other = issue_session(UserFactory(), app)

    paused = PausedRefresh(monkeypatch, app, refresh.raw_token)
    setting = Background(lambda: set_not_before(Scope.USER, alice, set_by="race tests"))
    wait_until_blocked_on_a_lock()  # the revocation waits for the refresh's lock
    pair = paused.finish()
    done = setting.join()

    assert_ended(pair, app)
    assert not dot_accepts(access.raw_token)
    assert not can_mint(app, refresh.raw_token)
    assert dot_accepts(other[0].raw_token)
    # The service revoked the pair the refresh minted (it committed while the service waited).
    assert done.revocation.refresh_tokens >= 1
    # A sign-in after the watermark works.
    later = issue_session(alice, app)
    assert dot_accepts(later[0].raw_token)


@pytest.mark.parametrize("round_", range(3))
def test_a_global_watermark_set_during_a_refresh_ends_what_it_minted(monkeypatch, round_):
    # An earlier global watermark: the row exists, so the refresh's shared lock holds it.
    set_not_before(Scope.GLOBAL, when=timezone.now() - timedelta(days=1), set_by="race tests")
    alice, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(alice, app)

    paused = PausedRefresh(monkeypatch, app, refresh.raw_token)
    setting = Background(lambda: set_not_before(Scope.GLOBAL, set_by="race tests"))
    wait_until_blocked_on_a_lock()  # the watermark's row lock waits for the refresh
    pair = paused.finish()
    done = setting.join()

    assert pair, "a global watermark revokes no rows: the refresh answered with its pair"
    assert_ended(pair, app)
    assert not dot_accepts(access.raw_token)
    # "Now" was taken after the refresh committed: what it minted is issued before it.
    assert NotBefore.objects.get(key="global").not_before == done.not_before
    assert (done.revocation.access_tokens, done.revocation.refresh_tokens) == (0, 0)
    later = issue_session(alice, app)
    assert dot_accepts(later[0].raw_token)


def test_a_global_watermark_set_between_a_refreshs_check_and_its_mint_ends_the_mint(monkeypatch):
    """The refresh has read the watermarks (none newer) and not minted yet when the watermark
    is set: a "now" taken when the setting began would be earlier than the mint."""
    set_not_before(Scope.GLOBAL, when=timezone.now() - timedelta(days=1), set_by="race tests")
    alice, app = UserFactory(), ApplicationFactory()
    _, refresh = issue_session(alice, app)
    checked, resume = threading.Event(), threading.Event()
    original = TokenAdminOAuth2Validator._minted_before_not_before

    def check_then_pause(refresh_token):
        result = original(refresh_token)
        checked.set()
        resume.wait(THREAD_TIMEOUT)
        return result

    monkeypatch.setattr(
        TokenAdminOAuth2Validator, "_minted_before_not_before", staticmethod(check_then_pause)
    )
    refreshing = Background(lambda: refresh_request(app, refresh.raw_token))
    assert checked.wait(THREAD_TIMEOUT)
    setting = Background(lambda: set_not_before(Scope.GLOBAL, set_by="race tests"))
    wait_until_blocked_on_a_lock()
    resume.set()
    response = refreshing.join()
    setting.join()

    assert response.status_code == 200, response.content
    assert not dot_accepts(response.json()["access_token"])
    assert not can_mint(app, response.json()["refresh_token"])


def test_a_refresh_after_a_committed_global_watermark_is_refused(monkeypatch):
    alice, app = UserFactory(), ApplicationFactory()
    _, refresh = issue_session(alice, app)
    set_not_before(Scope.GLOBAL, set_by="race tests")

    assert not can_mint(app, refresh.raw_token)
