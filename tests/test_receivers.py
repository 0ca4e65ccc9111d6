"""Session bookkeeping survives every order of token writes DOT permits, and never raises.

The first three tests are DOT 3.4.1's own ``TestRefreshTokenModel`` cases (families built
directly through the ORM), which failed with an IntegrityError inside DOT's ``create()``
while token_admin was installed; CI cannot reach DOT's repository, so they live here too.
Each test ends with a query on the same connection: on PostgreSQL a statement that failed
inside the test's transaction would make it fail.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import pytest
from django.core import serializers
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session, rotate
from token_admin.models import TokenSession
from token_admin.receivers import repair_sessions

AccessToken = get_access_token_model()
RefreshToken = get_refresh_token_model()

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(), ApplicationFactory()


def make_refresh_token(owner, token_family, revoked=None, with_access_token=True):
    """DOT's ``TestRefreshTokenModel._make_refresh_token``: a member written with create()."""
    user, app = owner
    access_token = None
    if with_access_token:
        access_token = AccessToken.objects.create(
            user=user,
            token=f"access token for {secrets.token_urlsafe(8)}",
            application=app,
            expires=timezone.now() + timedelta(hours=1),
            scope="read write",
        )
    return RefreshToken.objects.create(
        user=user,
        token=secrets.token_urlsafe(32),
        application=app,
        access_token=access_token,
        token_family=token_family,
        revoked=revoked,
    )


def sessions():
    """Every session as (token_family, access_token_checksum), in a set."""
    return set(TokenSession.objects.values_list("token_family", "access_token_checksum"))


def test_dot_revoke_family_matches_revoking_each_member(owner):
    family = uuid.uuid4()
    live = make_refresh_token(owner, family)
    live_access_token_pk = live.access_token_id
    already_revoked_at = timezone.now() - timedelta(minutes=5)
    already_revoked = make_refresh_token(owner, family, revoked=already_revoked_at)
    other_family = make_refresh_token(owner, uuid.uuid4())
    no_family = make_refresh_token(owner, None)

    RefreshToken.revoke_family(family)

    live.refresh_from_db()
    assert live.revoked is not None
    assert live.access_token_id is None
    assert not AccessToken.objects.filter(pk=live_access_token_pk).exists()
    already_revoked.refresh_from_db()
    assert already_revoked.revoked == already_revoked_at
    assert already_revoked.access_token_id is None
    for untouched in (other_family, no_family):
        untouched.refresh_from_db()
        assert untouched.revoked is None
        assert untouched.access_token_id is not None
    # One session per family; the family-less pair's access token stays a lone session.
    assert sessions() == {
        (family, None),
        (other_family.token_family, None),
        (None, no_family.access_token.token_checksum),
    }


@pytest.mark.skipif(
    RefreshToken._meta.get_field("token_checksum").unique,
    reason="DOT after 3.4.1 makes RefreshToken.token_checksum unique: no two rows can share one",
)
def test_dot_revoke_family_when_two_live_members_share_a_checksum(owner):
    user, app = owner
    family = uuid.uuid4()
    first = make_refresh_token(owner, family)
    second = RefreshToken.objects.create(
        user=user,
        token=first.token,
        application=app,
        access_token=AccessToken.objects.create(
            user=user,
            token=f"access token for {secrets.token_urlsafe(8)}",
            application=app,
            expires=timezone.now() + timedelta(hours=1),
            scope="read write",
        ),
        token_family=family,
    )
    assert first.token_checksum == second.token_checksum

    RefreshToken.revoke_family(family)

    for member in (first, second):
        member.refresh_from_db()
        assert member.revoked is not None
        assert member.access_token_id is None
    assert first.revoked != second.revoked
    assert sessions() == {(family, None)}


def test_dot_revoke_family_query_count_does_not_grow_with_the_family(owner):
    def query_count_for(historical_members):
        family = uuid.uuid4()
        make_refresh_token(owner, family)
        for _ in range(historical_members):
            make_refresh_token(owner, family, revoked=timezone.now())
        with CaptureQueriesContext(connection) as captured:
            RefreshToken.revoke_family(family)
        return len(captured)

    assert query_count_for(1) == query_count_for(30)
    assert TokenSession.objects.filter(token_family__isnull=False).count() == 2


def test_the_first_member_created_directly_keeps_its_access_tokens_session_id(owner):
    user, app = owner
    access_token = AccessTokenFactory(user=user, application=app)
    lone = TokenSession.objects.get()
    family = uuid.uuid4()

    RefreshToken.objects.create(user=user, application=app, access_token=access_token, token_family=family)

    session = TokenSession.objects.get()
    assert (session.public_id, session.token_family, session.access_token_checksum) == (
        lone.public_id,
        family,
        None,
    )


def test_members_created_out_of_order_make_one_session(owner):
    user, app = owner
    family = uuid.uuid4()
    # A member without an access token first (an import script), then a revoked member,
    # then the live one, each with an access token of its own.
    RefreshToken.objects.create(user=user, application=app, token_family=family, token="a")
    make_refresh_token(owner, family, revoked=timezone.now())
    make_refresh_token(owner, family)

    assert sessions() == {(family, None)}
    assert TokenSession.objects.get().created_at <= timezone.now()


def test_two_members_sharing_an_access_token_make_one_session(owner):
    user, app = owner
    family = uuid.uuid4()
    first = make_refresh_token(owner, family)
    access_token = first.access_token
    # The access token's first refresh token goes (as clear_expired deletes it); DOT then
    # binds another member of the family to the surviving access token.
    first.delete()
    RefreshToken.objects.create(user=user, application=app, access_token=access_token, token_family=family)

    assert sessions() == {(family, None)}


def test_an_access_token_of_a_family_session_bound_to_another_family(owner):
    # The access token's session is already a family session; a refresh token of another
    # family is saved with it: neither write raises, and the new family has its session.
    user, app = owner
    first = make_refresh_token(owner, uuid.uuid4())
    access_token = first.access_token
    RefreshToken.objects.filter(pk=first.pk).update(access_token=None)
    other = uuid.uuid4()
    RefreshToken.objects.create(user=user, application=app, access_token=access_token, token_family=other)

    assert sessions() == {(first.token_family, None), (other, None)}


def test_a_rotation_writes_no_session_row(owner):
    _, refresh_token = issue_session(*owner)
    session = TokenSession.objects.get()

    with CaptureQueriesContext(connection) as captured:
        rotate(refresh_token)

    assert not [query for query in captured if "token_admin_tokensession" in query["sql"]]
    assert TokenSession.objects.get().public_id == session.public_id


def bulk_tokens(owner, family):
    """A lone access token and a token pair of ``family``, written with bulk_create (no signals)."""
    user, app = owner
    expires = timezone.now() + timedelta(hours=1)
    lone, paired = AccessToken.objects.bulk_create(
        [
            AccessToken(user=user, application=app, token="lone", expires=expires, scope="basic"),
            AccessToken(user=user, application=app, token="paired", expires=expires, scope="basic"),
        ]
    )
    paired = AccessToken.objects.get(token="paired")
    RefreshToken.objects.bulk_create(
        [RefreshToken(user=user, application=app, access_token=paired, token="r", token_family=family)]
    )
    return AccessToken.objects.get(token="lone"), paired


def test_bulk_creates_make_no_session_until_repaired(owner):
    family = uuid.uuid4()
    lone, _ = bulk_tokens(owner, family)
    assert not TokenSession.objects.exists()

    repaired = repair_sessions()

    assert repaired == {"family_sessions_created": 1, "lone_sessions_created": 1, "lone_sessions_dropped": 0}
    assert sessions() == {(family, None), (None, lone.token_checksum)}
    assert repair_sessions() == {
        "family_sessions_created": 0,
        "lone_sessions_created": 0,
        "lone_sessions_dropped": 0,
    }


def test_raw_saves_make_no_session_until_repaired(owner):
    # As loaddata writes them: every save is raw.
    family = uuid.uuid4()
    lone, paired = bulk_tokens(owner, family)
    fixture = serializers.serialize("json", [lone, paired, RefreshToken.objects.get()])
    RefreshToken.objects.all().delete()
    AccessToken.objects.all().delete()

    for obj in serializers.deserialize("json", fixture):
        obj.save()

    assert not TokenSession.objects.exists()
    assert repair_sessions()["family_sessions_created"] == 1
    assert sessions() == {(family, None), (None, lone.token_checksum)}


def test_repair_drops_the_lone_session_of_an_access_token_that_joined_a_family(owner):
    user, app = owner
    access_token = AccessTokenFactory(user=user, application=app)
    family = uuid.uuid4()
    RefreshToken.objects.bulk_create(
        [RefreshToken(user=user, application=app, access_token=access_token, token="x", token_family=family)]
    )
    assert sessions() == {(None, access_token.token_checksum)}

    assert repair_sessions() == {
        "family_sessions_created": 1,
        "lone_sessions_created": 0,
        "lone_sessions_dropped": 1,
    }
    assert sessions() == {(family, None)}
