"""Django admin for token_admin: see and revoke tokens, sessions, devices; read the audit trail.

Every revoking action goes through ``token_admin.revocation`` (set-based, audited) after a
confirmation page that shows what will be revoked and a typed reason. Revoking needs the
``token_admin.revoke_tokens`` permission on top of the model's view permission.

Registration: DOT's stock ``AccessTokenAdmin``, ``RefreshTokenAdmin`` and ``ApplicationAdmin``
are replaced by the subclasses below (DOT's revoke actions loop one token at a time and write
no audit event). A project that configured its own DOT admin class keeps it; it can subclass
the classes here instead. The project's user admin is wrapped with ``UserTokensAdminMixin``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, cast
from uuid import UUID

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
import oauth2_provider.admin as dot_admin
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import router, transaction
from django.db.models import Exists, F, IntegerField, Model, OuterRef, Q, QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import escape, format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from oauth2_provider.models import (
    get_access_token_model,
    get_application_model,
    get_device_grant_model,
    get_grant_model,
    get_id_token_model,
    get_refresh_token_model,
)
from oauth2_provider.settings import oauth2_settings

from . import audit, queries, watermarks
from .conf import conf
from .models import AppProfile, Device, RevocationEvent, TokenSession
from .revocation import Actor, Revocation, Selection, revoke

if TYPE_CHECKING:
    from django.db.models import Field
    from django_stubs_ext import StrOrPromise

REVOKE_PERMISSION = "token_admin.revoke_tokens"
SURFACE = RevocationEvent.Surface.ADMIN
# How many of the selected objects the confirmation page names; the rest are counted.
CONFIRMATION_SAMPLE = 20

# Facet counts (Django 5's ``?_facets``) run one COUNT per filter choice: never on big tables.
_NO_FACETS: Any = getattr(admin, "ShowFacets", None) and admin.ShowFacets.NEVER


def mask_checksum(checksum: str | None) -> str:
    """``…a1b2``: the end of DOT's token checksum, present even when DOT keeps no cleartext."""
    return f"…{checksum[-4:]}" if checksum else "…"


def _mask_html(token: Any) -> str:
    """The masked token on one line (the admin's columns would break it after the ellipsis)."""
    if token is None:
        return ""
    return format_html('<span style="white-space: nowrap">{}</span>', mask_checksum(token.token_checksum))


def _changelist_url(model: type[Model], **params: Any) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def _links(pairs: Iterable[tuple[str, Any]]) -> str:
    """Links joined by " · "; a link whose admin page is not registered is left out."""
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for url, label in pairs if url))


def _safe(url: Callable[[], str]) -> str:
    try:
        return url()
    except NoReverseMatch:
        return ""


def _session_conditions(sessions: QuerySet[TokenSession]) -> tuple[Q, Q]:
    """Conditions on access tokens (lone ones) and refresh tokens (families) of these sessions."""
    lone = sessions.filter(access_token_checksum__isnull=False).values("access_token_checksum")
    families = sessions.filter(token_family__isnull=False).values("token_family")
    return Q(token_checksum__in=lone), Q(token_family__in=families)


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
        return kept if kept == ordering else self._get_deterministic_ordering(kept)  # type: ignore[attr-defined]


class SecretFieldsAdminMixin:
    """Refuses filters (400), ordering and search on secret fields, directly or through relations."""

    model: type[Model]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if reaches_secret(self.model, lookup):
            return False  # Django answers DisallowedModelAdminLookup: a 400, the same for every value
        return super().lookup_allowed(lookup, value, request)  # type: ignore[misc]

    def get_search_fields(self, request: HttpRequest) -> Sequence[str]:
        fields = super().get_search_fields(request)  # type: ignore[misc]
        return [field for field in fields if not reaches_secret(self.model, field)]

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
        check_lookup_values(self.model, request.GET)
        return super().get_changelist_instance(request)  # type: ignore[misc]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Sequence[str]:
        # Staff who may only view an object do not see its secrets on the change page either
        # (an application's client secret is shown in clear text when DOT does not hash it).
        exclude = list(super().get_exclude(request, obj) or ())  # type: ignore[misc]
        if obj is not None and not self.has_change_permission(request, obj):  # type: ignore[attr-defined]
            exclude += sorted(secret_fields(self.model) - set(exclude))
        return exclude


def check_lookup_values(model: type[Model], params: Any) -> None:
    """``IncorrectLookupParameters`` (the admin's ``?e=1``) for URL values the database would
    fail on when the list renders, a 500: Django's own filters and search pass them through.

    * a NUL character anywhere (PostgreSQL refuses it in text);
    * an integer column (an id, a foreign key) compared with a value out of its range.
    """
    for lookup, values in params.lists():
        if any("\x00" in value for value in values):
            raise IncorrectLookupParameters("NUL character in a URL parameter")
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
            break  # a lookup or transform after a plain column
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None if part == "isnull" or field is None else _compared(field, part)
    return _compared(field, "exact") if field is not None else None


def _compared(field: Any, lookup: str) -> Any:
    if lookup in ("isnull", "regex", "iregex"):
        return None
    if field.is_relation:
        return getattr(field, "target_field", None) if field.concrete else None
    return field


@cache
def _secret_safe(changelist: type[ChangeList]) -> type[ChangeList]:
    if issubclass(changelist, SecretSafeChangeList):
        return changelist
    return type(changelist.__name__, (SecretSafeChangeList, changelist), {"__module__": __name__})


class PastedTokenSearchMixin:
    """The search box also takes a pasted full token: the one row whose checksum is the
    token's sha256, and nothing else (no prefix or substring of a token ever matches).

    Works with DOT's hashed storage, where ``token`` is blank and only the checksum is kept.
    """

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if term and not any(character.isspace() for character in term):
            matching = queryset.filter(token_checksum=queries.checksum(term))
            if matching.exists():
                return matching, False
        return super().get_search_results(request, queryset, search_term)  # type: ignore[misc]


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


class PageChangeList(ChangeList):
    """A changelist that hands the rows of its page to ``model_admin.page_loaded`` once.

    Per-row flags ("has a refresh token", "signed in") are then read for the page's rows only,
    in one query by their ids, instead of by a subquery per row that the database may answer
    by reading the whole other table.
    """

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
    show_facets: ClassVar[Any] = _NO_FACETS
    paginator: ClassVar[type] = BoundedCountPaginator

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return PageChangeList

    def page_loaded(self, objects: list[Any]) -> None:
        """Annotate the rows of one changelist page (one query at most); nothing by default."""


# --- list filters that never list every row of a big table -------------------------------


def parse_pk(model: type[Model], value: str) -> Any:
    """The primary key of ``model`` that ``value`` spells exactly, or ``IncorrectLookupParameters``.

    ``"²".isdigit()`` is true and ``int("²")`` fails; a 25-digit id is out of the column's range on
    every database: both were 500s. Django's changelist answers the exception the admin's own
    way (a redirect to ``?e=1``). Negative ids, leading zeros and other spellings are refused too.
    """
    field = model._meta.pk
    assert field is not None
    try:
        pk = field.to_python(value)
        field.run_validators(pk)  # the database's integer range
    except (ValidationError, ValueError, TypeError, OverflowError) as exc:
        raise IncorrectLookupParameters(exc) from exc
    if str(pk) != value or (isinstance(pk, int) and pk < 0):
        raise IncorrectLookupParameters(f"not a {model._meta.verbose_name} id")
    return pk


def parse_uuid(value: str) -> UUID:
    """A public id (session, device) as a UUID, or ``IncorrectLookupParameters``."""
    try:
        return UUID(value)
    except ValueError as exc:
        raise IncorrectLookupParameters(exc) from exc


class InputFilter(admin.SimpleListFilter):
    """A filter with a text box: nothing is listed, the staff user types the value."""

    template = "admin/token_admin/input_filter.html"
    placeholder: StrOrPromise = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        return [(value, self.describe(value))] if value else []

    def describe(self, value: str) -> StrOrPromise:
        return value

    def has_output(self) -> bool:
        return True

    # Its own template's keys, not those of Django's filter choices.
    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        value = self.value()
        yield {
            "parameter": self.parameter_name,
            "value": value or "",
            "display": self.lookup_choices[0][1] if value else "",
            "placeholder": self.placeholder,
            "all_query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "other_params": sorted(
                (name, param) for name, param in changelist.params.items() if name != self.parameter_name
            ),
        }


class ApplicationFilter(InputFilter):
    """Tokens of one app, by client id or exact name (links from an app use the client id)."""

    title = _("application")
    parameter_name = "app"
    placeholder = _("client id or name")

    def _condition(self, value: str, prefix: str = "") -> Q:
        return Q(**{f"{prefix}client_id": value}) | Q(**{f"{prefix}name__iexact": value})

    def describe(self, value: str) -> StrOrPromise:
        condition = self._condition(value)  # (no NUL: check_lookup_values refused it)
        names = list(queries.applications().filter(condition).values_list("name", flat=True)[:3])
        return ", ".join(names) or _("no such application")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        return queryset.filter(self._condition(value, "application__")) if value else None


class ChosenObjectFilter(admin.SimpleListFilter):
    """A filter set by a link (``?user=5``): it shows the chosen object only, never a list of all."""

    model: type[Model]
    lookup: str

    def _chosen(self) -> Model | None:
        value = self.value()
        return self.model._default_manager.filter(pk=parse_pk(self.model, value)).first() if value else None

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        if not value:
            return []
        chosen = self._chosen()
        return [(value, str(chosen) if chosen is not None else _("(not found)"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        return queryset.filter(**{self.lookup: parse_pk(self.model, value)})


class UserFilter(ChosenObjectFilter):
    title = _("user")
    parameter_name = "user"
    lookup = "user_id"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.model = get_user_model()
        super().__init__(*args, **kwargs)


class StatusFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("active", _("Active")), ("expired", _("Expired"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(expires__gt=now)
        if self.value() == "expired":
            return queryset.filter(expires__lte=now)
        return None


def _bound_refresh_token() -> Exists:
    """Whether an access token has a live refresh token (through the refresh token's forward key)."""
    return Exists(get_refresh_token_model().objects.filter(access_token=OuterRef("pk")))


class RefreshTokenFilter(admin.SimpleListFilter):
    # Django heads a filter "By <title>": a noun, so that it reads as plain words.
    title = _("refresh token")
    parameter_name = "refresh"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("yes", _("With one")), ("no", _("Without"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "yes":
            return queryset.filter(_bound_refresh_token())
        if self.value() == "no":
            return queryset.filter(~_bound_refresh_token())
        return None


class DeviceFilter(admin.SimpleListFilter):
    """On any device, on none, or on the one device a link chose (``?device=<pk>``)."""

    title = _("device")
    parameter_name = "device"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        choices: list[tuple[str, StrOrPromise]] = [("any", _("On a device")), ("none", _("Not on a device"))]
        value = self.value()
        if value and value not in ("any", "none"):
            device = Device.objects.filter(pk=parse_pk(Device, value)).first()
            choices.append((value, str(device) if device is not None else _("(not found)")))
        return choices

    def devices(self) -> QuerySet[Device] | None:
        value = self.value()
        if value == "any":
            return Device.objects.all()
        if value and value != "none":
            return Device.objects.filter(pk=parse_pk(Device, value))
        return None

    def condition(self, devices: QuerySet[Device]) -> Q:
        raise NotImplementedError

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "none":
            return queryset.exclude(self.condition(Device.objects.all()))
        devices = self.devices()
        return None if devices is None else queryset.filter(self.condition(devices))


class TokenDeviceFilter(DeviceFilter):
    def condition(self, devices: QuerySet[Device]) -> Q:
        lone_tokens, families = _session_conditions(TokenSession.objects.filter(device__in=devices))
        in_family = get_refresh_token_model().objects.filter(families, access_token__isnull=False)
        return lone_tokens | Q(pk__in=in_family.values("access_token_id")) | _own_client_device(devices)


class SessionDeviceFilter(DeviceFilter):
    def condition(self, devices: QuerySet[Device]) -> Q:
        return Q(device__in=devices) | _own_client_device(devices)


def _own_client_device(devices: QuerySet[Device]) -> Q:
    """Rows on a device's registered client that belong to the device's own user: another
    user's session on that client is never the device's (revoking the device leaves it)."""
    return Q(application__token_admin_device__in=devices) & Q(user=F("application__token_admin_device__user"))


class SessionFilter(admin.SimpleListFilter):
    """Access tokens of one session (``?session=<public id>``), set by the session's link."""

    title = _("session")
    parameter_name = "session"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if not self.value():
            return None
        sessions = TokenSession.objects.filter(public_id=parse_uuid(self.value() or ""))
        lone_tokens, families = _session_conditions(sessions)
        in_family = get_refresh_token_model().objects.filter(families, access_token__isnull=False)
        return queryset.filter(lone_tokens | Q(pk__in=in_family.values("access_token_id")))


class LiveSessionFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return [("live", _("Signed in")), ("ended", _("Ended"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        if self.value() == "live":
            return queryset.filter(_session_is_live())
        if self.value() == "ended":
            return queryset.exclude(_session_is_live())
        return None


class UnusedFilter(InputFilter):
    """Sessions unused for more than N days (``?unused_days=30``): last used before then, or
    never used and begun before then."""

    title = _("unused for more than (days)")
    parameter_name = "unused_days"
    placeholder = _("days, e.g. 30")
    MAX_DAYS = 36_500

    def describe(self, value: str) -> StrOrPromise:
        return _("more than %(days)s days") % {"days": value}

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        # ASCII digits without leading zeros only ("²".isdigit() is true; " 30", "+30",
        # "030" and "3e1" are refused too).
        strict = value.isascii() and value.isdigit() and len(value) <= 5 and value == str(int(value))
        if not (strict and 0 < int(value) <= self.MAX_DAYS):
            raise IncorrectLookupParameters(f"unused_days must be a number of days from 1 to {self.MAX_DAYS}")
        cutoff = timezone.now() - timedelta(days=int(value))
        return queryset.filter(
            Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)
        )


def _session_is_live() -> Q:
    """A session lives while its family has a live refresh token or its lone token is unexpired."""
    live_family = get_refresh_token_model().objects.filter(
        token_family=OuterRef("token_family"), revoked__isnull=True
    )
    live_lone = queries.valid_access_tokens().filter(token_checksum=OuterRef("access_token_checksum"))
    return Q(Exists(live_family)) | Q(Exists(live_lone))


class AboutFilter(admin.SimpleListFilter):
    """Audit events whose selection names a session or device public id (``?about=<uuid>``)."""

    title = _("session or device")
    parameter_name = "about"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        # A UUID is matched as text inside the selection JSON: the same on every database.
        return queryset.filter(selection__icontains=str(parse_uuid(value)))


# --- the confirmation page and the revoking actions -------------------------------------


class RevokeForm(forms.Form):
    """The confirmation page's form: a reason for the audit trail, and optionally one user."""

    # The admin's stylesheet shows labels of this class in bold.
    required_css_class = "required"

    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded in the audit event."),
    )

    def __init__(self, *args: Any, choose_user: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # TOKEN_ADMIN["REASON_REQUIRED"], read per form: the same policy as revoke_tokens'.
        reason = self.fields["reason"]
        reason.required = conf.REASON_REQUIRED
        reason.label = _("Reason (required)") if reason.required else _("Reason (optional)")
        if choose_user:
            user_model = get_user_model()
            field = cast("Field[Any, Any]", user_model._meta.get_field(user_model.USERNAME_FIELD))
            username = field.verbose_name
            self.fields["user"] = forms.CharField(
                label=_("Only for this user (%(field)s)") % {"field": username},
                required=False,
                help_text=_("Leave empty for every user."),
            )

    def clean_user(self) -> Any:
        username = self.cleaned_data.get("user", "").strip()
        if not username:
            return None
        user_model = get_user_model()
        try:
            return user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            raise forms.ValidationError(_("There is no user %(name)s."), params={"name": username}) from None


@dataclass(frozen=True)
class RevokeAction:
    """One revoking admin action and the ``Selection`` it revokes.

    ``select(queryset, user, select_across)`` builds the selection when the confirmation
    page is shown; the page counts it with a dry run and carries it, signed, to the
    confirming POST, which revokes that very selection. It is keyed on sessions and owners,
    so a refresh between the two pages cannot empty it.
    """

    name: str
    title: StrOrPromise
    select: Callable[[QuerySet[Any], Any, bool], Selection]
    choose_user: bool = False


# The confirmation page carries the selection it counted, signed for the staff user who saw
# it; a page older than this is counted again instead of being revoked.
SELECTION_MAX_AGE = 60 * 60
# Well under Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), which the confirming post must pass:
# about 100,000 selected sessions. Beyond it, revoke by user or app, or with the command.
SELECTION_MAX_BYTES = 1_500_000


def _sign_selection(
    request: HttpRequest, action: RevokeAction, selection: Selection, counted_user: str
) -> str:
    data = {"selection": selection.to_data(), "counted_user": counted_user}
    return signing.dumps(data, salt=_selection_salt(request, action), compress=True)


def _unsign_selection(request: HttpRequest, action: RevokeAction) -> tuple[Selection, str] | None:
    """The selection the confirmation page counted, and the user it was counted for."""
    signed = request.POST.get("selection", "")
    try:
        data = signing.loads(signed, salt=_selection_salt(request, action), max_age=SELECTION_MAX_AGE)
        return Selection.from_data(data["selection"]), str(data["counted_user"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def _selection_salt(request: HttpRequest, action: RevokeAction) -> str:
    return f"token_admin.admin.revoke:{action.name}:{request.user.pk}"


class RevocationAdminMixin:
    """Confirmation page, permission check and success message shared by the revoking actions."""

    def has_revoke_tokens_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REVOKE_PERMISSION)

    def describe_for_confirmation(self, obj: Any) -> str:
        """How the confirmation page names one selected object."""
        return str(obj)

    def run_revoke_action(
        self, request: HttpRequest, queryset: QuerySet[Any], action: RevokeAction
    ) -> HttpResponse | None:
        """Show the confirmation page; revoke once it comes back with a reason."""
        # get_actions() hides the action from staff without the permission; this refuses a forged post.
        if not self.has_revoke_tokens_permission(request):
            raise PermissionDenied
        select_across = request.POST.get("select_across") == "1"
        confirmed = request.POST.get("post") == "yes"
        form = RevokeForm(request.POST if confirmed else None, choose_user=action.choose_user)
        user = None
        if confirmed and form.is_valid():
            user = form.cleaned_data.get("user")
            typed = request.POST.get("user", "").strip()
            # Revoke only what the page counted: a user typed after the counting is counted first.
            counted = _unsign_selection(request, action)
            if counted is not None and (not action.choose_user or typed == counted[1]):
                result = revoke(
                    counted[0],
                    surface=SURFACE,
                    actor=Actor.staff(request.user),
                    reason=form.cleaned_data["reason"],
                )
                self.message_user(request, _success_message(result), messages.SUCCESS)  # type: ignore[attr-defined]
                return None
        selection = action.select(queryset, user, select_across)
        counts = revoke(selection, surface=SURFACE, actor=Actor.staff(request.user), dry_run=True)
        counted_user = request.POST.get("user", "").strip() if user is not None else ""
        signed = _sign_selection(request, action, selection, counted_user)
        if len(signed) > SELECTION_MAX_BYTES:
            self.message_user(  # type: ignore[attr-defined]
                request,
                _(
                    "Too many selected to confirm on one page. Revoke by user or app (the de-authorize "
                    "actions), or with the revoke_tokens command."
                ),
                messages.ERROR,
            )
            return None
        return self._render_confirmation(request, queryset, action, form, counts, user, counted_user, signed)

    def _render_confirmation(
        self,
        request: HttpRequest,
        queryset: QuerySet[Any],
        action: RevokeAction,
        form: RevokeForm,
        counts: Revocation,
        user: Any,
        counted_user: str,
        signed_selection: str,
    ) -> TemplateResponse:
        opts = self.model._meta  # type: ignore[attr-defined]
        select_across = request.POST.get("select_across") == "1"
        sample = list(queryset[:CONFIRMATION_SAMPLE])
        if select_across:
            # The whole filtered list is the selection; one posted id only marks the form as filled.
            selected_ids = [obj.pk for obj in sample[:1]]
            total = queryset.count()
        else:
            selected_ids = list(queryset.values_list("pk", flat=True))
            total = len(selected_ids)
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "title": action.title,
            "opts": opts,
            "action_name": action.name,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "selected_ids": selected_ids,
            "select_across": select_across,
            "total": total,
            "objects_name": opts.verbose_name if total == 1 else opts.verbose_name_plural,
            "sample": [self.describe_for_confirmation(obj) for obj in sample],
            "more": max(total - len(sample), 0),
            "counts": counts,
            "nothing_to_revoke": not counts.revoked_anything,
            "signed_selection": signed_selection,
            "choose_user": action.choose_user,
            "chosen_user": user,
            "counted_user": counted_user,
            "form": form,
            "cancel_url": request.get_full_path(),
        }
        request.current_app = self.admin_site.name  # type: ignore[attr-defined]
        return TemplateResponse(request, "admin/token_admin/revoke_confirmation.html", context)


class RevokeButtonMixin:
    """A "Revoke…" button on the change page and a title that names the object in plain words.

    The button posts ``revoke_button_action`` for this one object to the changelist, so it
    leads to the very confirmation page (and audit event) the changelist action does.
    """

    change_form_template: ClassVar[Any] = "admin/token_admin/change_form_revoke.html"
    revoke_button_action = ""

    def page_subtitle(self, obj: Any) -> str:
        """The change page's heading (Django's default is ``str(obj)``, e.g. "AccessToken #1")."""
        return str(obj)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None:
            context["subtitle"] = self.page_subtitle(obj)
            actions = self.get_actions(request)  # type: ignore[attr-defined]  # a ModelAdmin
            if self.revoke_button_action in actions:
                context["revoke_action"] = self.revoke_button_action
        return super().render_change_form(request, context, add, change, form_url, obj)  # type: ignore[misc]


def _owner_and_app(obj: Any) -> str:
    owner = obj.user.get_username() if obj.user_id else _("app token")
    app = obj.application.name if obj.application_id else "-"
    return _("%(owner)s on %(app)s") % {"owner": owner, "app": app}


def _success_message(result: Revocation) -> str:
    text = ngettext(
        "Revoked %(access)d access token", "Revoked %(access)d access tokens", result.access_tokens
    ) % {"access": result.access_tokens}
    text += ngettext(
        " and %(refresh)d refresh token", " and %(refresh)d refresh tokens", result.refresh_tokens
    ) % {"refresh": result.refresh_tokens}
    if result.grants:
        text += ngettext(
            ", deleted %(grants)d authorization code",
            ", deleted %(grants)d authorization codes",
            result.grants,
        ) % {"grants": result.grants}
    event = result.event
    assert event is not None  # only a dry run has no event, and it reports nothing here
    url = _safe(lambda: _change_url(event))
    if not url:
        return f"{text}."
    return format_html('{}. <a href="{}">Audit event {}</a>.', text, url, event.pk)


# --- access and refresh tokens (DOT's models, swappable) --------------------------------


class AccessTokenAdmin(
    RevokeButtonMixin,
    PastedTokenSearchMixin,
    SecretFieldsAdminMixin,  # before BigTableAdminMixin: it wraps the changelist that one picks
    BigTableAdminMixin,
    RevocationAdminMixin,
    dot_admin.AccessTokenAdmin,
):
    """DOT's access-token admin made read-only, fast on big tables, with audited revoke actions."""

    # Narrow enough for a 1366-px screen beside the filters; the scope is on the change page.
    list_display = ("masked_token", "user", "application", "expires", "is_active", "has_refresh")
    list_display_links = ("masked_token",)
    list_select_related = ("user", "application")
    list_filter = (
        ApplicationFilter,
        StatusFilter,
        RefreshTokenFilter,
        TokenDeviceFilter,
        UserFilter,
        SessionFilter,
    )
    # By user and app; a pasted full token finds its row by checksum (PastedTokenSearchMixin).
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    raw_id_fields = ("user", "application", "source_refresh_token", "id_token")
    fields = ("masked_token", "user", "application", "scope", "expires", "created", "updated", "related")
    readonly_fields = fields
    actions = ("revoke_selected_tokens", "deauthorize_selected_tokens")
    revoke_button_action = "revoke_selected_tokens"

    def page_subtitle(self, obj: Any) -> str:
        return _("Access token %(token)s · %(who)s") % {
            "token": mask_checksum(obj.token_checksum),
            "who": _owner_and_app(obj),
        }

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # DOT's registration tokens manage a client, not a session: left out, as on every surface.
        return super().get_queryset(request).exclude(scope=oauth2_settings.DCR_REGISTRATION_SCOPE)

    def page_loaded(self, objects: list[Any]) -> None:
        bound = set(
            get_refresh_token_model()
            .objects.filter(access_token__in=[obj.pk for obj in objects])
            .values_list("access_token_id", flat=True)
        )
        for obj in objects:
            obj.bound_refresh_token = obj.pk in bound

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Editing a token would bypass the audit trail: revoking is the only write here.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # As in DOT's admin, no Delete here: deleting an access token alone would leave its
        # refresh token able to mint another (revoke it instead). Deleting its user or app
        # still cascades to it, after revoking (ApplicationAdmin, UserTokensAdminMixin).
        return _not_on_own_pages(self, request) and admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.display(description=_("token"))
    def masked_token(self, obj: Any) -> str:
        return _mask_html(obj)

    @admin.display(description=_("active"), boolean=True, ordering="expires")
    def is_active(self, obj: Any) -> bool:
        return obj.expires > timezone.now()

    @admin.display(description=_("refresh token"), boolean=True)
    def has_refresh(self, obj: Any) -> bool:
        # Set for the page's rows by page_loaded; one query otherwise (e.g. a custom template).
        if not hasattr(obj, "bound_refresh_token"):
            self.page_loaded([obj])
        return bool(obj.bound_refresh_token)

    @admin.display(description=_("see also"))
    def related(self, obj: Any) -> str:
        session = _session_of(obj)
        device = session.device if session is not None else None
        if device is None and obj.application_id and obj.user_id:
            device = Device.objects.filter(application_id=obj.application_id, user_id=obj.user_id).first()
        links: list[tuple[str, Any]] = []
        if session is not None:
            links.append((_safe(lambda: _change_url(session)), _("its session")))
            audit_url = _safe(lambda: _changelist_url(RevocationEvent, about=session.public_id))
            links.append((audit_url, _("audit events of the session")))
        if device is not None:
            links.append((_safe(lambda: _change_url(device)), _("device: %(name)s") % {"name": device.name}))
        return _links(links) or "-"

    def describe_for_confirmation(self, obj: Any) -> str:
        owner = obj.user.get_username() if obj.user_id else _("app token")
        app = obj.application.name if obj.application_id else "-"
        return f"{mask_checksum(obj.token_checksum)} · {owner} · {app}"

    @admin.action(
        description=_("Revoke selected access tokens (with their sessions)"), permissions=["revoke_tokens"]
    )
    def revoke_selected_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_tokens",
                title=_("Revoke access tokens"),
                select=lambda qs, user, across: Selection.tokens(qs),
            ),
        )

    @admin.action(
        description=_("De-authorize the apps of selected tokens for their users"),
        permissions=["revoke_tokens"],
    )
    def deauthorize_selected_tokens(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        def pair_ids(qs: QuerySet[Any]) -> list[tuple[Any, Any]]:
            return list(
                qs.filter(user__isnull=False).order_by().values_list("user_id", "application_id").distinct()
            )

        def select(qs: QuerySet[Any], user: Any, across: bool) -> Selection:
            ids = pair_ids(qs)
            users = get_user_model()._default_manager.in_bulk({user_id for user_id, _ in ids})
            apps = get_application_model().objects.in_bulk({app_id for _, app_id in ids})
            pairs = Selection.user_apps([(users[user_id], apps[app_id]) for user_id, app_id in ids])
            # App tokens have no user to de-authorize: they are revoked themselves.
            app_tokens = list(qs.filter(user__isnull=True).values_list("pk", flat=True))
            return pairs | Selection.tokens(app_tokens) if app_tokens else pairs

        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="deauthorize_selected_tokens",
                title=_("De-authorize apps for users"),
                select=select,
            ),
        )


def _session_of(access_token: Any) -> TokenSession | None:
    """The session of an access token: its refresh-token family's, or its own if it came alone."""
    family = (
        get_refresh_token_model()
        .objects.filter(access_token_id=access_token.pk, token_family__isnull=False)
        .values_list("token_family", flat=True)
        .first()
    )
    condition = Q(access_token_checksum=access_token.token_checksum)
    if family is not None:
        condition |= Q(token_family=family)
    return TokenSession.objects.select_related("device").filter(condition).first()


class RefreshTokenAdmin(
    RevokeButtonMixin,
    PastedTokenSearchMixin,
    SecretFieldsAdminMixin,
    BigTableAdminMixin,
    RevocationAdminMixin,
    dot_admin.RefreshTokenAdmin,
):
    """DOT's refresh-token admin, read-only; its action revokes each token's whole session.

    DOT's own action revokes one token at a time and writes no audit event, so it is replaced.
    """

    list_display = ("masked_token", "user", "application", "created", "revoked")
    list_display_links = ("masked_token",)
    list_select_related = ("user", "application")
    list_filter = (ApplicationFilter, UserFilter)
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    fields = ("masked_token", "user", "application", "created", "updated", "revoked", "related")
    readonly_fields = fields
    actions = ("revoke_selected_refresh_tokens",)
    revoke_button_action = "revoke_selected_refresh_tokens"

    def page_subtitle(self, obj: Any) -> str:
        return _("Refresh token %(token)s · %(who)s") % {
            "token": mask_checksum(obj.token_checksum),
            "who": _owner_and_app(obj),
        }

    def describe_for_confirmation(self, obj: Any) -> str:
        return f"{mask_checksum(obj.token_checksum)} · {_owner_and_app(obj)}"

    @admin.action(
        description=_("Revoke selected refresh tokens (with their sessions)"), permissions=["revoke_tokens"]
    )
    def revoke_selected_refresh_tokens(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        def select(qs: QuerySet[Any], user: Any, across: bool) -> Selection:
            # A refresh token is one step of its family: the whole family (session) goes.
            families = sorted({str(f) for f in qs.values_list("token_family", flat=True) if f is not None})
            return Selection(
                families=frozenset(UUID(family) for family in families),
                described={"kind": "refresh_token_families", "token_families": families},
            )

        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_refresh_tokens", title=_("Revoke refresh tokens"), select=select
            ),
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting a live refresh token would revoke nothing of its session, and deleting a
        # revoked one would erase what DOT's reuse protection relies on.
        return _not_on_own_pages(self, request) and admin.ModelAdmin.has_delete_permission(self, request, obj)

    @admin.display(description=_("token"))
    def masked_token(self, obj: Any) -> str:
        return _mask_html(obj)

    @admin.display(description=_("see also"))
    def related(self, obj: Any) -> str:
        session = (
            TokenSession.objects.filter(token_family=obj.token_family).first() if obj.token_family else None
        )
        if session is None:
            return "-"
        return _links([(_safe(lambda: _change_url(session)), _("its session"))])


# --- applications --------------------------------------------------------------------------


class AppProfileInline(admin.StackedInline):
    model = AppProfile
    can_delete = False
    max_num = 1
    fields = ("link", "end_user_api", "allow_app_token")


def _token_links(application: Any) -> str:
    return _links(
        [
            (
                _safe(lambda: _changelist_url(get_access_token_model(), app=application.client_id)),
                _("tokens"),
            ),
            (_safe(lambda: _changelist_url(TokenSession, app=application.client_id)), _("sessions")),
        ]
    )


class ApplicationAdmin(
    RevokeButtonMixin,
    SecretFieldsAdminMixin,
    BigTableAdminMixin,
    RevocationAdminMixin,
    dot_admin.ApplicationAdmin,
):
    """DOT's application admin with token_admin's profile inline, token links and de-authorize."""

    inlines = (AppProfileInline,)
    # DOT's columns less the primary key and the registration source (on the change page).
    list_display = ("name", "user", "client_type", "authorization_grant_type", "token_links")
    list_select_related = ("user",)
    show_full_result_count = False
    show_facets = _NO_FACETS
    readonly_fields = (*dot_admin.ApplicationAdmin.readonly_fields, "token_links")
    actions = ("deauthorize_applications",)
    revoke_button_action = "deauthorize_applications"

    @admin.display(description=_("tokens"))
    def token_links(self, obj: Any) -> str:
        return _token_links(obj) if obj is not None and obj.pk else "-"

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, self.model._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Revoked first, audited with the staff user, then deleted: a cascade alone would
        # take the tokens with no audit event and no signal.
        with transaction.atomic(using=router.db_for_write(self.model)):
            revoke(
                Selection.applications(queryset.select_related(None).only("pk", "client_id")),
                surface=SURFACE,
                actor=Actor.staff(request.user),
                reason=str(_("Application deleted in the admin")),
                audit_empty=False,
            )
            super().delete_queryset(request, queryset)

    @admin.action(
        description=_("De-authorize selected apps (all users or one)"), permissions=["revoke_tokens"]
    )
    def deauthorize_applications(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="deauthorize_applications",
                title=_("De-authorize apps"),
                select=lambda qs, user, across: Selection.applications(
                    qs.select_related(None).only("pk", "client_id"), user=user
                ),
                choose_user=True,
            ),
        )


@admin.register(AppProfile)
class AppProfileAdmin(BigTableAdminMixin, admin.ModelAdmin):
    # Narrow enough for a 1366-px screen beside the filters; link and dates are on the change page.
    list_display = ("application", "end_user_api", "allow_app_token")
    list_select_related = ("application",)
    list_filter = ("end_user_api", "allow_app_token")
    search_fields = ("application__name", "application__client_id")
    raw_id_fields = ("application",)
    show_full_result_count = False


# --- token_admin's sessions and devices ---------------------------------------------------


@admin.register(TokenSession)
class TokenSessionAdmin(RevokeButtonMixin, BigTableAdminMixin, RevocationAdminMixin, admin.ModelAdmin):
    """Signed-in sessions (refresh-token families), read-only, with a revoke action."""

    list_display = ("public_id", "user", "application", "device", "created_at", "is_live")
    list_select_related = ("user", "application", "device")
    list_filter = (ApplicationFilter, LiveSessionFilter, SessionDeviceFilter, UserFilter, UnusedFilter)
    search_fields = ("application__client_id", "application__name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    fields = ("public_id", "user", "application", "device", "created_at", "token_family", "related")
    readonly_fields = fields
    actions = ("revoke_selected_sessions",)
    revoke_button_action = "revoke_selected_sessions"

    def page_subtitle(self, obj: TokenSession) -> str:
        owner = obj.user.get_username() if obj.user_id and obj.user else _("app")
        return _("Session of %(owner)s on %(app)s") % {"owner": owner, "app": obj.application}

    def describe_for_confirmation(self, obj: TokenSession) -> str:
        began = timezone.localtime(obj.created_at)
        return _("%(session)s, began %(began)s") % {
            "session": self.page_subtitle(obj),
            "began": f"{began:%Y-%m-%d %H:%M}",
        }

    # Activity (token_admin.activity), added to the fields above. On the list it shares the
    # "began" column (began, then last use and browser / OS below): the list still fits 1366 px.
    activity_fields = ("last_used_at", "last_ip", "browser_os")

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        columns = super().get_list_display(request)
        return tuple("began_and_last_use" if column == "created_at" else column for column in columns)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return (*super().get_fields(request, obj), *self.activity_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        return (*super().get_readonly_fields(request, obj), *self.activity_fields)

    @admin.display(description=_("browser / OS"))
    def browser_os(self, obj: TokenSession) -> str:
        said = [part for part in (obj.browser, obj.os, obj.device_family) if part]
        return " / ".join(said) or "-"

    @admin.display(description=_("began / last used"), ordering="created_at")
    def began_and_last_use(self, obj: TokenSession) -> str:
        began = f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M}"
        if obj.last_used_at is None:
            return format_html("{}<br><small>{}</small>", began, _("never used"))
        used = f"{timezone.localtime(obj.last_used_at):%Y-%m-%d %H:%M}"
        # One short line each, no wider than the date (the device family is on the session's page).
        browser_os = " / ".join(part for part in (obj.browser, obj.os) if part) or "-"
        return format_html("{}<br><small>{}<br>{}</small>", began, used, browser_os)

    def page_loaded(self, objects: list[Any]) -> None:
        families = [obj.token_family for obj in objects if obj.token_family is not None]
        checksums = [obj.access_token_checksum for obj in objects if obj.access_token_checksum]
        # Issue times, so a session whose tokens all predate a not-before watermark shows as
        # ended: the watermarks of the page's (user, app) pairs cost one cache round trip.
        live_families: dict[Any, Any] = {}
        for family, created in (
            get_refresh_token_model()
            .objects.filter(token_family__in=families, revoked__isnull=True)
            .values_list("token_family", "created")
        ):
            live_families[family] = max(created, live_families.get(family, created))
        live_lone = dict(
            queries.valid_access_tokens()
            .filter(token_checksum__in=checksums)
            .values_list("token_checksum", "created")
        )
        marks = watermarks.applicable_for((obj.user_id, obj.application_id) for obj in objects)
        for obj in objects:
            issued = live_families.get(obj.token_family) or live_lone.get(obj.access_token_checksum)
            obj.live = issued is not None and not watermarks.issued_before(
                issued, marks[obj.user_id, obj.application_id]
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are recorded when DOT issues tokens

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row would revoke nothing: "Revoke selected sessions" is the way a
        # session ends. (Deleting its user or app still cascades to it, after revoking.)
        return _not_on_own_pages(self, request) and super().has_delete_permission(request, obj)

    @admin.display(description=_("signed in"), boolean=True)
    def is_live(self, obj: TokenSession) -> bool:
        # Set for the page's rows by page_loaded; two queries otherwise.
        if not hasattr(obj, "live"):
            self.page_loaded([obj])
        return bool(obj.live)  # type: ignore[attr-defined]

    @admin.display(description=_("see also"))
    def related(self, obj: TokenSession) -> str:
        links: list[tuple[str, StrOrPromise]] = [
            (
                _safe(lambda: _changelist_url(get_access_token_model(), session=obj.public_id)),
                _("access tokens"),
            ),
            (_safe(lambda: _changelist_url(RevocationEvent, about=obj.public_id)), _("audit events")),
        ]
        device = obj.device  # (None without a query when the session has no device)
        if device is not None:
            links.append((_safe(lambda: _change_url(device)), _("device: %(name)s") % {"name": device}))
        return _links(links)

    @admin.action(description=_("Revoke selected sessions"), permissions=["revoke_tokens"])
    def revoke_selected_sessions(
        self, request: HttpRequest, queryset: QuerySet[TokenSession]
    ) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_sessions",
                title=_("Revoke sessions"),
                select=lambda qs, user, across: Selection.sessions(qs),
            ),
        )


@admin.register(Device)
class DeviceAdmin(RevokeButtonMixin, BigTableAdminMixin, RevocationAdminMixin, admin.ModelAdmin):
    list_display = ("name", "user", "type", "application", "created_at", "token_links")
    list_select_related = ("user", "application")
    list_filter = ("type", UserFilter)
    search_fields = ("name", *dot_admin.USER_SEARCH_FIELDS)
    show_full_result_count = False
    show_facets = _NO_FACETS
    raw_id_fields = ("user", "application")
    readonly_fields = ("public_id", "created_at", "token_links")
    actions = ("revoke_selected_devices",)
    revoke_button_action = "revoke_selected_devices"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row would leave its sessions and registered client working:
        # "Revoke selected devices" is the way a device is signed out. (Deleting its user
        # or client still cascades to it, after revoking.)
        return _not_on_own_pages(self, request) and super().has_delete_permission(request, obj)

    @admin.display(description=_("see also"))
    def token_links(self, obj: Device) -> str:
        if obj is None or obj.pk is None:
            return "-"
        return _links(
            [
                (_safe(lambda: _changelist_url(TokenSession, device=obj.pk)), _("sessions")),
                (_safe(lambda: _changelist_url(get_access_token_model(), device=obj.pk)), _("tokens")),
                (_safe(lambda: _changelist_url(RevocationEvent, about=obj.public_id)), _("audit events")),
            ]
        )

    @admin.action(description=_("Revoke selected devices"), permissions=["revoke_tokens"])
    def revoke_selected_devices(
        self, request: HttpRequest, queryset: QuerySet[Device]
    ) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_selected_devices",
                title=_("Revoke devices"),
                select=lambda qs, user, across: Selection.devices(qs),
            ),
        )


def _not_on_own_pages(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """False on this model admin's own pages (no Delete there); True when the admin asks while
    deleting something else that cascades to these rows (a user, an app)."""
    opts = model_admin.model._meta
    match = getattr(request, "resolver_match", None)
    url_name = getattr(match, "url_name", None) or ""
    return not url_name.startswith(f"{opts.app_label}_{opts.model_name}_")


# --- the audit trail ----------------------------------------------------------------------


@admin.register(RevocationEvent)
class RevocationEventAdmin(BigTableAdminMixin, admin.ModelAdmin):
    """The audit trail: readable, never added to, changed or deleted from the admin."""

    # The event as a sentence (who lost what, who revoked it, why), then its counts: fits
    # 1366 px; all of it on the event's page.
    list_display = ("created_at", "summary", "surface", "revoked_counts")
    list_filter = ("surface", "actor_type", AboutFilter)
    search_fields = ("actor_label", "reason")
    show_full_result_count = False
    show_facets = _NO_FACETS
    # Who, why and how many first: what a reader of the trail comes for.
    fields = (
        "created_at",
        "summary_with_links",
        "surface",
        "actor_label",
        "reason",
        "access_tokens_revoked",
        "refresh_tokens_revoked",
        "grants_revoked",
        "what",
        "actor_type",
        "actor_user",
        "actor_application",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("revoked"))
    def revoked_counts(self, obj: RevocationEvent) -> str:
        text = _("%(access)d access, %(refresh)d refresh") % {
            "access": obj.access_tokens_revoked,
            "refresh": obj.refresh_tokens_revoked,
        }
        if obj.grants_revoked:
            text += _(", %(grants)d codes") % {"grants": obj.grants_revoked}
        return text

    @admin.display(description=_("what happened"))
    def summary(self, obj: RevocationEvent) -> str:
        # Plain text on the list, no query per row for links; a long reason is cut short
        # (all of it on the event's page).
        return Truncator(audit.text(obj)).chars(160)

    @admin.display(description=_("what happened"))
    def summary_with_links(self, obj: RevocationEvent) -> str:
        """The sentence, with links to the users and apps that still exist (a query each)."""
        parts = audit.sentence(obj)
        models = {"user": get_user_model(), "app": get_application_model()}
        existing = {
            kind: {
                str(pk)
                for pk in model._default_manager.filter(
                    pk__in=[part.pk for part in parts if part.kind == kind and part.pk is not None]
                ).values_list("pk", flat=True)
            }
            for kind, model in models.items()
        }
        html = []
        for part in parts:
            url = ""
            if part.kind and str(part.pk) in existing[part.kind]:
                opts = models[part.kind]._meta
                name = f"admin:{opts.app_label}_{opts.model_name}_change"
                url = _safe(lambda: reverse(name, args=[part.pk]))  # noqa: B023 (called at once)
            html.append(format_html('<a href="{}">{}</a>', url, part.text) if url else escape(part.text))
        return mark_safe("".join(html))  # every part is escaped above

    @admin.display(description=_("selection"))
    def what(self, obj: RevocationEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.selection, indent=2, sort_keys=True))


# --- users: the project's own user admin, with one more action ----------------------------


class UserTokensAdminMixin(RevocationAdminMixin):
    """Adds "revoke all tokens" and a link to the user's tokens to any user admin.

    It only adds (through ``get_actions`` and ``get_list_display``), so a project's own
    ``actions`` and ``list_display`` stay as they are.
    """

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        if self.actions is not None and self.has_revoke_tokens_permission(request):  # type: ignore[attr-defined]
            func = UserTokensAdminMixin.revoke_all_user_tokens
            description = func.short_description  # type: ignore[attr-defined]  # set by @admin.action
            actions["revoke_all_user_tokens"] = (func, "revoke_all_user_tokens", description)
        return actions

    def get_list_display(self, request: HttpRequest) -> Sequence[Any]:
        return (*super().get_list_display(request), "oauth_tokens")  # type: ignore[misc]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.delete_queryset(request, type(obj)._default_manager.filter(pk=obj.pk))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        # Revoked first, audited with the staff user, then deleted (see ApplicationAdmin).
        with transaction.atomic(using=router.db_for_write(queryset.model)):
            revoke(
                Selection.users(queryset.values_list("pk", flat=True)),
                surface=SURFACE,
                actor=Actor.staff(request.user),
                reason=str(_("User deleted in the admin")),
                audit_empty=False,
            )
            super().delete_queryset(request, queryset)  # type: ignore[misc]

    @admin.display(description=_("OAuth tokens"))
    def oauth_tokens(self, obj: Any) -> str:
        return _links(
            [
                (_safe(lambda: _changelist_url(get_access_token_model(), user=obj.pk)), _("tokens")),
                (_safe(lambda: _changelist_url(TokenSession, user=obj.pk)), _("sessions")),
            ]
        )

    @admin.action(description=_("Revoke all tokens of selected users"))
    def revoke_all_user_tokens(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        return self.run_revoke_action(
            request,
            queryset,
            RevokeAction(
                name="revoke_all_user_tokens",
                title=_("Revoke all tokens of users"),
                select=lambda qs, user, across: Selection.users(qs.values_list("pk", flat=True)),
            ),
        )


# --- registration ---------------------------------------------------------------------------


def _replace_dot_admin(
    model: type[Model], stock: type[admin.ModelAdmin], ours: type[admin.ModelAdmin]
) -> None:
    """Register ``ours`` in place of DOT's stock admin; a project's own admin class is kept."""
    registered = admin.site._registry.get(model)  # public get_model_admin() needs Django 5
    if registered is not None:
        if type(registered) is not stock:
            return
        admin.site.unregister(model)
    admin.site.register(model, ours)


def _add_to_user_admin() -> None:
    """Wrap the registered user admin (the project's own or Django's) in ``UserTokensAdminMixin``."""
    user_model = get_user_model()
    registered = admin.site._registry.get(user_model)
    if registered is None or isinstance(registered, UserTokensAdminMixin):
        return
    wrapped = type(
        type(registered).__name__,
        (UserTokensAdminMixin, type(registered)),
        {"__module__": type(registered).__module__, "__doc__": type(registered).__doc__},
    )
    admin.site.unregister(user_model)
    admin.site.register(user_model, wrapped)


def protect_secret_fields(site: admin.AdminSite = admin.site) -> None:
    """Give every admin registered on ``site`` ``SecretFieldsAdminMixin`` (DOT's grant and ID-token
    admins, the user admin, a project's own DOT admin classes, ...), keeping its own behaviour.

    Called when this module loads and again from ``TokenAdminConfig.ready()``, once every app's
    admin module has been imported, so admins registered after token_admin's are covered too.
    """
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


_replace_dot_admin(get_access_token_model(), dot_admin.AccessTokenAdmin, AccessTokenAdmin)
_replace_dot_admin(get_refresh_token_model(), dot_admin.RefreshTokenAdmin, RefreshTokenAdmin)
_replace_dot_admin(get_application_model(), dot_admin.ApplicationAdmin, ApplicationAdmin)
_add_to_user_admin()
protect_secret_fields()

# Not-before watermarks: their own module (a form and a confirmation, no revoke actions).
from . import not_before_admin  # noqa: E402,F401
