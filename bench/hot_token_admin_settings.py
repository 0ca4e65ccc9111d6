"""Side B of ``bench/hot_path.py``: side A with token_admin installed as the README's quick
start says (``TokenAdminOAuth2Validator``, a shared Redis cache with a socket timeout),
activity tracking, the App.net rate limit (raised so that no request is refused, still
counted) and not-before watermarks all on (defaults), on the same database as side A.
"""

import json
import os

from bench.hot_stock_settings import *  # noqa: F403
from bench.hot_stock_settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "token_admin"]
OAUTH2_PROVIDER = {"OAUTH2_VALIDATOR_CLASS": "token_admin.oauth2_validators.TokenAdminOAuth2Validator"}
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ.get("BENCH_HOT_REDIS_URL", "redis://127.0.0.1:6379/11"),
        "OPTIONS": {"socket_timeout": 0.5},
        "KEY_PREFIX": "bench_hot_path",
    }
}
TOKEN_ADMIN = {"CACHE_ALIAS": "default", "ADN_RATE_LIMIT": 10**9}
# To attribute a cost, e.g. BENCH_HOT_TOKEN_ADMIN='{"NOT_BEFORE_ENABLED": false}' (not the figure).
TOKEN_ADMIN.update(json.loads(os.environ.get("BENCH_HOT_TOKEN_ADMIN", "{}")))
