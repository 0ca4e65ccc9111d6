"""The staff resource API: read-only viewsets over apps, sessions, devices, access tokens and
revocation events, and the revoke actions (every one through ``revocation.revoke``).

Every list is one query per page whatever the table's size: cursor pagination on the primary
key (an index range, no ``COUNT``, no ``OFFSET``), the related rows it shows joined in; with a
filter no index serves in id order, two, and a page looks at a bounded window (``pagination``).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model
from rest_framework import mixins, parsers, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ParseError
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import SAFE_METHODS
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler

from token_admin import ids, queries
from token_admin.api.manage import filters
from token_admin.api.manage import serializers as ser
from token_admin.api.manage.pagination import StaffCursorPagination, WindowedFilterBackend
from token_admin.api.manage.permissions import (
    READ_SCOPE,
    REVOKE_SCOPE,
    STAFF_PERMISSIONS,
    BearerAuthentication,
)
from token_admin.api.manage.schema import ManageSchema
from token_admin.api.openapi import extend_schema, view_schema
from token_admin.models import Device, RevocationEvent, TokenSession
from token_admin.revocation import Actor, Selection, Surface, revoke

UUID_PATTERN = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
ID_PATTERN = r"[0-9]{1,19}"


def user_id_pattern() -> str:
    """How a user's id looks in a URL: the user model's primary key type (``ids.kind``)."""
    return {"integer": ID_PATTERN, "uuid": UUID_PATTERN}.get(ids.kind(get_user_model()), r"[^/]+")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with its 400 for a body nested too deep (``[[[[...``): Python's
    ``json`` raises RecursionError there, which DRF lets through as a 500."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - nested too deep.")) from None


def drf_errors(view: Any) -> Any:
    """DRF's own exception handler: the errors these APIs document (``{"detail": ...}`` or field
    errors, as the schema says), never the project's ``EXCEPTION_HANDLER``, which may wrap them."""
    return exception_handler


class StaffAPIMixin(viewsets.GenericViewSet):
    """What every staff endpoint shares: both ways in, JSON and the browsable API, DRF's errors."""

    authentication_classes = [BearerAuthentication, SessionAuthentication]
    permission_classes = STAFF_PERMISSIONS
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    # JSON only: the browsable API posts it from its raw-data form; one body format to document.
    parser_classes = [JSONParser]
    throttle_classes: list[Any] = []
    schema = view_schema(ManageSchema)
    # The model whose view permission a request needs (None: revoke_tokens alone).
    permission_model: type[Model] | None = None
    get_exception_handler = drf_errors

    @staticmethod
    def required_scope_for(method: str) -> str:
        return READ_SCOPE if method in SAFE_METHODS else REVOKE_SCOPE

    def required_scope(self, request: Request) -> str:
        return self.required_scope_for(request.method or "GET")

    def revoke_and_answer(self, request: Request, selection: Selection, data: dict[str, Any]) -> Response:
        done = revoke(
            selection,
            actor=Actor.staff(request.user),
            surface=Surface.MANAGE,
            reason=data["reason"],
            dry_run=data["dry_run"],
        )
        return Response(ser.revocation_result(done, dry_run=data["dry_run"]))


class StaffReadViewSet(mixins.RetrieveModelMixin, mixins.ListModelMixin, StaffAPIMixin):
    pagination_class = StaffCursorPagination
    filter_backends = [WindowedFilterBackend, OrderingFilter]
    # Only the primary key: an index both ways on every table, unique (as a cursor needs), never null.
    ordering_fields = ["id"]
    ordering = ["-id"]
    lookup_value_regex = ID_PATTERN

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "revoke":
            return self.revoke_serializer_class
        return super().get_serializer_class()

    revoke_serializer_class: type[serializers.BaseSerializer] = ser.RevokeSerializer

    def validated(self, request: Request) -> dict[str, Any]:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ApplicationViewSet(StaffReadViewSet):
    """Applications with their token_admin profile. Never a client secret."""

    queryset = get_application_model().objects.select_related("token_admin_profile")
    serializer_class = ser.ApplicationSerializer
    filterset_class = filters.ApplicationFilter
    revoke_serializer_class = ser.ApplicationRevokeSerializer
    permission_model = queryset.model

    @extend_schema(request=ser.ApplicationRevokeSerializer, responses=ser.RevocationResultSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke everything of this app (only ``user``'s, if given): a reason is required."""
        application = self.get_object()
        data = self.validated(request)
        user = None
        if "user" in data:
            user = get_user_model().objects.filter(pk=data["user"]).first()
            if user is None:
                raise serializers.ValidationError({"user": [_("No user with this id.")]})
        return self.revoke_and_answer(request, Selection.applications([application], user=user), data)


class SessionViewSet(StaffReadViewSet):
    """Sessions (a refresh-token family, or a lone access token), ``live`` or ended."""

    serializer_class = ser.SessionSerializer
    filterset_class = filters.SessionFilter
    permission_model = TokenSession
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> QuerySet[Any]:
        # Built per request: the live condition compares with the time of the request.
        return queries.sessions_with_state()

    @extend_schema(request=ser.RevokeSerializer, responses=ser.RevocationResultSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, id: str | None = None) -> Response:
        """Revoke this session: a reason is required."""
        session = self.get_object()
        data = self.validated(request)
        return self.revoke_and_answer(request, Selection.sessions([session.public_id]), data)


class DeviceViewSet(StaffReadViewSet):
    queryset = Device.objects.select_related("application")
    serializer_class = ser.DeviceSerializer
    filterset_class = filters.DeviceFilter
    permission_model = Device
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = UUID_PATTERN


class AccessTokenViewSet(StaffReadViewSet):
    """Access tokens, masked. Neither listed, filtered nor ordered by value."""

    queryset = queries.access_tokens().select_related("application")
    serializer_class = ser.AccessTokenSerializer
    filterset_class = filters.AccessTokenFilter
    permission_model = queryset.model


class RevocationEventViewSet(StaffReadViewSet):
    """The audit trail: one event per revocation, whatever the surface."""

    queryset = RevocationEvent.objects.all()
    serializer_class = ser.RevocationEventSerializer
    filterset_class = filters.RevocationEventFilter
    permission_model = RevocationEvent


class UserRevokeViewSet(StaffAPIMixin):
    """``users/{id}/revoke``: every token of a user, in every app."""

    serializer_class = ser.RevokeSerializer
    lookup_value_regex = user_id_pattern()
    pagination_class = None

    def get_queryset(self) -> QuerySet[Any]:
        return get_user_model().objects.all()

    @extend_schema(request=ser.RevokeSerializer, responses=ser.RevocationResultSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Revoke everything of this user, in every app: a reason is required."""
        user = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return self.revoke_and_answer(request, Selection.users([user]), dict(serializer.validated_data))


class BulkRevocationViewSet(mixins.CreateModelMixin, StaffAPIMixin):
    """``POST revocations``: one revocation of a selection of sessions, users, apps and devices."""

    serializer_class = ser.BulkRevokeSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Any]:
        return RevocationEvent.objects.none()

    @extend_schema(request=ser.BulkRevokeSerializer, responses={200: ser.RevocationResultSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Revoke a selection in one audited call; ``dry_run`` counts it. Unknown ids are a 400."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        session_ids = sorted({str(value) for value in data["sessions"]})
        known_sessions = {
            str(value)
            for value in TokenSession.objects.filter(public_id__in=session_ids).values_list(
                "public_id", flat=True
            )
        }
        users = list(get_user_model().objects.filter(pk__in=data["users"]))
        applications = list(get_application_model().objects.filter(pk__in=data["applications"]))
        devices = list(Device.objects.filter(public_id__in=data["devices"]))
        unknown = {
            "sessions": sorted(set(session_ids) - known_sessions),
            "users": sorted(set(data["users"]) - {user.pk for user in users}),
            "applications": sorted(set(data["applications"]) - {app.pk for app in applications}),
            "devices": sorted(
                {str(value) for value in data["devices"]} - {str(d.public_id) for d in devices}
            ),
        }
        errors = {
            name: [_("Unknown ids: %(ids)s.") % {"ids": ", ".join(map(str, ids))}]
            for name, ids in unknown.items()
            if ids
        }
        if errors:
            raise serializers.ValidationError(errors)
        parts = [
            Selection.sessions(session_ids) if session_ids else None,
            Selection.users(users) if users else None,
            Selection.applications(applications) if applications else None,
            Selection.devices(devices) if devices else None,
        ]
        selection = Selection()
        for part in parts:
            if part is not None:
                selection = selection | part
        selection = selection.with_description(
            kind="selection",
            session_ids=session_ids,
            user_ids=sorted(ids.to_json(user.pk) for user in users),
            client_ids=sorted(app.client_id for app in applications),
            device_ids=sorted(str(device.public_id) for device in devices),
        )
        return self.revoke_and_answer(request, selection, data)
