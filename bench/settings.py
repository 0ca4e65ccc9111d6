"""Settings of the benchmarks: the example project's, on PostgreSQL and Redis db 9.

The database ``bench_token_admin`` is created and dropped by ``bench/run.py``. Rate limits
and quotas are raised so that load generation measures the code path, not the 429/502
answers; the counters still run (one cache round trip per request, as in production).
"""

import os

import dj_database_url

from example_project.settings import *  # noqa: F403
from example_project.settings import BASE_DIR  # noqa: F401

BENCH_DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_token_admin")

DEBUG = False
ROOT_URLCONF = "bench.urls"
WSGI_APPLICATION = "bench.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("BENCH_DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/{BENCH_DB_NAME}"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9"),
        "KEY_PREFIX": "token_admin_bench",
    }
}

TOKEN_ADMIN = {
    "CACHE_ALIAS": "default",
    "ADN_RATE_LIMIT": 10**9,
    "SE_QUOTA_MAX": 10**9,
    "SE_QUOTA_MAX_WITH_KEY": 10**9,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "root": {"handlers": ["null"], "level": "ERROR"},
}
