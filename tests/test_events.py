"""Revocation events: the outbox, the three formats, delivery through faults, admin, pruning.

A real loopback HTTP receiver (``tests/event_receiver.py``) takes every event and checks
its signature as a receiver would; the worker is the code ``deliver_events`` runs.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO
from urllib.parse import parse_qs

import jwt
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.event_receiver import Receiver as LoopbackReceiver
from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import json_id
from token_admin.events import delivery, formats
from token_admin.events.models import Delivery, Receiver
from token_admin.models import TokenSession
from token_admin.revocation import Actor, Selection, Surface, revoke

FAST = {"EVENTS_RETRY_BASE_SECONDS": 0.001, "EVENTS_RETRY_MAX_SECONDS": 0.002, "EVENTS_TIMEOUT_SECONDS": 0.5}


@pytest.fixture
def loopback():
    server = LoopbackReceiver()
    yield server
    server.stop()


@pytest.fixture
def fast(settings):
    settings.TOKEN_ADMIN = {
        **getattr(settings, "TOKEN_ADMIN", {}),
        **FAST,
        "EVENTS_ISSUER": "https://op.test",
    }


def webhook_receiver(url, **kwargs):
    return Receiver.objects.create(name="rs", url=url, **kwargs)


def verify_webhook(receiver):
    return lambda request: Webhook(receiver.secret).verify(request["body"], request["headers"])


def revoke_session(access_token, actor=None):
    return revoke(
        Selection.tokens([access_token]),
        surface=Surface.ADMIN,
        actor=actor or Actor.command("test"),
        reason="stolen laptop",
    )


def drain_until_done(passes=50):
    for _ in range(passes):
        delivery.drain()
        if not Delivery.objects.filter(status=Delivery.Status.PENDING).exists():
            return
        Delivery.objects.filter(status=Delivery.Status.PENDING, claimed_by=None).update(
            next_attempt_at=timezone.now()
        )
    raise AssertionError("events still pending")


def test_standard_webhooks_published_test_vector():
    # The spec's own vector: the library signs exactly as the spec says.
    signature = Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").sign(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        datetime.fromtimestamp(1614265330, dt_timezone.utc),
        '{"test": 2432232314}',
    )
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_webhook_signed_body_names_sessions_never_tokens(db, loopback, fast):
    receiver = webhook_receiver(loopback.url)
    loopback.verify = verify_webhook(receiver)
    user = UserFactory(username="alice")
    app = ApplicationFactory(name="Acc App")
    access, refresh = issue_session(user, app)
    session = TokenSession.objects.get(token_family=refresh.token_family)
    revocation = revoke_session(access)
    row = Delivery.objects.get()

    outcome = delivery.drain()

    assert (outcome.claimed, outcome.delivered) == (1, 1)
    [request] = loopback.received
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["webhook-id"] == f"msg_{row.event_id.hex}"
    assert "error" not in request
    assert request["verified"] == {
        "type": "token_admin.session.revoked",
        "timestamp": revocation.event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "revocation_id": revocation.event.pk,
            "revoked_at": revocation.event.created_at.isoformat().replace("+00:00", "Z"),
            "reason_category": "administrative",
            "initiated_by": "admin",
            "sessions": [
                {"id": str(session.public_id), "user_id": json_id(user.pk), "client_id": app.client_id}
            ],
            "sessions_total": 1,
            "users": [{"id": json_id(user.pk), "username": user.get_username()}],
            "apps": [{"client_id": app.client_id, "name": "Acc App"}],
            "counts": {"sessions": 1, "access_tokens": 1, "refresh_tokens": 1, "grants": 0},
        },
    }
    body = request["body"].decode()
    for secret in (access.raw_token, refresh.raw_token, access.token_checksum, refresh.token_checksum):
        assert secret not in body
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 1, 202)


def test_rotation_signs_with_both_secrets(db, loopback, fast):
    receiver = webhook_receiver(loopback.url)
    old = Webhook(receiver.secret)
    receiver.rotate_secret()
    loopback.verify = lambda request: (
        old.verify(request["body"], request["headers"]),
        Webhook(receiver.secret).verify(request["body"], request["headers"]),
    )
    revoke_session(issue_session(UserFactory(), ApplicationFactory())[0])
    delivery.drain()
    [request] = loopback.received
    assert "error" not in request
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2


def test_caep_session_revoked_set(db, loopback, fast):
    receiver = Receiver.objects.create(
        name="caep", url=loopback.url, format=Receiver.Format.CAEP, audience="https://rs.test"
    )
    # The key object itself: jwt.decode takes a PyJWK only from PyJWT 2.9 (2.8 is supported).
    key = jwt.PyJWK(receiver.public_jwk()).key
    loopback.key = lambda request: jwt.decode(request["body"], options={"verify_signature": False})["jti"]
    loopback.verify = lambda request: jwt.decode(
        request["body"], key, algorithms=["ES256"], audience="https://rs.test", issuer="https://op.test"
    )
    user = UserFactory()
    app = ApplicationFactory()
    first, first_refresh = issue_session(user, app)
    issue_session(user, app)
    revocation = revoke(
        Selection.users([user]), surface=Surface.POLICY, actor=Actor.policy("password change")
    )
    delivery.drain()

    assert len(loopback.received) == 2
    sessions = sorted(str(s.public_id) for s in TokenSession.objects.filter(user=user))
    claims = [request["verified"] for request in loopback.received]
    assert sorted(claim["sub_id"]["id"] for claim in claims) == sessions
    for request, claim in zip(loopback.received, claims, strict=True):
        assert request["headers"]["content-type"] == "application/secevent+jwt"
        header = jwt.get_unverified_header(request["body"])
        assert header == {"alg": "ES256", "typ": "secevent+jwt", "kid": receiver.key_id}
        assert claim["sub_id"]["format"] == "opaque"
        assert claim["events"] == {
            formats.CAEP_SESSION_REVOKED: {
                "event_timestamp": int(revocation.event.created_at.timestamp()),
                "initiating_entity": "policy",
                "reason_admin": {"en": "account_change"},
            }
        }
        assert first.raw_token not in request["body"].decode()
    assert len({claim["jti"] for claim in claims}) == 2


def test_backchannel_logout_token_to_the_apps_uri(db, loopback, fast):
    app = ApplicationFactory()
    other = ApplicationFactory()
    receiver = Receiver.objects.create(
        name="rp",
        url=loopback.url,
        format=Receiver.Format.BACKCHANNEL_LOGOUT,
        application=app,
        algorithm="RS256",
    )
    # The key object itself: jwt.decode takes a PyJWK only from PyJWT 2.9 (2.8 is supported).
    key = jwt.PyJWK(receiver.public_jwk()).key
    loopback.verify = lambda request: jwt.decode(
        parse_qs(request["body"].decode())["logout_token"][0],
        key,
        algorithms=["RS256"],
        audience=app.client_id,
    )
    loopback.key = lambda request: request["verified"]["jti"]
    user = UserFactory()
    access, refresh = issue_session(user, app)
    issue_session(user, other)
    revoke(Selection.users([user]), surface=Surface.ADMIN, actor=Actor.command("t"))
    delivery.drain()

    [request] = loopback.received  # the other app's session is not this RP's business
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    claims = request["verified"]
    session = TokenSession.objects.get(token_family=refresh.token_family)
    assert claims["sub"] == str(user.pk)
    assert claims["sid"] == str(session.public_id)
    assert claims["iss"] == "https://op.test"
    assert claims["events"] == {formats.BACKCHANNEL_LOGOUT: {}}
    assert "nonce" not in claims
    assert (
        jwt.get_unverified_header(parse_qs(request["body"].decode())["logout_token"][0])["typ"]
        == "logout+jwt"
    )


def outbox_statements(queries):
    """The statements of a revocation that touch the receivers or the outbox."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if "token_admin_receiver" in q["sql"] or "token_admin_delivery" in q["sql"]
    ]


def test_no_receivers_no_rows_and_one_statement(db):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    with CaptureQueriesContext(connection) as queries:
        revoke_session(access)
    # The statement that writes the rows is the one that finds there are none to write.
    [statement] = outbox_statements(queries)
    assert statement.startswith("INSERT INTO")
    assert Delivery.objects.count() == 0


def test_one_statement_for_many_receivers_in_the_revocations_transaction(db):
    receivers = [webhook_receiver(f"http://127.0.0.1:9/{n}") for n in range(10)]
    Receiver.objects.filter(pk=receivers[0].pk).update(active=False)
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    with CaptureQueriesContext(connection) as queries:
        revoke_session(access)
    [statement] = outbox_statements(queries)
    assert statement.startswith(('INSERT INTO "token_admin_delivery"', "INSERT INTO `token_admin_delivery`"))
    rows = Delivery.objects.order_by("pk")
    assert [row.receiver_id for row in rows] == [receiver.pk for receiver in receivers[1:]]
    # The database makes each row's id: distinct, random UUIDs (version 4, RFC 9562 variant).
    assert len({row.event_id for row in rows}) == 9
    assert {(row.event_id.version, row.event_id.variant) for row in rows} == {(4, uuid.RFC_4122)}


def test_a_rolled_back_revocation_leaves_no_event(db):
    webhook_receiver("http://127.0.0.1:9/")
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    with pytest.raises(RuntimeError), transaction.atomic():
        revoke_session(access)
        assert Delivery.objects.count() == 1
        raise RuntimeError("the caller's transaction fails")
    assert Delivery.objects.count() == 0


def test_nothing_revoked_no_event_paused_and_other_apps_receivers_get_none(db):
    app = ApplicationFactory()
    webhook_receiver("http://127.0.0.1:9/", active=False)
    webhook_receiver("http://127.0.0.1:9/", application=ApplicationFactory())
    mine = webhook_receiver("http://127.0.0.1:9/", application=app)
    revoke(Selection.users([UserFactory()]), surface=Surface.ADMIN, actor=Actor.command("t"))
    assert Delivery.objects.count() == 0
    revoke_session(issue_session(UserFactory(), app)[0])
    assert list(Delivery.objects.values_list("receiver", flat=True)) == [mine.pk]


def test_faults_every_event_processed_exactly_once_in_order(db, loopback, fast):
    receiver = webhook_receiver(loopback.url)
    loopback.verify = verify_webhook(receiver)
    loopback.stall_seconds = 1.0  # past the client's 0.5 s timeout
    user = UserFactory()
    app = ApplicationFactory()
    tokens = [issue_session(user, app)[0] for _ in range(6)]
    loopback.plan = [500, "stall", "drop", 503]
    for access in tokens[:3]:
        revoke_session(access)
    drain_until_done()
    # Down: connection refused, retried with backoff; then up on the same port.
    loopback.stop()
    for access in tokens[3:]:
        revoke_session(access)
    outcome = delivery.drain()  # stops: every row claimed must wait
    assert (outcome.claimed, outcome.delivered, outcome.retrying) == (3, 0, 1)
    assert Delivery.objects.filter(status="pending").order_by("pk").first().last_error == "connection failed"
    loopback.start()
    drain_until_done()

    expected = [
        f"msg_{event_id.hex}"
        for event_id in Delivery.objects.order_by("pk").values_list("event_id", flat=True)
    ]
    assert loopback.processed == expected  # once each, in revocation order
    assert len(loopback.received) > len(expected)  # the faults made it retry
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert all("error" not in request for request in loopback.received)


def test_deadline_marks_failed_and_retry_now_sends_it(db, loopback, settings, fast):
    webhook_receiver(loopback.url)
    settings.TOKEN_ADMIN = {
        **settings.TOKEN_ADMIN,
        "EVENTS_RETRY_BASE_SECONDS": 10,
        "EVENTS_RETRY_MAX_SECONDS": 10,
    }
    loopback.plan = [500]
    revoke_session(issue_session(UserFactory(), ApplicationFactory())[0])
    # The next try (in 5 to 10 s) would come after the deadline: the row fails at once.
    Delivery.objects.update(deadline_at=timezone.now() + timedelta(seconds=3))
    delivery.drain()
    row = Delivery.objects.get()
    assert (row.status, row.last_status_code, row.last_error) == ("failed", 500, "HTTP 500")
    assert delivery.retry_now(Delivery.objects.all()) == 1
    delivery.drain()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 2)


def test_backoff_is_exponential_with_jitter_and_capped(settings):
    settings.TOKEN_ADMIN = {
        **settings.TOKEN_ADMIN,
        "EVENTS_RETRY_BASE_SECONDS": 2,
        "EVENTS_RETRY_MAX_SECONDS": 30,
    }
    waits = {attempt: [delivery.backoff(attempt) for _ in range(200)] for attempt in (1, 2, 3, 10)}
    assert all(1 <= wait <= 2 for wait in waits[1])
    assert all(2 <= wait <= 4 for wait in waits[2])
    assert all(4 <= wait <= 8 for wait in waits[3])
    assert all(15 <= wait <= 30 for wait in waits[10])
    assert 15 <= delivery.backoff(100_000) <= 30  # days of retries do not overflow
    assert len(set(waits[3])) > 100


def test_command_once(db, loopback, fast):
    webhook_receiver(loopback.url)
    for _ in range(3):
        revoke_session(issue_session(UserFactory(), ApplicationFactory())[0])
    out = StringIO()
    call_command("deliver_events", "--once", "--format", "json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "claimed": 3,
        "delivered": 3,
        "retrying": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert len(loopback.processed) == 3
    with pytest.raises(CommandError, match="--interval must be a number of seconds"):
        call_command("deliver_events", "--interval", "0")


def test_prune_tokens_deletes_old_finished_rows(db):
    webhook_receiver("http://127.0.0.1:9/")
    for _ in range(3):
        revoke_session(issue_session(UserFactory(), ApplicationFactory())[0])
    old, pending, recent = Delivery.objects.order_by("pk")
    Delivery.objects.filter(pk__in=[old.pk, pending.pk]).update(created_at=timezone.now() - timedelta(days=8))
    Delivery.objects.filter(pk__in=[old.pk, recent.pk]).update(status="delivered")
    out = StringIO()
    call_command("prune_tokens", "--format", "json", stdout=out)
    assert json.loads(out.getvalue())["events"] == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
