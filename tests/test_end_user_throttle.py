"""End-user API: refusing is cheap and tells nothing.

* failed Basic authentications are throttled per client id and per IP (429, ``Retry-After``),
  and a throttled attempt computes no hash;
* an unknown client id costs the same one hash check as a known one;
* DELETE runs the same queries for a known and an unknown user, an own and a foreign session id,
  and a DELETE that revokes nothing writes no audit row (counted in the cache instead).

Timings are measured in ``bench/end_user_auth.py``, never asserted here.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import assert_end_user_contract_headers, basic_header
from tests.test_end_user_auth import MOUNT, assert_unauthorized
from token_admin import ratelimit
from token_admin.models import RevocationEvent, TokenSession

pytestmark = pytest.mark.django_db

TOO_MANY = {
    "code": "too_many_requests",
    "message": "Too many failed authentication attempts. Retry after the time in Retry-After.",
}


@pytest.fixture
def limits(settings):
    settings.TOKEN_ADMIN = {
        "END_USER_AUTH_FAILURES_PER_CLIENT": 3,
        "END_USER_AUTH_FAILURES_PER_IP": 5,
        "END_USER_AUTH_FAILURE_PERIOD": 300,
    }


def get(client, client_id: str, secret: str, ip: str = "10.0.0.1"):
    return client.get(
        f"{MOUNT}users/1/tokens", HTTP_AUTHORIZATION=basic_header(client_id, secret), REMOTE_ADDR=ip
    )


def assert_throttled(response) -> None:
    assert response.status_code == 429
    assert_end_user_contract_headers(response)
    assert json.loads(response.content) == TOO_MANY
    assert 1 <= int(response["Retry-After"]) <= 300
    assert "WWW-Authenticate" not in response


def test_failures_per_client_id_are_refused_with_429_before_any_hash(client, api_app, limits, hasher_calls):
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):  # three IPs: only the client id's count is full
        assert_unauthorized(get(client, api_app.client_id, "wrong", ip))
    assert len(hasher_calls) == 3

    response = get(client, api_app.client_id, "wrong", "10.0.0.4")

    assert_throttled(response)
    assert len(hasher_calls) == 3  # refused without hashing
    # Another client id from another IP is not affected.
    assert_unauthorized(get(client, "someone-else", "wrong", "10.0.0.5"))


def test_failures_per_ip_are_refused_whatever_the_client_id(client, limits, hasher_calls):
    for n in range(5):
        assert_unauthorized(get(client, f"made-up-{n}", "wrong"))

    assert_throttled(get(client, "made-up-5", "wrong"))
    assert len(hasher_calls) == 5
    assert get(client, "made-up-6", "wrong", ip="10.9.9.9").status_code == 401


def test_the_right_secret_still_gets_in_while_its_success_is_remembered(client, api_app, limits):
    user = UserFactory()
    issue_session(user, ApplicationFactory())
    response = client.get(f"{MOUNT}users/{user.pk}/tokens", HTTP_AUTHORIZATION=basic_header(api_app))
    assert response.status_code == 200
    for ip in ("10.0.0.2", "10.0.0.3", "10.0.0.4"):
        assert_unauthorized(get(client, api_app.client_id, "wrong", ip))
    assert_throttled(get(client, api_app.client_id, "wrong", "10.0.0.5"))

    # A guesser cannot lock the real client out: its remembered success needs no hash.
    response = client.get(
        f"{MOUNT}users/{user.pk}/tokens",
        HTTP_AUTHORIZATION=basic_header(api_app),
        REMOTE_ADDR="10.0.0.6",
    )
    assert response.status_code == 200


def test_a_success_does_not_count_as_a_failure(client, api_app, limits, hasher_calls):
    for _ in range(6):
        assert get(client, api_app.client_id, api_app.raw_secret).status_code in (200, 404)  # let in
    assert_unauthorized(get(client, api_app.client_id, "wrong"))


def test_a_zero_limit_turns_the_throttle_off(client, api_app, settings):
    settings.TOKEN_ADMIN = {"END_USER_AUTH_FAILURES_PER_CLIENT": 0, "END_USER_AUTH_FAILURES_PER_IP": 0}
    for _ in range(40):
        assert get(client, api_app.client_id, "wrong").status_code == 401


def test_an_unknown_client_id_costs_the_same_one_hash_check(client, api_app, hasher_calls):
    assert_unauthorized(get(client, api_app.client_id, "wrong-1"))
    assert_unauthorized(get(client, "no-such-client", "wrong-2"))
    assert_unauthorized(get(client, "no-such-client", ""))

    # One check each, the unknown id's against a dummy hash made with the configured hasher.
    assert hasher_calls == ["wrong-1", "wrong-2", ""]


def test_a_client_id_with_a_nul_character_is_a_plain_401(client, api_app):
    assert_unauthorized(get(client, api_app.client_id + "\x00", api_app.raw_secret))


def test_known_and_unknown_client_ids_run_the_same_queries(client, api_app):
    def statements(client_id: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert get(client, client_id, "wrong").status_code == 401
        return [re.sub(r"'[^']*'|\d+", "?", query["sql"]) for query in queries.captured_queries]

    assert statements(api_app.client_id) == statements("x" * len(api_app.client_id))


# --- DELETE: one path for every user and session id --------------------------------------------


@pytest.fixture
def deleter(client, api_app):
    def delete(user_id, session_id):
        return client.delete(
            f"{MOUNT}users/{user_id}/tokens/{session_id}",
            HTTP_AUTHORIZATION=basic_header(api_app),
        )

    delete(1, uuid.uuid4())  # the secret check is remembered: the calls below compare the rest
    return delete


def unknown_user_id(user):
    """An id of the user model's key type that no user has (an integer, or a UUID in the host
    configuration): it takes the same path as a known user's."""
    return user.pk + 1000 if isinstance(user.pk, int) else uuid.uuid4()


def delete_statements(deleter, user_id, session_id) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = deleter(user_id, session_id)
    assert response.status_code == 204
    assert response.content == b""
    assert_end_user_contract_headers(response)
    # Ids and values differ; the statements, their number and their order must not.
    return [re.sub(r"'[^']*'|\d+", "?", query["sql"]) for query in queries.captured_queries]


def test_delete_runs_the_same_queries_for_known_and_unknown_users_and_foreign_sessions(deleter):
    owner, other = UserFactory(), UserFactory()
    issue_session(owner, ApplicationFactory())
    session = TokenSession.objects.get()
    unknown_user = unknown_user_id(other)

    known_user_foreign_session = delete_statements(deleter, other.pk, session.public_id)
    unknown_user_real_session = delete_statements(deleter, unknown_user, session.public_id)
    known_user_unknown_session = delete_statements(deleter, other.pk, uuid.uuid4())
    unknown_user_unknown_session = delete_statements(deleter, unknown_user, uuid.uuid4())

    assert known_user_foreign_session == unknown_user_real_session
    assert known_user_foreign_session == known_user_unknown_session
    assert known_user_foreign_session == unknown_user_unknown_session
    assert not RevocationEvent.objects.exists()
    # The owner's own session is revoked (and audited): the path above was a real revocation's.
    assert len(delete_statements(deleter, owner.pk, session.public_id)) > len(known_user_foreign_session)
    assert RevocationEvent.objects.get().refresh_tokens_revoked == 1


def test_delete_query_count_is_bounded_for_any_user(deleter, django_assert_max_num_queries):
    user = UserFactory()
    with django_assert_max_num_queries(8):
        deleter(user.pk, uuid.uuid4())
    with django_assert_max_num_queries(8):
        deleter(unknown_user_id(user), uuid.uuid4())


def test_no_op_deletes_are_counted_per_client_and_day_and_warned_about_once(
    deleter, api_app, settings, caplog
):
    settings.TOKEN_ADMIN = {"END_USER_NOOP_REVOCATIONS_WARNING": 3}
    caplog.set_level(logging.WARNING, logger="token_admin.api.end_user.views")

    nobody = unknown_user_id(UserFactory())
    for _ in range(5):
        deleter(nobody, uuid.uuid4())

    window = ratelimit.peek("end_user_noop_revocation", api_app.client_id, limit=3, period=86_400)
    assert window.used == 6  # the fixture's own call, and these five
    warnings = [record for record in caplog.records if "revoked nothing" in record.getMessage()]
    assert [record.getMessage() for record in warnings] == [
        f"End-user API client {api_app.client_id} made 3 revocations that revoked nothing today"
    ]
    assert not RevocationEvent.objects.exists()


def test_deletes_with_malformed_ids_count_as_revoking_nothing(deleter, api_app):
    # An integer id sent to a project whose users have UUID keys (or a session id that is no
    # UUID) revokes nothing, like an unknown id: counted, so the day's warning can tell.
    user = UserFactory()
    for user_id, session_id in (("abc", uuid.uuid4()), ("01", uuid.uuid4()), (user.pk, "not-a-session")):
        assert deleter(user_id, session_id).status_code == 204

    window = ratelimit.peek("end_user_noop_revocation", api_app.client_id, limit=1000, period=86_400)
    assert window.used == 1 + 3  # the fixture's own call, and these three
    assert not RevocationEvent.objects.exists()
