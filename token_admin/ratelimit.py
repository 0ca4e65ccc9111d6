"""Fixed-window counters in Django's cache, shared by every server process using that cache.

Used for the App.net-style rate limit (per token), the Stack Exchange-style quota
(per IP or key) and the end-user API's failed-authentication throttle (``throttle``).
``cache.incr`` and ``cache.add`` are atomic on Redis and memcached, so two processes never
both see the same count. Each request costs one cache round trip: on Django's own Redis cache
(whose ``incr`` is two, EXISTS then INCR) one script, "INCR, and give the counter its expiry
if this created it"; on any other cache ``incr``, with ``add`` only for the first request of
a window.

While the cache cannot be reached, limits fail open: a request is answered as under its limit
and counts nothing (``Window.used`` 0), with one WARNING a minute (``token_admin.cache``). No
limit is worth an outage of the API, and revocations must never wait on the cache. A caller
that must keep counting asks for ``local=True``: counts then go to this process's memory.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.core.cache import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from token_admin.cache import cache_errors, report_outage, shared_cache

#: Counters of ``local=True`` callers while the shared cache is out: per process, bounded.
LOCAL_COUNTERS = LocMemCache("token_admin.ratelimit", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


@dataclass(frozen=True)
class Window:
    limit: int
    used: int  # requests counted in this window, this one included
    reset_in: int  # whole seconds until the window starts afresh (at least 1)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit


def hit(
    scope: str, identity: str, *, limit: int, period: int, now: float | None = None, local: bool = False
) -> Window:
    """Count one request of ``identity`` (e.g. a token checksum or an IP) in ``scope``.

    While the cache is out: counted nowhere (``used`` 0), or in ``LOCAL_COUNTERS`` if ``local``.
    """
    now = time.time() if now is None else now
    key, window_start = _key(scope, identity, period, now)
    try:
        used = _count(shared_cache(), key, period)
    except cache_errors() as error:
        report_outage(f"the {scope} limit", error, "counts in this process" if local else "counts nothing")
        used = _count(LOCAL_COUNTERS, key, period) if local else 0
    return Window(limit=limit, used=used, reset_in=_reset_in(window_start, period, now))


def peek(
    scope: str, identity: str, *, limit: int, period: int, now: float | None = None, local: bool = False
) -> Window:
    """The window of ``identity`` in ``scope`` as it stands, without counting a request.

    While the cache is out: nothing used, or what ``LOCAL_COUNTERS`` holds if ``local``.
    """
    now = time.time() if now is None else now
    key, window_start = _key(scope, identity, period, now)
    try:
        used = shared_cache().get(key) or 0
    except cache_errors() as error:
        report_outage(f"the {scope} limit", error, "counts in this process" if local else "counts nothing")
        used = (LOCAL_COUNTERS.get(key) or 0) if local else 0
    return Window(limit=limit, used=used, reset_in=_reset_in(window_start, period, now))


def _count(cache: BaseCache, key: str, period: int) -> int:
    if isinstance(cache, RedisCache):
        return _count_on_redis(cache, key, period)
    # One round trip in the common case: the window's counter exists already.
    try:
        return cache.incr(key)
    except ValueError:  # the first request of the window (or the counter just expired)
        return 1 if cache.add(key, 1, timeout=period + 1) else cache.incr(key)


# The window's counter counted, and given its expiry when this request created it: one
# command, atomic (a script runs alone), and no key is left without an expiry.
_REDIS_COUNT = """
local used = redis.call('INCR', KEYS[1])
if used == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return used
"""
# SHA-1 because Redis names scripts by it (not for security: FIPS builds allow it so).
_REDIS_COUNT_SHA = hashlib.sha1(_REDIS_COUNT.encode(), usedforsecurity=False).hexdigest()


def _count_on_redis(cache: RedisCache, key: str, period: int) -> int:
    # Django's RedisCache.incr asks EXISTS before INCR: two round trips, and a third (SET) for
    # a window's first request. This is one: EVALSHA, or EVAL the first time a server is
    # asked (it then keeps the script). Django stores an int as a plain Redis integer, so
    # ``peek``'s ``cache.get`` reads the counter back. (``_cache`` is Django's
    # RedisCacheClient: private, but what every RedisCache method goes through.)
    from redis.exceptions import NoScriptError

    full_key = cache.make_and_validate_key(key)
    client = cache._cache.get_client(full_key, write=True)
    try:
        used = client.evalsha(_REDIS_COUNT_SHA, 1, full_key, period + 1)
    except NoScriptError:
        used = client.eval(_REDIS_COUNT, 1, full_key, period + 1)
    return int(used)


def _reset_in(window_start: int, period: int, now: float) -> int:
    return max(1, math.ceil(window_start + period - now))


def _key(scope: str, identity: str, period: int, now: float) -> tuple[str, int]:
    window_start = int(now // period) * period
    # Hash the identity: keys stay short and safe for every cache backend (any client id works).
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"token_admin:{scope}:{digest}:{window_start}", window_start
