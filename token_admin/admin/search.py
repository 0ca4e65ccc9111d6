"""The token lists' search box: users and apps first, then their rows by index.

Django's admin search joins every row of the list to its user and app and matches each with
``LIKE '%term%'``: no index serves that, so a search reads the whole token table (seconds at
a million tokens, and PostgreSQL's plan changes with the size). Here each term is looked up
in the users and the apps (tables far smaller than the tokens), at most ``MATCH_LIMIT`` of
each, exact matches (username, e-mail, client id) first; the list is then narrowed by the
``user_id`` and ``application_id`` indexes. Terms combine as Django's do: every term matches
the row's user or its app. A public id (a session's) finds its rows too, by index.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model

# Most users and most apps one search term stands for; past it the page says so.
MATCH_LIMIT = 100

# Django's search-field prefixes and the lookups they stand for.
_PREFIXES = {"^": "istartswith", "=": "iexact", "@": "search"}


_LOOKUPS = frozenset({"exact", "iexact", "contains", "icontains", "startswith", "istartswith"})


def _lookup(field: str) -> tuple[str, str]:
    """(field path, lookup) of a ``search_fields`` entry."""
    if field[:1] in _PREFIXES:
        return field[1:], _PREFIXES[field[:1]]
    path, separator, last = field.rpartition("__")
    if separator and last in _LOOKUPS:
        return path, last
    return field, "icontains"


def search_terms(search_term: str) -> list[str]:
    """The terms of a search, split as Django's admin splits them (quotes keep a phrase)."""
    terms = []
    for bit in smart_split(search_term):
        if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
            bit = unescape_string_literal(bit)
        if bit:
            terms.append(bit)
    return terms


def _matching(
    model: type[Model], fields: list[tuple[str, str]], exact: list[str], term: str
) -> tuple[list[Any], bool]:
    """Primary keys of at most ``MATCH_LIMIT`` rows of ``model`` that ``term`` matches, exact
    matches on the unique ``exact`` fields first (their index); and whether more match."""
    manager = model._default_manager
    found: list[Any] = []
    if exact:
        by_value = Q()
        for name in exact:
            by_value |= Q(**{name: term})
        found = list(manager.filter(by_value).order_by("pk").values_list("pk", flat=True)[:MATCH_LIMIT])
    condition = Q()
    for name, lookup in fields:
        condition |= Q(**{f"{name}__{lookup}": term})
    rest = manager.filter(condition).exclude(pk__in=found).order_by("pk").values_list("pk", flat=True)
    more = list(rest[: MATCH_LIMIT - len(found) + 1])
    truncated = len(found) + len(more) > MATCH_LIMIT
    return (found + more)[:MATCH_LIMIT], truncated


class OwnerSearchMixin:
    """``get_search_results`` by the rows' user and app (see the module docstring).

    The ``search_fields`` through ``user__`` and ``application__`` are matched in the users
    and apps; any other one (a project's own column) is matched on the rows, as Django does.
    ``exact_condition(term)`` adds rows a term names exactly (a public id); none by default.
    """

    model: type[Model]

    def exact_condition(self, term: str) -> Q | None:
        return None

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        terms = search_terms(search_term)
        fields = list(self.get_search_fields(request))  # type: ignore[attr-defined]
        if not terms or not fields:
            return queryset, False
        user_model, app_model = get_user_model(), get_application_model()
        user_fields, app_fields, own_fields = [], [], []
        for field in fields:
            path, lookup = _lookup(field)
            owner, _sep, rest = path.partition("__")
            if owner == "user" and rest:
                user_fields.append((rest, lookup))
            elif owner == "application" and rest:
                app_fields.append((rest, lookup))
            else:
                own_fields.append((path, lookup))
        user_exact = [name for name, _lookup_name in user_fields if _unique(user_model, name)]
        app_exact = [name for name, _lookup_name in app_fields if _unique(app_model, name)]
        condition = Q()
        for term in terms:
            matches = Q(pk__in=[])
            if user_fields:
                users, more_users = _matching(user_model, user_fields, user_exact, term)
                matches |= Q(user_id__in=users)
                if more_users:
                    self._too_many(request, term, users=True)
            if app_fields:
                apps, more_apps = _matching(app_model, app_fields, app_exact, term)
                matches |= Q(application_id__in=apps)
                if more_apps:
                    self._too_many(request, term, users=False)
            for name, lookup in own_fields:
                matches |= Q(**{f"{name}__{lookup}": term})
            exact = self.exact_condition(term)
            if exact is not None:
                matches |= exact
            condition &= matches
        return queryset.filter(condition), False

    def _too_many(self, request: HttpRequest, term: str, users: bool) -> None:
        params = {"limit": MATCH_LIMIT, "term": term}
        if users:
            message = _(
                "More than %(limit)d users match “%(term)s”: the list shows the rows of the first "
                "%(limit)d. Type more of the name."
            )
        else:
            message = _(
                "More than %(limit)d applications match “%(term)s”: the list shows the rows of the "
                "first %(limit)d. Type more of the name."
            )
        messages.warning(request, message % params)


def _unique(model: type[Model], name: str) -> bool:
    """Whether ``name`` is a unique column of ``model`` (an exact match is one index probe)."""
    try:
        field = model._meta.get_field(name)
    except Exception:  # noqa: BLE001  (a lookup through a relation: not one column)
        return False
    return bool(getattr(field, "unique", False) or getattr(field, "primary_key", False))


def as_uuid(term: str) -> UUID | None:
    try:
        return UUID(term)
    except ValueError:
        return None
