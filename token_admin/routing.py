"""The last URL pattern of token_admin's URL modules: every other path under the mount answers
in the module's own format (a JSON 404, the account pages' 404 page), never Django's HTML page,
but a path that only lacks its trailing slash is left to ``APPEND_SLASH``. (Stack Exchange's
module keeps a plain catch-all: its paths take no slash, and an unknown one is ``no_method``.)

A plain catch-all (``re_path(r"^.*$", ...)``) makes every path under the mount valid, so
Django's ``CommonMiddleware`` never sees the 404 it would turn into a redirect:
``/account/sessions`` answered 404 instead of a redirect to ``/account/sessions/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.urls import URLPattern, URLResolver
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern

# [\s\S] rather than ".": a decoded %0A in the path must not escape to Django's HTML 404 page.
ANY_PATH = r"^[\s\S]*$"


class CatchAllPattern(RegexPattern):
    """Any path, except (with ``APPEND_SLASH``) one whose slashed form a pattern before it takes:
    the project's 404, which ``CommonMiddleware`` turns into a redirect to that form.

    ``RegexPattern`` is the class ``re_path()`` builds, not documented by Django; only ``match()``
    is overridden, and ``tests/test_append_slash.py`` fails if its contract changes.
    """

    def __init__(self, before: Sequence[URLPattern | URLResolver], name: str | None = None) -> None:
        super().__init__(ANY_PATH, name=name, is_endpoint=True)
        self.before = before

    def match(self, path: str) -> tuple[str, tuple[Any, ...], dict[str, Any]] | None:
        if settings.APPEND_SLASH and not path.endswith("/") and self.slashed_is_taken(path + "/"):
            return None
        return super().match(path)

    def slashed_is_taken(self, path: str) -> bool:
        for pattern in self.before:
            try:
                match = pattern.resolve(path)
            except Resolver404:
                continue
            # As CommonMiddleware: a view marked @no_append_slash gets no redirect.
            if match is not None and getattr(match.func, "should_append_slash", True):
                return True
        return False


def catch_all(
    view: Callable[..., Any], *, name: str, before: Sequence[URLPattern | URLResolver]
) -> URLPattern:
    """The module's last pattern: ``view`` for every path the patterns ``before`` it do not take,
    except a path that only lacks the trailing slash one of them has."""
    return URLPattern(CatchAllPattern(before, name=name), view, name=name)
