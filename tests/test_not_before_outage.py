"""A watermark set or lifted while the cache server is partitioned (issue 26, finding 8).

The finding: ``revoke_tokens --global --not-before now`` committed during a partition but exited
1 (the cache update on commit failed), and once the partition healed the old cached value was
enforced: tokens from before the watermark worked again for minutes. Watermarks are now read
from the database in the token's own query, so nothing cached can heal into a stale answer.
Transactional: the commands commit, and whatever they would do on commit runs.
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.concurrency import dot_accepts
from tests.factories import ApplicationFactory, UserFactory, issue_session
from tests.helpers import bearer, url
from token_admin.models import NotBefore, RevocationEvent

pytestmark = pytest.mark.django_db(transaction=True)

# What a release that cached watermarks kept for "no global watermark" (epoch seconds, 0.0).
STALE = {"token_admin:not_before:global": 0.0}


def refused_everywhere(raw):
    adn = Client().get(url("/stream/0/token"), **bearer(raw))
    se = Client().get(url(f"/2.2/access-tokens/{raw}"))
    return not dot_accepts(raw) and adn.status_code == 401 and se.json()["items"] == []


@pytest.mark.parametrize("fault", ["cut", "hang", "stop"])
def test_a_global_watermark_set_during_a_partition_is_enforced_during_and_after_it(cache_server, fault):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    caches["outage"].set_many(STALE)
    getattr(cache_server, fault)()

    out = StringIO()
    call_command("revoke_tokens", "--global", "--not-before", "now", "--reason", "breach", stdout=out)

    assert "not-before" in out.getvalue().lower()
    assert NotBefore.objects.get(key="global").not_before > access.created
    assert RevocationEvent.objects.count() == 1
    assert refused_everywhere(access.raw_token)
    if fault == "stop":
        cache_server.start()
    else:
        cache_server.heal()
    assert refused_everywhere(access.raw_token)  # healed, with whatever it held: still refused


def test_a_watermark_lifted_during_a_partition_is_lifted_at_once(cache_server):
    access, _ = issue_session(UserFactory(), ApplicationFactory())
    call_command("revoke_tokens", "--global", "--not-before", "now", "--reason", "breach", stdout=StringIO())
    assert refused_everywhere(access.raw_token)
    cache_server.cut()

    call_command(
        "lift_not_before",
        "--global",
        "--to",
        (access.created - timedelta(seconds=1)).isoformat(),
        "--reason",
        "false alarm",
        stdout=StringIO(),
    )

    assert dot_accepts(access.raw_token)
    cache_server.heal()
    assert dot_accepts(access.raw_token)
    assert NotBefore.objects.get(key="global").not_before < timezone.now()
