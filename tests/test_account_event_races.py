"""A sign-in racing a password change or a deactivation (real concurrent transactions).

``token_admin.credentials``: the mint reads the user's state under a shared lock on the user's
row inside DOT's transaction; an account event takes that row's lock first. Both orders are
forced here: the mint holding its lock while the event waits (the event's revocation must then
revoke what was minted), and the event holding its lock while the mint waits (the mint must
then be refused).
"""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from oauth2_provider.models import get_access_token_model, get_application_model

from tests.concurrency import THREAD_TIMEOUT, Background, can_mint, dot_accepts, wait_until_blocked_on_a_lock
from tests.factories import ApplicationFactory, UserFactory
from tests.test_account_event_mint import REFUSED_AT_MINT, password_grant
from token_admin import credentials
from token_admin.models import RevocationEvent
from token_admin.oauth2_validators import TokenAdminOAuth2Validator

AccessToken = get_access_token_model()
Application = get_application_model()
User = get_user_model()

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


class Pause:
    """Pause the first call of ``owner.name`` (in whichever thread) right after it returns."""

    def __init__(self, monkeypatch, owner, name):
        self.reached, self._resume = threading.Event(), threading.Event()
        original = getattr(owner, name)
        reached, resume = self.reached, self._resume

        def call_then_pause(*args, **kwargs):
            result = original(*args, **kwargs)
            if not reached.is_set():
                reached.set()
                resume.wait(THREAD_TIMEOUT)
            return result

        monkeypatch.setattr(owner, name, call_then_pause)

    def wait(self):
        assert self.reached.wait(THREAD_TIMEOUT), "the paused call was never reached"

    def resume(self):
        self._resume.set()


def change_password(user_pk):
    user = User.objects.get(pk=user_pk)
    user.set_password("a-new-password-1")
    user.save()


def deactivate(user_pk):
    user = User.objects.get(pk=user_pk)
    user.is_active = False
    user.save()


EVENTS = {"password change": change_password, "deactivation": deactivate}


@pytest.mark.parametrize("event", list(EVENTS))
def test_a_mint_holding_the_users_lock_is_revoked_by_the_event_that_waited(monkeypatch, event):
    alice = UserFactory()
    app = ApplicationFactory(authorization_grant_type=Application.GRANT_PASSWORD)
    minting = Pause(monkeypatch, credentials, "mint_refused")
    sign_in = Background(lambda: password_grant(app, alice))
    minting.wait()  # DOT's transaction holds a shared lock on alice's row

    account_event = Background(lambda: EVENTS[event](alice.pk))
    wait_until_blocked_on_a_lock()  # the event waits for the mint
    minting.resume()
    response = sign_in.join()
    account_event.join()

    assert response.status_code == 200, response.content
    minted = response.json()
    assert not dot_accepts(minted["access_token"])
    assert not can_mint(app, minted["refresh_token"])
    assert not AccessToken.objects.filter(user=alice).exists()
    assert RevocationEvent.objects.get().access_tokens_revoked == 1


@pytest.mark.parametrize("event", list(EVENTS))
def test_a_mint_waiting_on_the_events_lock_is_refused(monkeypatch, event):
    alice = UserFactory()
    app = ApplicationFactory(authorization_grant_type=Application.GRANT_PASSWORD)
    checked = Pause(monkeypatch, TokenAdminOAuth2Validator, "validate_user")
    sign_in = Background(lambda: password_grant(app, alice))
    checked.wait()  # the old password is checked; nothing minted yet

    recorded = Pause(monkeypatch, credentials, "record_change")
    account_event = Background(lambda: EVENTS[event](alice.pk))
    recorded.wait()  # the event holds alice's row lock, its revocation not committed
    checked.resume()
    wait_until_blocked_on_a_lock()  # the mint waits for the event
    recorded.resume()
    account_event.join()
    response = sign_in.join()

    assert (response.status_code, response.json()) == (400, REFUSED_AT_MINT)
    assert not AccessToken.objects.filter(user=alice).exists()
