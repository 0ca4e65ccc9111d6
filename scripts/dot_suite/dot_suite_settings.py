"""DOT's own test settings with token_admin installed (used by scripts/dot_suite.sh).

``DOT_SUITE_BASE_SETTINGS`` names DOT's settings module to start from (``tests.settings``
by default). ``DOT_SUITE_VALIDATOR=dot`` keeps DOT's default validator; otherwise
``dot_suite_defaults`` makes token_admin's validator DOT's default.
"""

import importlib
import os

_base = importlib.import_module(os.environ.get("DOT_SUITE_BASE_SETTINGS", "tests.settings"))
globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

INSTALLED_APPS = (*_base.INSTALLED_APPS, "rest_framework", "token_admin", "dot_suite_defaults")
