import time

from django.core.cache import caches

from token_admin import ratelimit
from token_admin.ratelimit import hit, peek


def test_counts_each_request_in_the_window():
    first = hit("test", "1.2.3.4", limit=2, period=60, now=1200.0)
    second = hit("test", "1.2.3.4", limit=2, period=60, now=1210.0)
    third = hit("test", "1.2.3.4", limit=2, period=60, now=1259.5)
    assert (first.used, first.remaining, first.exceeded, first.reset_in) == (1, 1, False, 60)
    assert (second.used, second.remaining, second.exceeded, second.reset_in) == (2, 0, False, 50)
    assert (third.used, third.remaining, third.exceeded, third.reset_in) == (3, 0, True, 1)


def test_a_new_window_starts_afresh():
    hit("test", "key", limit=1, period=60, now=1200.0)
    assert hit("test", "key", limit=1, period=60, now=1260.0).used == 1


def test_identities_and_scopes_are_counted_apart():
    hit("test", "a", limit=5, period=60, now=1200.0)
    assert hit("test", "b", limit=5, period=60, now=1200.0).used == 1
    assert hit("other", "a", limit=5, period=60, now=1200.0).used == 1


# --- one cache round trip per request ------------------------------------------------------


class CountingCache:
    """A cache whose calls are recorded by method name."""

    def __init__(self, cache):
        self.cache, self.calls = cache, []

    def __getattr__(self, name):
        method = getattr(self.cache, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def test_any_cache_counts_in_one_call_once_the_window_has_begun(monkeypatch):
    counting = CountingCache(caches["default"])
    monkeypatch.setattr(ratelimit, "shared_cache", lambda: counting)
    hit("test", "key", limit=5, period=60, now=1200.0)
    assert counting.calls == ["incr", "add"]  # the window's first request creates its counter
    counting.calls.clear()
    assert hit("test", "key", limit=5, period=60, now=1210.0).used == 2
    assert counting.calls == ["incr"]


def test_on_redis_each_request_is_one_round_trip_and_the_counter_expires(cache_server, monkeypatch):
    import redis

    hit("warm", "up", limit=2, period=60)  # connected, the script loaded: not the count's
    sent = []
    send = redis.connection.Connection.send_packed_command

    def counted(connection, command, *args, **kwargs):
        sent.append(command)
        return send(connection, command, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted)
    now = time.time()
    windows = [hit("test", "1.2.3.4", limit=2, period=60, now=now) for _ in range(3)]

    # Django's RedisCache.incr alone would be two (EXISTS, then INCR), plus SET on the first.
    assert len(sent) == 3
    assert [(w.used, w.exceeded) for w in windows] == [(1, False), (2, False), (3, True)]
    assert peek("test", "1.2.3.4", limit=2, period=60, now=now).used == 3
    server = redis.Redis.from_url(cache_server.url)
    key = caches["outage"].make_key(ratelimit._key("test", "1.2.3.4", 60, now)[0])
    assert 0 < server.ttl(key) <= 61

    # A server that lost its scripts (restarted, SCRIPT FLUSH) is sent the script again.
    server.script_flush()
    assert hit("test", "1.2.3.4", limit=2, period=60, now=now).used == 4
