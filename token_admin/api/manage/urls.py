"""The staff resource API and the "me" API.

Mount: ``path("api/token-admin/", include("token_admin.api.manage.urls"))``.

Staff: ``applications``, ``sessions``, ``devices``, ``access-tokens``, ``revocation-events``
(list and detail), ``{applications,sessions,users}/{id}/revoke`` and ``revocations`` (bulk).
Me: ``me/sessions``, ``me/apps``, ``me/devices`` (each with ``{id}/revoke``) and ``me/sign-out``.
The root lists them in the browsable API. No trailing slashes, as the paths above.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from token_admin.api.manage import me, staff
from token_admin.routing import catch_all

app_name = "token_admin_manage"

router = DefaultRouter(trailing_slash=False)
router.register("applications", staff.ApplicationViewSet, basename="applications")
router.register("sessions", staff.SessionViewSet, basename="sessions")
router.register("devices", staff.DeviceViewSet, basename="devices")
router.register("access-tokens", staff.AccessTokenViewSet, basename="access-tokens")
router.register("revocation-events", staff.RevocationEventViewSet, basename="revocation-events")
router.register("users", staff.UserRevokeViewSet, basename="users")
router.register("revocations", staff.BulkRevocationViewSet, basename="revocations")
router.register("me/sessions", me.MeSessionViewSet, basename="me-sessions")
router.register("me/apps", me.MeApplicationViewSet, basename="me-apps")
router.register("me/devices", me.MeDeviceViewSet, basename="me-devices")
router.register("me/sign-out", me.MeSignOutViewSet, basename="me-sign-out")


class NoSuchEndpoint(APIView):
    """Any other path under the prefix (``sessions/null``, a stray segment): DRF's JSON 404,
    not Django's HTML page."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    renderer_classes = [JSONRenderer]
    schema = None
    get_exception_handler = staff.drf_errors

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise NotFound(_("No such endpoint."))


urlpatterns = [*router.urls, catch_all(NoSuchEndpoint.as_view(), name="not-found", before=router.urls)]
