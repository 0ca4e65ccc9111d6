"""The "me" API: the caller's own sessions, connected apps and devices, and revoking them.

The caller is the signed-in user (a browser session) or the owner of a bearer token with the
``token_admin:me`` scope; every read and every revoke is confined to that user's rows. Lists
are not paged: they hold the user's live sessions (``queries.end_user_sessions``, bounded by
the tokens the user holds) and devices, never the user's history.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.utils.translation import gettext as _
from oauth2_provider.models import get_application_model
from rest_framework import mixins, serializers, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from token_admin import queries
from token_admin.api.manage import serializers as ser
from token_admin.api.manage.permissions import ME_PERMISSIONS, ME_SCOPE, BearerAuthentication
from token_admin.api.manage.schema import MeSchema
from token_admin.api.manage.staff import ID_PATTERN, UUID_PATTERN, JSONParser, drf_errors
from token_admin.api.openapi import extend_schema, view_schema
from token_admin.models import TokenSession
from token_admin.revocation import Actor, Selection, Surface, revoke


class MeViewSet(viewsets.GenericViewSet):
    authentication_classes = [BearerAuthentication, SessionAuthentication]
    permission_classes = ME_PERMISSIONS
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    # JSON only: the browsable API posts it from its raw-data form; one body format to document.
    parser_classes = [JSONParser]
    throttle_classes: list[Any] = []
    pagination_class = None
    schema = view_schema(MeSchema)
    get_exception_handler = drf_errors

    @staticmethod
    def required_scope_for(method: str) -> str:
        return ME_SCOPE

    def required_scope(self, request: Request) -> str:
        return ME_SCOPE

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action in ("revoke", "create") or self.serializer_class is None:
            return ser.DryRunSerializer
        return self.serializer_class

    def revoke_and_answer(self, request: Request, selection: Selection) -> Response:
        serializer = ser.DryRunSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dry_run = serializer.validated_data["dry_run"]
        # No event for a no-op: a user must not grow the audit table by revoking nothing.
        done = revoke(
            selection,
            actor=Actor.signed_in_user(request.user),
            surface=Surface.ME,
            dry_run=dry_run,
            audit_empty=False,
        )
        return Response(ser.revocation_result(done, dry_run=dry_run))


class MeSessionViewSet(MeViewSet):
    """Your live sessions, newest first."""

    serializer_class = ser.MeSessionSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> Any:
        return TokenSession.objects.none()

    @extend_schema(responses=ser.MeSessionSerializer(many=True))
    def list(self, request: Request) -> Response:
        sessions = queries.end_user_sessions(request.user)
        return Response(ser.MeSessionSerializer(sessions, many=True).data)

    @extend_schema(request=ser.DryRunSerializer, responses=ser.RevocationResultSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Sign this session out."""
        user: Any = request.user  # signed in: IsSignedIn ran
        if not TokenSession.objects.filter(public_id=str(pk), user=user).exists():
            raise NotFound(_("You have no session with this id."))
        return self.revoke_and_answer(request, Selection.sessions([str(pk)], user=request.user))


class MeApplicationViewSet(MeViewSet):
    """The apps you have live sessions in."""

    serializer_class = ser.MeAppSerializer
    lookup_value_regex = ID_PATTERN

    def get_queryset(self) -> Any:
        return get_application_model().objects.none()

    @extend_schema(responses=ser.MeAppSerializer(many=True))
    def list(self, request: Request) -> Response:
        apps: dict[Any, dict[str, Any]] = {}
        for listed in queries.end_user_sessions(request.user):
            session = listed.session
            app = session.application
            entry = apps.setdefault(
                app.pk,
                {
                    "id": app.pk,
                    "client_id": app.client_id,
                    "name": app.name,
                    "sessions": 0,
                    "last_used_at": None,
                },
            )
            entry["sessions"] += 1
            if session.last_used_at and (
                entry["last_used_at"] is None or session.last_used_at > entry["last_used_at"]
            ):
                entry["last_used_at"] = session.last_used_at
        return Response(ser.MeAppSerializer(list(apps.values()), many=True).data)

    @extend_schema(request=ser.DryRunSerializer, responses=ser.RevocationResultSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Disconnect this app: every session and grant of yours in it."""
        application = get_application_model().objects.filter(pk=pk).first()
        if application is None:
            raise NotFound(_("No app with this id."))
        return self.revoke_and_answer(request, Selection.applications([application], user=request.user))


class MeDeviceViewSet(MeViewSet):
    """Your devices."""

    serializer_class = ser.DeviceSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self) -> Any:
        return queries.user_devices(self.request.user)

    @extend_schema(responses=ser.DeviceSerializer(many=True))
    def list(self, request: Request) -> Response:
        return Response(ser.DeviceSerializer(self.get_queryset(), many=True).data)

    @extend_schema(request=ser.DryRunSerializer, responses=ser.RevocationResultSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str | None = None) -> Response:
        """Sign this device out: its sessions, and its registered client's registration."""
        device = self.get_queryset().filter(public_id=pk).first()
        if device is None:
            raise NotFound(_("You have no device with this id."))
        return self.revoke_and_answer(request, Selection.devices([device]))


class MeSignOutViewSet(mixins.CreateModelMixin, MeViewSet):
    """``POST me/sign-out``: end every session of yours, in every app."""

    serializer_class = ser.DryRunSerializer

    def get_queryset(self) -> Any:
        return TokenSession.objects.none()

    @extend_schema(request=ser.DryRunSerializer, responses={200: ser.RevocationResultSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # Sessions only: devices stay registered (``me/devices/{id}/revoke`` unregisters one).
        selection = replace(Selection.users([request.user]), registration_owner_ids=frozenset())
        return self.revoke_and_answer(request, selection.with_description(kind="sign_out"))
