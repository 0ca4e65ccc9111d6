"""List filters that never list every row of a big table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

# DOT registers its admin classes on import: import it first so the replacement below works
# whatever the order of INSTALLED_APPS.
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.auth import get_user_model
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from oauth2_provider.models import get_access_token_model, get_application_model, get_refresh_token_model

from token_admin import queries
from token_admin.admin.mixins import add_window_filter
from token_admin.admin.utils import parse_pk, parse_uuid
from token_admin.models import Device, TokenSession

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


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
        names = list(get_application_model().objects.filter(condition).values_list("name", flat=True)[:3])
        return ", ".join(names) or _("no such application")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        # The apps first, then their rows by the application index (a join with an OR on the
        # app's columns reads every row of the list).
        apps = get_application_model().objects.filter(self._condition(value)).values_list("pk", flat=True)
        return queryset.filter(application_id__in=list(apps[:100]))


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


class TwoChoiceFilter(admin.SimpleListFilter):
    """A filter of two choices: the first keeps the rows ``condition()`` matches, the second
    the others (``exclude``: a NULL-safe complement on every database)."""

    choice_labels: tuple[tuple[str, StrOrPromise], tuple[str, StrOrPromise]]

    def condition(self) -> Q:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, StrOrPromise]]:
        return list(self.choice_labels)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        (matching, _label), (other, _other_label) = self.choice_labels
        value = self.value()
        if value not in (matching, other):
            return None
        # No index serves the condition in the list's order: within the list's window.
        return windowed(
            request,
            queryset,
            lambda rows: (
                rows.filter(self.condition()) if value == matching else rows.exclude(self.condition())
            ),
        )


class StatusFilter(TwoChoiceFilter):
    title = pgettext_lazy("of a token", "status")
    parameter_name = "status"
    choice_labels = (
        ("active", pgettext_lazy("a token", "Active")),
        ("expired", pgettext_lazy("a token", "Expired")),
    )

    def condition(self) -> Q:
        return Q(expires__gt=timezone.now())


def _bound_refresh_token() -> Exists:
    """Whether an access token has a live refresh token (through the refresh token's forward key)."""
    return Exists(get_refresh_token_model().objects.filter(access_token=OuterRef("pk")))


class RefreshTokenFilter(TwoChoiceFilter):
    # Django heads a filter "By <title>": a noun, so that it reads as plain words.
    title = _("refresh token")
    parameter_name = "refresh"
    choice_labels = (
        ("yes", pgettext_lazy("a refresh token", "With one")),
        ("no", pgettext_lazy("a refresh token", "Without")),
    )

    def condition(self) -> Q:
        return Q(_bound_refresh_token())


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

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any] | None:
        value = self.value()
        if not value:
            return None
        if value in ("any", "none"):
            # Most rows are on no device, or none is: within the list's window.
            on_a_device = self.condition(None)
            return windowed(
                request,
                queryset,
                lambda rows: rows.filter(on_a_device) if value == "any" else rows.exclude(on_a_device),
            )
        device = Device.objects.filter(pk=parse_pk(Device, value)).first()
        return queryset.filter(self.device_condition(device)) if device is not None else queryset.none()

    def condition(self, devices: QuerySet[Device] | None) -> Q:
        """Rows on one of ``devices`` (None: on any device)."""
        raise NotImplementedError

    def device_condition(self, device: Device) -> Q:
        """Rows on ``device``, by index: its sessions' rows, and its owner's rows on its
        registered client (``_own_client_device``)."""
        raise NotImplementedError


def _session_on(devices: QuerySet[Device] | None) -> Q:
    """On sessions: linked to one of ``devices`` (None: to any device, a range of the
    (device, id) index rather than a list of every device's id)."""
    return Q(device__isnull=False) if devices is None else Q(device__in=devices)


class TokenDeviceFilter(DeviceFilter):
    def condition(self, devices: QuerySet[Device] | None) -> Q:
        sessions = TokenSession.objects.filter(_session_on(devices))
        lone_tokens, families = queries.session_token_conditions(sessions)
        in_family = get_refresh_token_model().objects.filter(families, access_token__isnull=False)
        return lone_tokens | Q(pk__in=in_family.values("access_token_id")) | _own_client_device(devices)

    def device_condition(self, device: Device) -> Q:
        sessions = TokenSession.objects.filter(device=device)
        return Q(pk__in=session_token_ids(sessions)) | _owner_on_client(device)


class SessionDeviceFilter(DeviceFilter):
    def condition(self, devices: QuerySet[Device] | None) -> Q:
        return _session_on(devices) | _own_client_device(devices)

    def device_condition(self, device: Device) -> Q:
        return Q(device=device) | _owner_on_client(device)


def _owner_on_client(device: Device) -> Q:
    """Rows of the device's own user on its registered client (by the user and app indexes)."""
    if device.application_id is None or device.user_id is None:
        return Q(pk__in=[])
    return Q(user_id=device.user_id, application_id=device.application_id)


def session_token_ids(sessions: QuerySet[TokenSession]) -> list[Any]:
    """Ids of the access tokens of these sessions (a few per session): their lone tokens by
    checksum, their families' bound tokens, each read by its index.

    As ids, not as subqueries ORed together: PostgreSQL answers "a IN (SELECT ...) OR b IN
    (SELECT ...)" with hashed subplans over a sequential scan of the whole token table.
    """
    families, checksums = set(), set()
    for family, checksum in sessions.values_list("token_family", "access_token_checksum"):
        if family is not None:
            families.add(family)
        if checksum:
            checksums.add(checksum)
    found: set[Any] = set()
    if checksums:
        found.update(
            get_access_token_model()
            .objects.filter(token_checksum__in=sorted(checksums))
            .values_list("pk", flat=True)
        )
    if families:
        found.update(
            get_refresh_token_model()
            .objects.filter(token_family__in=sorted(families), access_token__isnull=False)
            .values_list("access_token_id", flat=True)
        )
    return sorted(found)


def windowed(
    request: HttpRequest, queryset: QuerySet[Any], narrow: Callable[[QuerySet[Any]], QuerySet[Any]]
) -> QuerySet[Any]:
    """``narrow`` applied within the list's window (``PageChangeList``), or at once on a
    changelist without one."""
    return queryset if add_window_filter(request, narrow) else narrow(queryset)


def _own_client_device(devices: QuerySet[Device] | None) -> Q:
    """Rows on a device's registered client that belong to the device's own user: another
    user's session on that client is never the device's (revoking the device leaves it).

    A correlated EXISTS, one probe of the device's application index per row: a join to the
    devices instead multiplied every row by its app's devices (2 minutes a page at 1M tokens)."""
    own = Device.objects.filter(application_id=OuterRef("application_id"), user_id=OuterRef("user_id"))
    if devices is not None:
        own = own.filter(pk__in=devices)
    return Q(Exists(own))


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
        return queryset.filter(pk__in=session_token_ids(sessions))


class LiveSessionFilter(TwoChoiceFilter):
    title = pgettext_lazy("of a session", "status")
    parameter_name = "status"
    choice_labels = (
        ("live", pgettext_lazy("a session", "Signed in")),
        ("ended", pgettext_lazy("a session", "Ended")),
    )

    def condition(self) -> Q:
        # The one definition of a live session (refresh expiry and watermarks included).
        return queries.live_sessions()


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
        unused = Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)
        return windowed(request, queryset, lambda rows: rows.filter(unused))


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
