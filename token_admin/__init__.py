"""django-token-admin: see and revoke django-oauth-toolkit tokens per user, app and device."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("django-token-admin")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0"
