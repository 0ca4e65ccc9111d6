"""Settings for the gunicorn servers that ``tests/test_multiprocess.py`` starts.

The test settings, pointed at the database pytest-django created (``TOKEN_ADMIN_SERVER_DB``)
and at one Redis cache that every server shares under one key prefix, with the small
quota and rate limit the test asks for. Never used by pytest itself.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["NAME"] = os.environ["TOKEN_ADMIN_SERVER_DB"]
# A fresh connection per request, as in the tests: the test database can be flushed between tests.
DATABASES["default"]["CONN_MAX_AGE"] = 0

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        # The same prefix in every server process: one quota, one rate limit.
        "KEY_PREFIX": os.environ["TOKEN_ADMIN_SERVER_CACHE_PREFIX"],
        "OPTIONS": {"socket_timeout": 0.5},
    }
}

TOKEN_ADMIN = {
    "ADN_RATE_LIMIT": int(os.environ["TOKEN_ADMIN_SERVER_ADN_RATE_LIMIT"]),
    "SE_QUOTA_MAX": int(os.environ["TOKEN_ADMIN_SERVER_SE_QUOTA"]),
    "SE_QUOTA_MAX_WITH_KEY": int(os.environ["TOKEN_ADMIN_SERVER_SE_QUOTA"]),
}
