"""The host test configuration: ``tests.settings`` in a project as real products have it.

A custom user model from the first migration (``tests.hostapp``: UUID primary key, e-mail login,
no ``get_full_name``; DOT's six models swapped there too), German and a non-UTC time zone,
every URL module under ``/api/v2/`` (``tests.urls_host``) and restrictive DRF defaults. Run with
``python -m pytest --ds=tests.settings_host`` (``make test-host``: the modules it covers).
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS, REST_FRAMEWORK

# Before token_admin: its admin wraps the user admin registered before it.
INSTALLED_APPS = [*INSTALLED_APPS[: INSTALLED_APPS.index("token_admin")], "tests.hostapp", "token_admin"]
AUTH_USER_MODEL = "hostapp.User"
LANGUAGE_CODE = "de"
TIME_ZONE = "Europe/Berlin"
ROOT_URLCONF = "tests.urls_host"

# What a product's API sets for its own views; token_admin's styles keep their own auth, renderers,
# parsers, pagination and error format whatever these say.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 3,
    "EXCEPTION_HANDLER": "tests.hostapp.exceptions.wrapped_errors",
}

# DOT's swappable models, each swapped into the host app with one extra field (``tenant``).
OAUTH2_PROVIDER_APPLICATION_MODEL = "hostapp.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "hostapp.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "hostapp.RefreshToken"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "hostapp.IDToken"
OAUTH2_PROVIDER_GRANT_MODEL = "hostapp.Grant"
OAUTH2_PROVIDER_DEVICE_GRANT_MODEL = "hostapp.DeviceGrant"
