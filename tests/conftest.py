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
