"""Mixins every token_admin admin uses: secret fields never filtered, ordered or searched,
and changelists that cost one page on tables of millions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, cast

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.core.paginator import Paginator
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db.models import F, IntegerField, JSONField, Model, OrderBy, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Extract
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)

from token_admin import queries
from token_admin.admin.utils import NO_FACETS, not_on_own_pages
from token_admin.models import TokenSession

if TYPE_CHECKING:
    pass

# --- secret fields: never filtered, ordered or searched ------------------------------------
#
# Django's ``lookup_allowed`` lets anyone with view permission filter on any field of the model
# (``?token__gte=<prefix>`` is a binary-search oracle: ~240 requests recover a token), ``o=``
# orders by any column of ``list_display``, and ``search_fields`` match substrings. Every admin
# on the default site is given ``SecretFieldsAdminMixin`` (see the registration at the end), which
# refuses each of these on the fields below, directly or through a relation.

#: Field names, per model, whose value mints or recovers a credential (a checksum is the key to
#: a token's row and narrows a brute force: it is secret for range and prefix filters too).
_SECRET_FIELDS: tuple[tuple[Callable[[], Any], tuple[str, ...]], ...] = (
    (get_access_token_model, ("token", "token_checksum")),
    (get_refresh_token_model, ("token", "token_checksum")),
    (get_id_token_model, ("token",)),
    (get_grant_model, ("code", "code_challenge")),
    (get_device_grant_model, ("device_code", "user_code")),
    (get_application_model, ("client_secret",)),
    (get_user_model, ("password",)),
    (lambda: TokenSession, ("access_token_checksum",)),
)


def secret_fields(model: type[Model]) -> frozenset[str]:
    """The secret fields of ``model`` (DOT's models resolved as the project swapped them)."""
    concrete = model._meta.concrete_model
    names: set[str] = set()
    for get_model, fields in _SECRET_FIELDS:
        if get_model()._meta.concrete_model is concrete:
            names.update(fields)
    # Only fields the model has (DOT's ID token keeps no token; a swapped one may).
    return frozenset(name for name in names if any(field.name == name for field in model._meta.fields))


def reaches_secret(model: type[Model], path: str) -> bool:
    """Whether a lookup, ordering or search path (``application__client_secret__startswith``)
    touches a secret field of ``model`` or of a model it goes through."""
    for part in path.lstrip("-^=@").split(LOOKUP_SEP):
        if part in secret_fields(model):
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a lookup or transform (``gte``, ``lower``): the field before it was not secret
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


def _expression_reaches_secret(model: type[Model], expression: Any) -> bool:
    if isinstance(expression, str):
        return reaches_secret(model, expression)
    flatten = getattr(expression, "flatten", None)
    nodes = flatten() if flatten is not None else ()
    names = [node.name for node in nodes if isinstance(node, F)]  # type: ignore[attr-defined]
    return any(reaches_secret(model, name) for name in names)


def _order_target(model_admin: Any, name: Any) -> Any:
    """What a ``list_display`` entry orders by, the way Django's ``ChangeList`` finds it."""
    if isinstance(name, str):
        try:
            return model_admin.model._meta.get_field(name).name
        except FieldDoesNotExist:
            pass
    attr = (
        name if callable(name) else getattr(model_admin, name, None) or getattr(model_admin.model, name, None)
    )
    if isinstance(attr, property):
        attr = attr.fget
    return getattr(attr, "admin_order_field", None)


class SecretSafeChangeList(ChangeList):
    """A changelist on which ``?o=<column>`` never orders by a secret field (Django's own
    ``get_ordering`` ignores ``sortable_by``)."""

    def get_ordering_field(self, field_name: Any) -> Any:
        order_field = super().get_ordering_field(field_name)
        return None if _expression_reaches_secret(self.model, order_field) else order_field

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        # Also the admin's ``ordering`` attribute and the model's Meta ordering, which Django
        # reads directly when ``get_ordering()`` is empty.
        ordering = super().get_ordering(request, queryset)
        kept = [field for field in ordering if not _expression_reaches_secret(self.model, field)]
        # A unique secret field made the order total: the primary key makes it total again.
        return kept if kept == ordering else total_ordering(self.model, kept)


def total_ordering(model: type[Model], ordering: Sequence[Any]) -> list[Any]:
    """``ordering``, ending with ``-pk`` unless it already names the primary key or a unique
    non-null field: a changelist page then lists the same rows whatever the database.

    What Django's changelist does with a private method (``_get_deterministic_ordering``,
    gone in Django 6.1), ours so that it works on every supported version. A unique set of
    fields (``unique_together``) also gets the ``-pk``: redundant, never wrong.
    """
    opts = model._meta
    for part in ordering:
        named = part.expression if isinstance(part, OrderBy) else part
        if isinstance(named, str):
            name = named.lstrip("-")
        elif isinstance(named, F):
            name = named.name  # type: ignore[attr-defined]  # F's one attribute, untyped
        else:
            continue
        if name == "pk":
            return list(ordering)
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:
            continue  # "?" or a lookup through a relation
        # A relation named by its field orders by the related model's ordering: not total.
        if field.remote_field and name == field.name:
            continue
        if getattr(field, "primary_key", False) or (getattr(field, "unique", False) and not field.null):
            return list(ordering)
    return [*ordering, "-pk"]


#: Lookups no admin link uses, whose value the database may refuse only when the list renders
#: (a 500): an invalid pattern (and a pattern that backtracks for minutes), a range, which the
#: admin hands over as one string.
_REFUSED_LOOKUPS = frozenset({"regex", "iregex", "range"})


def refused_lookup(model: type[Model], path: str) -> bool:
    """Whether a URL lookup uses a refused lookup or goes into a JSON field (whose values
    and lookups the database checks only when the list renders)."""
    for part in path.split(LOOKUP_SEP):
        if part in _REFUSED_LOOKUPS:
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            continue  # a lookup or transform: a refused one is caught above
        if isinstance(field, JSONField):
            return True
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    return False


class SecretFieldsAdminMixin:
    """Refuses filters (400), ordering and search on secret fields, directly or through relations."""

    model: type[Model]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if reaches_secret(self.model, lookup) or refused_lookup(self.model, lookup):
            return False  # Django answers DisallowedModelAdminLookup: a 400, the same for every value
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]

    def get_search_fields(self, request: HttpRequest) -> Sequence[str]:
        fields = super().get_search_fields(request)  # type: ignore[misc]
        return [field for field in fields if not reaches_secret(self.model, field)]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        # The autocomplete view searches without the changelist's check of the URL (PostgreSQL
        # refuses a NUL in text: a 500): no row holds one.
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]

    def get_ordering(self, request: HttpRequest) -> Sequence[Any]:
        ordering = super().get_ordering(request) or ()  # type: ignore[misc]
        return [field for field in ordering if not _expression_reaches_secret(self.model, field)]

    def get_sortable_by(self, request: HttpRequest) -> Sequence[str]:
        # No sorting link on a secret column (the changelist would ignore it anyway).
        sortable = super().get_sortable_by(request)  # type: ignore[misc]
        return [
            name for name in sortable if not _expression_reaches_secret(self.model, _order_target(self, name))
        ]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _secret_safe(super().get_changelist(request, **kwargs))  # type: ignore[misc]

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        filter_params = {
            str(spec.parameter_name)
            for spec in self.get_list_filter(request)  # type: ignore[attr-defined]
            if isinstance(spec, type) and issubclass(spec, admin.SimpleListFilter)
        }
        check_lookup_values(self.model, request.GET, filter_params)
        return super().get_changelist_instance(request)  # type: ignore[misc]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        # Staff who may only view an object do not see its secrets on the change page either
        # (an application's client secret is shown in clear text when DOT does not hash it).
        exclude = list(super().get_exclude(request, obj) or ())  # type: ignore[misc]
        if obj is not None and not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            exclude += sorted(secret_fields(self.model) - set(exclude))
        return exclude


def check_lookup_values(
    model: type[Model], params: Any, filter_params: frozenset[str] | set[str] = frozenset()
) -> None:
    """``IncorrectLookupParameters`` (the admin's ``?e=1``) for URL values the database would
    fail on when the list renders, a 500: Django's own filters and search pass them through.

    * a NUL character anywhere (PostgreSQL refuses it in text);
    * an integer column (an id, a foreign key, a reverse relation's id) compared with a value
      out of its range;
    * a part of a date (``__year``, ``__month``, ...) compared with a value out of its range
      (a year outside 1 to 9999).

    ``filter_params`` are list filters' own parameters: not field lookups, even where one is
    named as a field (``?device=any`` on sessions); their filters check their values.
    """
    for lookup, values in params.lists():
        if any("\x00" in value for value in values):
            raise IncorrectLookupParameters("NUL character in a URL parameter")
        if lookup in filter_params or lookup.endswith(LOOKUP_SEP + "isnull"):
            continue
        field = _filtered_field(model, lookup)
        if not isinstance(field, IntegerField):
            continue
        for value in values:
            for part in value.split(",") if lookup.endswith("__in") else [value]:
                try:
                    field.run_validators(field.to_python(part))
                except ValidationError as exc:
                    raise IncorrectLookupParameters(exc) from exc


def _filtered_field(model: type[Model], lookup: str) -> Any:
    """The column a URL filter compares (a foreign key's target), or None (``isnull``, unknown)."""
    field: Any = None
    for part in lookup.split(LOOKUP_SEP):
        if field is not None and field.is_relation:
            model = field.related_model
        elif field is not None:
            return _compared(field, part)  # a lookup or transform after a plain column
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None if part == "isnull" or field is None else _compared(field, part)
    return _compared(field, "exact") if field is not None else None


#: What a year (``__year``, ``__iso_year``) is compared as: the years a date can hold.
_YEAR = IntegerField(validators=[MinValueValidator(1), MaxValueValidator(9999)])


def _compared(field: Any, lookup: str) -> Any:
    if lookup in ("isnull", "regex", "iregex"):
        return None
    if field.is_relation:
        try:  # a reverse relation compares the other model's primary key
            return getattr(field, "target_field", None)
        except FieldError:
            return None
    transform = field.get_transform(lookup)
    if isinstance(transform, type) and issubclass(transform, Extract):
        return _YEAR if lookup in ("year", "iso_year") else IntegerField()
    return field


def _secret_safe(changelist: Any) -> type[ChangeList]:
    return _combined(SecretSafeChangeList, changelist)


@cache
def _combined(mixin: type[Any], changelist: type[Any]) -> type[ChangeList]:
    """``changelist`` with ``mixin``'s behaviour too (one class per pair)."""
    if issubclass(changelist, mixin):
        return changelist
    return type(changelist.__name__, (mixin, changelist), {"__module__": __name__})


class DeleteOnlyByCascadeMixin:
    """No Delete on the model's own pages, where deleting a row would revoke nothing, or revoke
    without the audit trail (each admin says which in its docstring); deleting the row's user
    or app still cascades to it, after revoking."""

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not_on_own_pages(self, request) and super().has_delete_permission(request, obj)  # type: ignore[arg-type,misc]


#: Set on a changelist request by ``PastedTokenSearchMixin``: ``(search term, whether it is a
#: whole token of the list)``. Its page then shows such a token in the search box only.
_PASTED_TOKEN = "token_admin_pasted_token"


class PastedTokenSearchMixin:
    """The search box also takes a pasted full token: the one row whose checksum is the
    token's sha256, and nothing else (no prefix or substring of a token ever matches).

    The page found that way keeps the token in its search box and nowhere else: Django carries
    the search term in every filter, sorting and paging link, in the hidden fields of the text
    filters and in each row's link (``_changelist_filters``). Those leave it out, and lead to
    the list without the search (on one row there is nothing to narrow or sort).

    Works with DOT's hashed storage, where ``token`` is blank and only the checksum is kept.
    """

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        # Decided before the changelist is built: it reads the preserved filters first.
        term = request.GET.get(SEARCH_VAR, "").strip()
        rows = self.get_queryset(request)  # type: ignore[attr-defined]
        setattr(request, _PASTED_TOKEN, (term, _finds_token(rows, term)))
        return super().get_changelist_instance(request)  # type: ignore[misc]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return _combined(PastedTokenChangeList, super().get_changelist(request, **kwargs))  # type: ignore[misc]

    def get_preserved_filters(self, request: HttpRequest) -> str:
        preserved = super().get_preserved_filters(request)  # type: ignore[misc]
        if not preserved or not pasted_token(request):
            return preserved
        params = request.GET.copy()
        del params[SEARCH_VAR]
        return urlencode({"_changelist_filters": params.urlencode()}) if params else ""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        checked = getattr(request, _PASTED_TOKEN, None)  # not by the autocomplete view
        found = checked[1] if checked and checked[0] == term else _finds_token(queryset, term)
        if found:
            return queryset.filter(token_checksum=queries.checksum(term)), False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


def pasted_token(request: HttpRequest) -> bool:
    """Whether this changelist request's search term is a whole token of its list."""
    checked = getattr(request, _PASTED_TOKEN, None)
    return bool(checked and checked[1])


def _finds_token(queryset: QuerySet[Any], term: str) -> bool:
    if not term or any(character.isspace() for character in term):
        return False
    return queryset.filter(token_checksum=queries.checksum(term)).exists()


class PastedTokenChangeList(ChangeList):
    """A changelist whose links and hidden fields leave a pasted token out (its search box keeps it)."""

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.pasted_token = pasted_token(request)
        super().__init__(request, *args, **kwargs)
        if self.pasted_token:
            self.params.pop(SEARCH_VAR, None)  # the text filters' hidden fields

    def get_query_string(self, new_params: Any = None, remove: Any = None) -> str:
        if self.pasted_token:
            remove = [*(remove or ()), SEARCH_VAR]
        return super().get_query_string(new_params, remove)


# --- changelists that cost one page, whatever the size of the table ----------------------


class AtLeast(int):
    """A count that stopped at its limit: it compares as the limit and prints as "1,000+"."""

    def __str__(self) -> str:
        return f"{int(self):,}+"


class BoundedCountPaginator(Paginator):
    """Counts at most ``count_limit`` rows (then says "N+"), never the whole filtered table.

    Django's paginator runs ``COUNT(*)`` over every matching row on every page view: on a
    table of millions that is the most expensive query of the page. Counting a slice, in
    primary-key order whatever the page's sort (the number of rows is the same), is a short
    range of the primary-key index. Pages up to the limit stay reachable.
    """

    # 10 pages of 100: past that, staff narrow the list with a filter or a search.
    count_limit = 1_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not hasattr(queryset, "order_by"):
            return len(queryset)
        counted = queryset.order_by("-pk")[: self.count_limit + 1].count()
        return counted if counted <= self.count_limit else AtLeast(self.count_limit)


#: Set on a changelist request by the filters no index serves (``WindowedListFilter``): what
#: each keeps of a queryset, applied by ``PageChangeList`` within its window.
_WINDOW_FILTERS = "token_admin_window_filters"


def add_window_filter(request: HttpRequest, narrow: Callable[[QuerySet[Any]], QuerySet[Any]]) -> bool:
    """Have ``narrow`` applied within the newest ``PageChangeList.window_size`` rows of the
    list; False on a changelist that has no window (the filter then applies it itself)."""
    narrows = getattr(request, _WINDOW_FILTERS, None)
    if narrows is None:
        return False
    narrows.append(narrow)
    return True


class PageChangeList(ChangeList):
    """A changelist whose every page costs a bounded number of index reads.

    * It hands the rows of its page to ``model_admin.page_loaded`` once: per-row flags ("has
      a refresh token", "signed in") are read for the page's rows only, by their ids, instead
      of by a subquery per row that the database may answer by reading the whole other table.
    * It sorts only by the admin's ``sortable_by`` (Django's ``get_ordering`` would order by
      any column of ``list_display`` for ``?o=``), and by a relation's own column (its
      index), not by the other model's ordering (a join and a sort of the whole table).
    * A filter no index serves in the list's order (``WindowedListFilter``: expired, without
      a refresh token, on any device, ended...) looks at the newest ``window_size`` rows of
      the list as the other filters and the search leave it, as the staff API's windowed
      pages do: a filter that matches few rows, or none, would otherwise walk the whole
      table. The page says so when the window cut the list.
    """

    window_size = 10_000

    def get_ordering_field(self, field_name: Any) -> Any:
        sortable = self.sortable_by
        if isinstance(field_name, str) and sortable is not None and field_name not in sortable:
            return None
        order_field = super().get_ordering_field(field_name)
        if isinstance(order_field, str):
            try:
                field = self.model._meta.get_field(order_field.lstrip("-"))
            except FieldDoesNotExist:
                return order_field
            if field.many_to_one:
                return cast(Any, field).attname
        return order_field

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        ordering = list(super().get_ordering(request, queryset))
        # The primary key that makes the order total goes the way of the column sorted by, so
        # that one (column, id) index yields the rows in order, with no sort of a whole group
        # (the column's rows in one app, say) for the page.
        if len(ordering) >= 2 and ordering[-1] == "-pk":
            first = ordering[0]
            descending = (
                first.startswith("-") if isinstance(first, str) else getattr(first, "descending", True)
            )
            if not descending:
                ordering[-1] = "pk"
        return ordering

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet[Any]:
        setattr(request, _WINDOW_FILTERS, [])
        try:
            queryset = super().get_queryset(request, exclude_parameters)
            narrows = getattr(request, _WINDOW_FILTERS)
        finally:
            delattr(request, _WINDOW_FILTERS)
        if not narrows:
            return queryset
        # The newest rows first, whatever the page's sort: a walk of one index.
        edges = list(
            queryset.order_by("-pk").values_list("pk", flat=True)[self.window_size - 1 : self.window_size]
        )
        if edges:
            queryset = queryset.filter(pk__gte=edges[0])
            if not getattr(request, "_token_admin_window_said", False):
                request._token_admin_window_said = True  # type: ignore[attr-defined]
                messages.info(
                    request,
                    _(
                        "This filter looks at the newest %(size)s rows of the list only: choose a user "
                        "or an application, or search, to look further back."
                    )
                    % {"size": f"{self.window_size:,}"},
                )
        for narrow in narrows:
            queryset = narrow(queryset)
        return queryset

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        if not self.list_editable:  # the formset of an editable list needs the queryset itself
            self.result_list = LoadedPage(self.result_list, cast(Any, self.model_admin).page_loaded)


class LoadedPage(Sequence[Any]):
    """A page's rows, read when first used (an action's POST never reads them), then annotated."""

    def __init__(self, queryset: QuerySet[Any], loaded: Callable[[list[Any]], None]) -> None:
        self._queryset = queryset
        self._loaded = loaded
        self._rows: list[Any] | None = None

    @property
    def rows(self) -> list[Any]:
        if self._rows is None:
            self._rows = list(self._queryset)
            self._loaded(self._rows)
        return self._rows

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __len__(self) -> int:
        return len(self.rows)


class BigTableAdminMixin:
    """No full count, no facets, a bounded count, and per-page flags: a page costs one page."""

    show_full_result_count: ClassVar[bool] = False
    show_facets: ClassVar[Any] = NO_FACETS
    paginator: ClassVar[type] = BoundedCountPaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return PageChangeList

    def page_loaded(self, objects: list[Any]) -> None:
        """Annotate the rows of one changelist page (one query at most); nothing by default."""


def protect_secret_fields(site: admin.AdminSite = admin.site) -> None:
    """Give every admin registered on ``site`` ``SecretFieldsAdminMixin`` (DOT's grant and ID-token
    admins, the user admin, a project's own DOT admin classes, ...), keeping its own behaviour.

    Called when ``token_admin.admin`` registers its admins and again from
    ``TokenAdminConfig.ready()``, once every app's admin module has been imported, so admins
    registered after token_admin's are covered too.
    """
    # Every admin of the site, whoever registered it: Django has no public way to list them.
    for model, model_admin in list(site._registry.items()):
        registered = type(model_admin)
        if isinstance(model_admin, SecretFieldsAdminMixin):
            continue
        wrapped = type(
            registered.__name__,
            (SecretFieldsAdminMixin, registered),
            {"__module__": registered.__module__, "__doc__": registered.__doc__},
        )
        site.unregister(model)
        site.register(model, wrapped)
