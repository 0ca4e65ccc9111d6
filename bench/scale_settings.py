"""Settings of ``bench/scale.py``: the benchmarks' settings, a per-process cache, two databases by name.

The scale bench runs every request in-process (Django's test client), so the cache is local
memory: the measured difference between sizes is the database's, not Redis's. The database
name is switched between ``bench_scale_small`` and ``bench_scale_large`` by ``bench/scale.py``.
"""

import os

from bench.settings import *  # noqa: F403
from bench.settings import DATABASES, TOKEN_ADMIN

DATABASES["default"]["NAME"] = os.environ.get("BENCH_SCALE_DB", "bench_scale_small")
DATABASES["default"]["CONN_MAX_AGE"] = None  # one connection per size, kept while it is in use

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The end-user API client's secret is hashed with PBKDF2 like any other; its check is cached
# (END_USER_SECRET_CACHE_SECONDS), so only the first call of each size pays for it.

# The leaked-token intake is timed with a scanner key, whose rate limit is out of the way.
TOKEN_ADMIN = {
    **TOKEN_ADMIN,
    "LEAKED_TOKENS_SCANNER_KEYS": {"bench-scanner": "bench"},
    "LEAKED_TOKENS_RATE_LIMIT_WITH_KEY": 10**9,
}
