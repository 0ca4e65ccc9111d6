import pytest
from django.core.cache import caches

from tests import factories


@pytest.fixture(autouse=True)
def _clear_cache():
    """Quotas and rate limits live in the cache: each test starts with none used."""
    caches["default"].clear()
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
    it after, from DOT's view and from token_admin's (tests/urls.py mounts that one)."""
    from oauth2_provider.views import TokenView

    from token_admin.oauth_views import TokenView as TokenAdminTokenView

    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "ALWAYS_RELOAD_OAUTHLIB_CORE": True}
    yield
    for view in (TokenView, TokenAdminTokenView):
        if "_oauthlib_core" in vars(view):
            del view._oauthlib_core


# The settings the example project sets for itself; the test database and cache stay.
EXAMPLE_PROJECT_SETTINGS = (
    "INSTALLED_APPS",
    "MIDDLEWARE",
    "ROOT_URLCONF",
    "TEMPLATES",
    "LOGIN_URL",
    "OAUTH2_PROVIDER",
    "SPECTACULAR_SETTINGS",
    "TOKEN_ADMIN",
)


@pytest.fixture
def example_project():
    """Run the test under the example project's own settings module (its app, demo pages and
    URLconf), on the test database and cache: the demo and smoke tests use it, nothing else."""
    from django.conf import settings
    from django.test import override_settings

    from example_project import settings as example
    from token_admin.signals import leaked_tokens_revoked

    example_user_model = getattr(example, "AUTH_USER_MODEL", "auth.User")
    if example_user_model != settings.AUTH_USER_MODEL:
        # A running process cannot swap its user model; these tests run under tests.settings.
        pytest.skip(
            f"the example project's settings use {example_user_model}, this run's AUTH_USER_MODEL "
            f"is {settings.AUTH_USER_MODEL} (the host configuration)"
        )
    with override_settings(**{name: getattr(example, name) for name in EXAMPLE_PROJECT_SETTINGS}):
        yield example
    # Its AppConfig.ready() connected the leak notices; the test settings do not have them.
    leaked_tokens_revoked.disconnect(dispatch_uid="example_project_leak_notices")


@pytest.fixture
def api_app(db):
    """An API client of the end-user token API (``ApplicationFactory(api_client=True)``)."""
    return factories.ApplicationFactory(api_client=True, name="Support desk")


@pytest.fixture
def hasher_calls(monkeypatch):
    """The passwords given to the end-user API's secret check (PBKDF2 in production, ~0.6 s each)."""
    from token_admin.api.end_user import authentication

    calls = []
    real_check = authentication.check_password

    def counting_check(password, encoded, *args, **kwargs):
        calls.append(password)
        return real_check(password, encoded, *args, **kwargs)

    monkeypatch.setattr(authentication, "check_password", counting_check)
    return calls


@pytest.fixture
def people(db):
    """alice and bob, and the apps Stream and Web (client ids "stream" and "web"): the cast of
    the watermark tests, which add the sessions they need."""
    return {
        "alice": factories.UserFactory(username="alice"),
        "bob": factories.UserFactory(username="bob"),
        "stream": factories.ApplicationFactory(name="Stream", client_id="stream"),
        "web": factories.ApplicationFactory(name="Web", client_id="web"),
    }


@pytest.fixture
def cache_server(settings):
    """A Redis server of the test's own (``tests/cacheserver.py``) that the test can stop, start,
    cut off and hang; TOKEN_ADMIN's ``CACHE_ALIAS`` points at it (``"outage"``, with waits of at
    most 0.3 s per call), the ``default`` cache stays. Skipped without ``redis-server``; a test
    using it fails after 60 s rather than hanging."""
    from tests import cacheserver
    from token_admin import ratelimit
    from token_admin.cache import forget_reports

    if not cacheserver.REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    server = cacheserver.CacheServer()
    settings.CACHES = {
        **settings.CACHES,
        "outage": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
            # Passed to redis-py's connection pool: bounded connects and replies.
            "OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.3},
        },
    }
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "CACHE_ALIAS": "outage"}
    # Each test's outage warns afresh and counts from nothing in this process.
    forget_reports()
    ratelimit.LOCAL_COUNTERS.clear()
    try:
        with cacheserver.time_limit(60):
            yield server
    finally:
        server.close()
