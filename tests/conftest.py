import pytest
from django.core.cache import caches

from tests import factories
from token_admin.events.outbox import CACHE_KEY as RECEIVERS_CACHE_KEY


@pytest.fixture(autouse=True)
def _clear_cache():
    """Quotas and rate limits live in the cache: each test starts with none used.

    The list of event receivers starts cached as empty (a fresh database has none; saving one
    clears it), as on a live site, so statement counts of ``revoke()`` do not depend on
    whether it is a test's first revocation.
    """
    caches["default"].clear()
    caches["default"].set(RECEIVERS_CACHE_KEY, [])
    yield
    caches["default"].clear()


@pytest.fixture
def user(db):
    return factories.UserFactory()


@pytest.fixture
def application(db):
    return factories.ApplicationFactory()


@pytest.fixture
def fresh_validator(settings):
    """DOT caches its server (and validator) on the token view: build it per request, and drop
    it after, from DOT's view and from token_admin's (the example project mounts that one)."""
    from oauth2_provider.views import TokenView

    from token_admin.oauth_views import TokenView as TokenAdminTokenView

    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALWAYS_RELOAD_OAUTHLIB_CORE": True}
    yield
    for view in (TokenView, TokenAdminTokenView):
        if "_oauthlib_core" in vars(view):
            del view._oauthlib_core
