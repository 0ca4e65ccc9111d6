"""Settings of the example project: SQLite by default, ``DATABASE_URL`` and ``REDIS_URL`` to change.

A demo, not production settings: DEBUG is on and the secret key is fixed unless the
environment says otherwise.
"""

import os
from pathlib import Path

import dj_database_url

import token_admin
from token_admin.api.manage.scopes import SCOPES as TOKEN_ADMIN_SCOPES

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-not-secret")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["*"]

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
    "example_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}", conn_max_age=60, conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    DATABASES["default"].setdefault("OPTIONS", {})["charset"] = "utf8mb4"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Parallel writes queue instead of failing with "database is locked": every transaction
    # takes the write lock when it begins (IMMEDIATE), readers do not block the writer (WAL),
    # and a writer waits up to 20 s for the lock (busy timeout, in milliseconds).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }

if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {"socket_timeout": 0.5},  # a hung server: half a second, not forever
            "KEY_PREFIX": "token_admin_example",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "static"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The demo users' sign-in page (the admin's login takes staff only): DOT's authorize page sends
# the browser there.
LOGIN_URL = "/accounts/login/"

OAUTH2_PROVIDER = {
    "OAUTH2_VALIDATOR_CLASS": "token_admin.oauth2_validators.TokenAdminOAuth2Validator",
    "SCOPES": {
        "basic": "See your profile",
        "stream": "Read your stream",
        "write_post": "Post for you",
        "files": "Manage your files",
        **TOKEN_ADMIN_SCOPES,
    },
    "DEFAULT_SCOPES": ["basic"],
    "PKCE_REQUIRED": False,
    "DCR_ENABLED": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": os.environ.get("TOKEN_ADMIN_HASHED_TOKENS") == "1",
    # The demo's script client uses the password grant (RFC 9700 discourages it; a demo shows it).
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": False,
}

# The OpenAPI schema at /api/schema/ and the Swagger UI at /api/docs/ (token_admin.api.schema_urls).
SPECTACULAR_SETTINGS = {
    "TITLE": "django-token-admin",
    "VERSION": token_admin.__version__,
    "DESCRIPTION": "See and revoke django-oauth-toolkit access tokens: App.net, Stack Exchange and "
    "end-user token API styles.",
    # The schema documents the token APIs, not the schema view itself.
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from drf-spectacular-sidecar: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    # drf-spectacular's inspector for every DRF view (its own schema views need it).
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

TOKEN_ADMIN = {
    "CACHE_ALIAS": "default",
    # ``iss`` of the Security Event Tokens and logout tokens the demo's receivers get: the demo's
    # own origin (``make demo``); in production, your OpenID issuer URL.
    "EVENTS_ISSUER": "http://127.0.0.1:8000",
}
