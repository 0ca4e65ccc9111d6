"""Session rows follow the tokens DOT saves; their public id survives rotation."""

import pytest

from tests.factories import AccessTokenFactory, ApplicationFactory, UserFactory, issue_session, rotate
from token_admin.models import TokenSession

pytestmark = pytest.mark.django_db


def test_a_token_pair_is_one_session_that_keeps_its_id_across_rotation():
    user, app = UserFactory(), ApplicationFactory()
    access, refresh = issue_session(user, app)
    session = TokenSession.objects.get()
    assert session.token_family == refresh.token_family
    assert session.access_token_checksum is None
    assert (session.user, session.application) == (user, app)
    assert session.created_at == access.created

    rotate(refresh)
    rotate(refresh.__class__.objects.get(token_family=refresh.token_family, revoked__isnull=True))

    assert TokenSession.objects.get().public_id == session.public_id


def test_a_lone_access_token_is_a_session_of_its_own():
    token = AccessTokenFactory()
    session = TokenSession.objects.get()
    assert session.access_token_checksum == token.token_checksum
    assert session.token_family is None


def test_registration_tokens_make_no_session():
    AccessTokenFactory(scope="oauth2_provider:registration")
    assert not TokenSession.objects.exists()
