"""JSON of the staff resource API and the "me" API: read-only resources and revoke requests.

No serializer names a token value: an access token shows only the end of DOT's checksum
(``…a1b2``, as the admin), which exists even when DOT stores no cleartext.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from oauth2_provider.models import get_access_token_model, get_application_model
from rest_framework import serializers

from token_admin import ids
from token_admin.models import AppProfile, Device, RevocationEvent, TokenSession

# Largest primary key a BigAutoField holds: larger ids are refused before any query.
MAX_ID = 2**63 - 1
MAX_IDS = 1000


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


def user_id_field(**kwargs: Any) -> serializers.Field:
    """A user's primary key as the user model has it, in and out: a number (``IdField``) for an
    integer key, a hyphenated string for a UUID key, a string otherwise; the schema says which.
    A value that is not one is a 400 before any query."""
    pk_kind = ids.kind(get_user_model())
    if pk_kind == "integer":
        return IdField(**kwargs)
    if pk_kind == "uuid":
        return serializers.UUIDField(**kwargs)
    field = get_user_model()._meta.pk
    return serializers.CharField(max_length=getattr(field, "max_length", None), **kwargs)


class AppProfileSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppProfile
        fields = ["link", "end_user_api", "allow_app_token", "updated_at"]


class AppRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.CharField()
    name = serializers.CharField()


class UserRefSerializer(serializers.Serializer):
    id = user_id_field(source="pk")
    username = serializers.CharField(source="get_username")


class DeviceRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()


class ApplicationSerializer(serializers.ModelSerializer):
    """An app with its token_admin profile (null if it has none); never its client secret."""

    profile = AppProfileSerializer(source="token_admin_profile", read_only=True, allow_null=True)
    user = user_id_field(source="user_id", read_only=True, allow_null=True)

    class Meta:
        model = get_application_model()
        fields = [
            "id",
            "client_id",
            "name",
            "user",
            "client_type",
            "authorization_grant_type",
            "skip_authorization",
            "created",
            "updated",
            "profile",
        ]


class SessionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    user = UserRefSerializer(read_only=True, allow_null=True)
    application = AppRefSerializer(read_only=True)
    device = DeviceRefSerializer(read_only=True, allow_null=True)
    live = serializers.BooleanField(
        source="is_live",
        read_only=True,
        help_text="Holds a refresh token DOT would accept, or an unexpired lone access token.",
    )

    class Meta:
        model = TokenSession
        fields = [
            "id",
            "user",
            "application",
            "device",
            "created_at",
            "last_used_at",
            "last_ip",
            "browser",
            "os",
            "device_family",
            "live",
        ]


class DeviceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    user = user_id_field(source="user_id", read_only=True)
    application = AppRefSerializer(
        read_only=True, allow_null=True, help_text="The client registered for this device, if any."
    )

    class Meta:
        model = Device
        fields = ["id", "user", "name", "type", "application", "created_at"]


class AccessTokenSerializer(serializers.ModelSerializer):
    token = serializers.SerializerMethodField(help_text="Masked: the last 4 characters of its checksum.")
    user = user_id_field(source="user_id", read_only=True, allow_null=True)
    application = AppRefSerializer(read_only=True, allow_null=True)
    expired = serializers.SerializerMethodField()

    class Meta:
        model = get_access_token_model()
        fields = ["id", "token", "user", "application", "scope", "expires", "created", "expired"]

    def get_token(self, token: Any) -> str:
        checksum = token.token_checksum
        return f"…{checksum[-4:]}" if checksum else "…"

    def get_expired(self, token: Any) -> bool:
        return bool(token.expires <= timezone.now())


class RevocationEventSerializer(serializers.ModelSerializer):
    actor_user = user_id_field(source="actor_user_id", read_only=True, allow_null=True)
    actor_application = serializers.IntegerField(
        source="actor_application_id", read_only=True, allow_null=True
    )

    class Meta:
        model = RevocationEvent
        fields = [
            "id",
            "created_at",
            "surface",
            "actor_type",
            "actor_label",
            "actor_user",
            "actor_application",
            "selection",
            "access_tokens_revoked",
            "refresh_tokens_revoked",
            "grants_revoked",
            "reason",
        ]


# --- revoke requests and their answer ------------------------------------------------------


class DryRunSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(
        default=False, help_text="Count what would be revoked; revoke nothing, record nothing."
    )


class RevokeSerializer(DryRunSerializer):
    reason = serializers.CharField(
        max_length=2000,
        # Something besides blanks (which are trimmed) and NUL (which DRF refuses), as the schema says.
        validators=[RegexValidator(r"^[^\x00]*[^\s\x00][^\x00]*$", gettext_lazy("Give a reason."))],
        help_text="Why: recorded in the audit event. Required.",
    )


class ApplicationRevokeSerializer(RevokeSerializer):
    user = user_id_field(required=False, help_text="Only this user's tokens of the app.")


class BulkRevokeSerializer(RevokeSerializer):
    """A selection: any of sessions, users, applications and devices, by id."""

    sessions = serializers.ListField(child=serializers.UUIDField(), max_length=MAX_IDS, default=list)
    users = serializers.ListField(child=user_id_field(), max_length=MAX_IDS, default=list)
    applications = serializers.ListField(child=IdField(), max_length=MAX_IDS, default=list)
    devices = serializers.ListField(child=serializers.UUIDField(), max_length=MAX_IDS, default=list)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not any(attrs[name] for name in ("sessions", "users", "applications", "devices")):
            raise serializers.ValidationError(_("Name at least one session, user, application or device."))
        return attrs


class RevocationResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    access_tokens = serializers.IntegerField()
    refresh_tokens = serializers.IntegerField()
    grants = serializers.IntegerField()
    registration_tokens = serializers.IntegerField()
    event = serializers.IntegerField(allow_null=True, help_text="The audit event's id; null for a dry run.")


def revocation_result(done: Any, *, dry_run: bool) -> dict[str, Any]:
    """The answer to a revoke: what it revoked (would revoke, for a dry run)."""
    return {
        "dry_run": dry_run,
        "access_tokens": done.access_tokens,
        "refresh_tokens": done.refresh_tokens,
        "grants": done.grants,
        "registration_tokens": done.registration_tokens,
        "event": done.event.pk if done.event is not None else None,
    }


# --- the "me" API -------------------------------------------------------------------------


class MeSessionSerializer(serializers.Serializer):
    """One of the user's live sessions (``queries.end_user_sessions``)."""

    id = serializers.UUIDField(source="session.public_id")
    application = AppRefSerializer(source="session.application")
    device = DeviceRefSerializer(source="session.device", allow_null=True)
    created_at = serializers.DateTimeField(source="session.created_at")
    last_used_at = serializers.DateTimeField(source="session.last_used_at", allow_null=True)
    last_ip = serializers.IPAddressField(source="session.last_ip", allow_null=True)
    browser = serializers.CharField(source="session.browser")
    os = serializers.CharField(source="session.os")
    device_family = serializers.CharField(source="session.device_family")
    scope = serializers.CharField(source="token_scope")
    expires = serializers.DateTimeField(source="token_expires", allow_null=True)
    refresh_usable = serializers.BooleanField()


class MeAppSerializer(serializers.Serializer):
    """An app the user has live sessions in."""

    id = serializers.IntegerField()
    client_id = serializers.CharField()
    name = serializers.CharField()
    sessions = serializers.IntegerField(help_text="How many live sessions the user has in it.")
    last_used_at = serializers.DateTimeField(allow_null=True)
