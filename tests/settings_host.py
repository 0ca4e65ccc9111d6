"""The host test configuration: ``tests.settings`` in a project as real products have it.

A custom user model from the first migration (``tests.hostapp``: UUID primary key, e-mail login,
no ``get_full_name``), German and a non-UTC time zone. Run with
``python -m pytest --ds=tests.settings_host`` (``make test-host``: the modules it covers).
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

# Before token_admin: its admin wraps the user admin registered before it.
INSTALLED_APPS = [*INSTALLED_APPS[: INSTALLED_APPS.index("token_admin")], "tests.hostapp", "token_admin"]
AUTH_USER_MODEL = "hostapp.User"
LANGUAGE_CODE = "de"
TIME_ZONE = "Europe/Berlin"
