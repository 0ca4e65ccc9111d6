"""django-filter filter sets of the staff resource API.

Only the filters declared here exist (``Meta.fields`` is empty): no token value, checksum or
secret can be filtered on, and a user or app is named by id (a choice list would read every
row of a big table into the browsable API's filter form).

Each set names its ``indexed_filters``: the foreign keys, whose index narrows a walk of the
table. The others (``live``, date ranges, types) are applied by the paginator within a
bounded window of that walk (``pagination``): no index finds their rows in id order.
"""

from __future__ import annotations

from datetime import timezone as dt_timezone
from typing import Any, ClassVar

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField
from oauth2_provider.models import get_access_token_model, get_application_model

from token_admin import ids
from token_admin.api.manage.serializers import MAX_ID
from token_admin.api.openapi import extend_schema_field
from token_admin.models import Device, RevocationEvent, TokenSession


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """A primary key: a whole number in a BigAutoField's range (anything else is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


def user_id_filter(**kwargs: Any) -> django_filters.Filter:
    """A user's primary key as the user model has it (``serializers.user_id_field``): a number
    for an integer key, a UUID for a UUID key, text otherwise; anything else is a 400."""
    pk_kind = ids.kind(get_user_model())
    if pk_kind == "integer":
        return IdFilter(**kwargs)
    if pk_kind == "uuid":
        return django_filters.UUIDFilter(**kwargs)
    return django_filters.CharFilter(**kwargs)


class MomentField(IsoDateTimeField):
    """ISO 8601, queried in UTC; a moment that cannot be put in UTC (year 9999 at +14:00) is a
    400, not a 500. In UTC because PostgreSQL refuses offsets past ±15:59 that Python accepts
    (``-20:26``): the same moment at +00:00 is one it takes."""

    def to_python(self, value: Any) -> Any:
        try:
            moment = super().to_python(value)
            if moment is not None:
                moment = moment.astimezone(dt_timezone.utc)
        except OverflowError:
            raise forms.ValidationError(
                _("Enter a date/time between the years 1 and 9999."), code="invalid"
            ) from None
        return moment


class Moment(django_filters.IsoDateTimeFilter):
    field_class = MomentField


def _range(field: str, label: str) -> tuple[Moment, Moment]:
    """``<name>_after`` (inclusive) and ``<name>_before`` (exclusive), ISO 8601."""
    return (
        Moment(field_name=field, lookup_expr="gte", label=f"{label} at or after"),
        Moment(field_name=field, lookup_expr="lt", label=f"{label} before"),
    )


class YesNoFilter(django_filters.ChoiceFilter):
    """``true`` or ``false``, nothing else (a boolean filter would take ``maybe`` for "any")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=[("true", "true"), ("false", "false")], **kwargs)


class WindowedFilterSet(django_filters.FilterSet):
    """A filter set whose filters apply in two steps: ``filter_indexed``, then ``window_filter``
    (by the paginator, on one window of rows). ``qs`` still applies them all (a detail request)."""

    indexed_filters: ClassVar[frozenset[str]] = frozenset()

    def _apply(self, queryset: QuerySet[Any], *, indexed: bool) -> QuerySet[Any]:
        for name, value in self.form.cleaned_data.items():
            if (name in self.indexed_filters) == indexed:
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    def filter_indexed(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return self._apply(queryset, indexed=True)

    def window_filter(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return self._apply(queryset, indexed=False)

    def has_window_filters(self) -> bool:
        return any(
            value not in EMPTY_VALUES
            for name, value in self.form.cleaned_data.items()
            if name not in self.indexed_filters
        )


class SessionFilter(WindowedFilterSet):
    user = user_id_filter(field_name="user_id")
    application = IdFilter(field_name="application_id")
    device = django_filters.UUIDFilter(field_name="device__public_id")
    live = YesNoFilter(method="filter_live", label="Live (true) or ended (false)")
    created_after, created_before = _range("created_at", "Began")
    last_used_after, last_used_before = _range("last_used_at", "Last used")
    indexed_filters = frozenset({"user", "application", "device"})

    class Meta:
        model = TokenSession
        fields: list[str] = []

    def filter_live(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        # ``is_live`` is annotated by ``queries.sessions_with_state``: one definition.
        return queryset.filter(is_live=value == "true")


class ApplicationFilter(WindowedFilterSet):
    user = user_id_filter(field_name="user_id", label="Owner (user id)")
    client_type = django_filters.ChoiceFilter(choices=get_application_model().CLIENT_TYPES)
    authorization_grant_type = django_filters.ChoiceFilter(choices=get_application_model().GRANT_TYPES)
    created_after, created_before = _range("created", "Created")
    indexed_filters = frozenset({"user"})

    class Meta:
        model = get_application_model()
        fields: list[str] = []


class DeviceFilter(WindowedFilterSet):
    user = user_id_filter(field_name="user_id")
    application = IdFilter(field_name="application_id", label="Registered client (app id)")
    type = django_filters.ChoiceFilter(choices=Device.Type.choices)
    created_after, created_before = _range("created_at", "Created")
    indexed_filters = frozenset({"user", "application"})

    class Meta:
        model = Device
        fields: list[str] = []


class AccessTokenFilter(WindowedFilterSet):
    user = user_id_filter(field_name="user_id")
    application = IdFilter(field_name="application_id")
    expired = YesNoFilter(method="filter_expired")
    created_after, created_before = _range("created", "Issued")
    indexed_filters = frozenset({"user", "application"})

    class Meta:
        model = get_access_token_model()
        fields: list[str] = []

    def filter_expired(self, queryset: QuerySet[Any], name: str, value: str) -> QuerySet[Any]:
        now = timezone.now()
        return queryset.filter(expires__lte=now) if value == "true" else queryset.filter(expires__gt=now)


class RevocationEventFilter(WindowedFilterSet):
    surface = django_filters.ChoiceFilter(choices=RevocationEvent.Surface.choices)
    actor_type = django_filters.ChoiceFilter(choices=RevocationEvent.ActorType.choices)
    actor_user = user_id_filter(field_name="actor_user_id")
    created_after, created_before = _range("created_at", "Recorded")
    indexed_filters = frozenset({"actor_user"})

    class Meta:
        model = RevocationEvent
        fields: list[str] = []
