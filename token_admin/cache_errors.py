"""The errors a cache backend raises when its server is down, hung or unreachable.

Django's ``RedisCache`` lets redis-py's connection and timeout errors through; socket errors
(``OSError``, ``TimeoutError`` included) cover clients that raise them as they are. With
memcached, give pymemcache ``"OPTIONS": {"ignore_exc": True}``: a server that is down is then
a miss. Caught only around a cache call whose result is a shortcut (a remembered check that
can be made again from the database), never around database work, never as ``Exception``.
"""

from __future__ import annotations

CACHE_SERVER_ERRORS: tuple[type[Exception], ...] = (OSError,)

try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError:  # redis-py is not installed: no Redis cache to fail
    pass
else:
    CACHE_SERVER_ERRORS += (RedisConnectionError, RedisTimeoutError)
