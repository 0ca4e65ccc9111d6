"""Cache outages: a cache server of the test's own, stopped, hung or cut off, then back."""

from __future__ import annotations

import pytest
import redis
from django.core.cache import caches

pytestmark = pytest.mark.django_db


def test_the_harness_stops_hangs_cuts_and_brings_back_its_server(cache_server):
    cache = caches["outage"]
    cache.set("kept", 1)

    cache_server.hang()
    with pytest.raises(redis.exceptions.TimeoutError):
        cache.get("kept")
    cache_server.heal()
    assert cache.get("kept") == 1  # back, with what it held

    cache_server.cut()
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("kept")
    cache_server.heal()
    assert cache.get("kept") == 1

    cache_server.stop()
    with pytest.raises(redis.exceptions.ConnectionError):
        cache.get("kept")
    cache_server.start()
    assert cache.get("kept") is None  # a crash keeps nothing
