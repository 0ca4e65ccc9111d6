"""Test settings: only what the tests need, nothing of the example project.

SQLite in memory by default, ``DATABASE_URL`` for PostgreSQL or MariaDB; ``REDIS_URL`` puts
the cache on Redis; ``TOKEN_ADMIN_HASHED_TOKENS=1`` runs everything with DOT's RFC 9700 token
storage (no cleartext token kept). The example project is tested under its own settings
(``tests/test_example_project.py`` and the demo modules, through the ``example_project`` fixture).
"""

import os

import dj_database_url

import token_admin
from token_admin.api.manage.scopes import SCOPES as TOKEN_ADMIN_SCOPES

SECRET_KEY = "tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "tests.urls"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "token_admin",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": dj_database_url.config(default="sqlite:///:memory:")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {})["charset"] = "utf8mb4"
    DATABASES["default"].setdefault("TEST", {})["CHARSET"] = "utf8mb4"

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"socket_timeout": 0.5},  # a hung server: half a second, not forever
            "KEY_PREFIX": f"token_admin_tests_{os.getpid()}",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Fast hashing for user passwords and (through DOT's "default" hasher) client secrets.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "token_admin.oauth2_validators.TokenAdminOAuth2Validator",
    "SCOPES": {
        "basic": "Basic",
        "stream": "Stream",
        "write_post": "Write posts",
        "files": "Files",
        **TOKEN_ADMIN_SCOPES,
    },
    "DEFAULT_SCOPES": ["basic"],
    "PKCE_REQUIRED": False,
    "DCR_ENABLED": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": os.environ.get("TOKEN_ADMIN_HASHED_TOKENS") == "1",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "django-token-admin",
    "VERSION": token_admin.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Nothing global: each API style authenticates on its own (as in a project that adopts it).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# The events tests deliver to receivers on loopback (tests/event_receiver.py): only that host.
TOKEN_ADMIN = {"EVENTS_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}
