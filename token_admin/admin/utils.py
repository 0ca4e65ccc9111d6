"""Small helpers of the admin modules: masking, links, id parsing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from uuid import UUID

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from token_admin.models import RevocationEvent

if TYPE_CHECKING:
    pass

REVOKE_PERMISSION = "token_admin.revoke_tokens"
SURFACE = RevocationEvent.Surface.ADMIN
# How many of the selected objects the confirmation page names; the rest are counted.
CONFIRMATION_SAMPLE = 20

# Facet counts (Django 5's ``?_facets``) run one COUNT per filter choice: never on big tables.
NO_FACETS: Any = getattr(admin, "ShowFacets", None) and admin.ShowFacets.NEVER


def mask_checksum(checksum: str | None) -> str:
    """``…a1b2``: the end of DOT's token checksum, present even when DOT keeps no cleartext."""
    return f"…{checksum[-4:]}" if checksum else "…"


def mask_html(token: Any) -> str:
    """The masked token on one line (the admin's columns would break it after the ellipsis)."""
    if token is None:
        return ""
    return format_html('<span style="white-space: nowrap">{}</span>', mask_checksum(token.token_checksum))


def changelist_url(model: type[Model], **params: Any) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def change_url(obj: Model) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


def joined_links(pairs: Iterable[tuple[str, Any]]) -> str:
    """Links joined by " · "; a link whose admin page is not registered is left out."""
    return format_html_join(" · ", '<a href="{}">{}</a>', ((url, label) for url, label in pairs if url))


def safe(url: Callable[[], str]) -> str:
    try:
        return url()
    except NoReverseMatch:
        return ""


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


def owner_and_app(obj: Any) -> str:
    owner = obj.user.get_username() if obj.user_id else _("app token")
    app = obj.application.name if obj.application_id else "-"
    return _("%(owner)s on %(app)s") % {"owner": owner, "app": app}


def not_on_own_pages(model_admin: admin.ModelAdmin, request: HttpRequest) -> bool:
    """False on this model admin's own pages (no Delete there); True when the admin asks while
    deleting something else that cascades to these rows (a user, an app)."""
    opts = model_admin.model._meta
    match = getattr(request, "resolver_match", None)
    url_name = getattr(match, "url_name", None) or ""
    return not url_name.startswith(f"{opts.app_label}_{opts.model_name}_")


def host_fields(model: type[Model], dot_abstract: type[Model]) -> tuple[str, ...]:
    """The fields a project's swapped DOT model adds to DOT's abstract one (say a ``tenant``), in
    the model's order. An admin here that lists its fields shows these after them, as DOT's own
    admin (which lists none) does; none on DOT's stock models."""
    dot = {field.name for field in (*dot_abstract._meta.local_fields, *dot_abstract._meta.local_many_to_many)}
    return tuple(
        field.name
        for field in (*model._meta.fields, *model._meta.many_to_many)
        if field.name not in dot and not field.auto_created
    )
