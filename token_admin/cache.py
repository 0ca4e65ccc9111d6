"""The shared cache (``CACHE_ALIAS``), and what its outages raise.

token_admin's cache only ever makes an answer faster or a limit shared: it never decides
whether a token works. So each check that calls it knows what to do when the cache server is
down, hung or cut off, and does it here in one way::

    try:
        used = shared_cache().incr(key)
    except cache_errors() as error:
        report_outage("the App.net rate limit", error, "counts nothing")
        used = 0

Only the errors of cache clients are caught, never a database error: a check that degrades to
the database lets the database's own errors through. How long a hung server holds a request is
the cache's socket timeout (its ``OPTIONS``; the check ``token_admin.W003`` asks for one).
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from functools import lru_cache

from django.core.cache import BaseCache, caches

from token_admin.conf import conf

logger = logging.getLogger(__name__)

#: At most one WARNING per check and process in this many seconds, however many requests fail.
REPORT_INTERVAL = 60.0

# What each cache client raises when its server cannot be reached or does not answer. OSError:
# pymemcache lets socket errors through (refused, reset, timed out).
_CLIENT_ERRORS = (
    ("redis.exceptions", "RedisError"),  # Django's RedisCache and django-redis (redis-py)
    ("django_redis.exceptions", "ConnectionInterrupted"),
    ("pymemcache.exceptions", "MemcacheError"),
    ("pylibmc", "Error"),
)

_last_reported: dict[str, float] = {}
_report_lock = threading.Lock()


def shared_cache() -> BaseCache:
    """The cache ``CACHE_ALIAS`` names, shared by the server processes."""
    return caches[conf.CACHE_ALIAS]


@lru_cache(maxsize=1)
def cache_errors() -> tuple[type[Exception], ...]:
    """The exceptions of an unreachable or hung cache server, for every cache client installed."""
    errors: list[type[Exception]] = [OSError]
    for module_name, name in _CLIENT_ERRORS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        errors.append(getattr(module, name))
    return tuple(errors)


def report_outage(check: str, error: Exception, consequence: str) -> None:
    """Log that ``check`` could not reach the cache and what it did instead: one WARNING per
    check and process per ``REPORT_INTERVAL``, so an outage does not flood the log."""
    now = time.monotonic()
    with _report_lock:
        last = _last_reported.get(check)
        if last is not None and now - last < REPORT_INTERVAL:
            return
        _last_reported[check] = now
    # The error's type only: a client's message may quote a command, and keys can hold checksums.
    logger.warning(
        "Cache '%s' unreachable (%s): %s %s until it answers again.",
        conf.CACHE_ALIAS,
        type(error).__name__,
        check,
        consequence,
    )


def forget_reports() -> None:
    """Let every check warn again at its next outage (tests)."""
    with _report_lock:
        _last_reported.clear()
