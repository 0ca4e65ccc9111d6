"""Self-service pages: the signed-in user sees and ends their own sessions and connected apps.

Every page reads the user's live sessions once (``queries.end_user_sessions``, the one
definition of a live session), so a session or app of another user is never found by id:
an id that is not among the user's own is a 404, whatever it names. Every action is a
POST from a confirmation page (CSRF-protected), and revokes through the revocation service
with the user as actor and ``Surface.ACCOUNT``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from token_admin.queries import (
    ConnectedApp,
    ListedSession,
    connected_apps,
    end_user_sessions,
    session_device,
    software_name,
)
from token_admin.revocation import Actor, Selection, Surface, revoke

TEMPLATES = "token_admin/account/"


def _session_row(listed: ListedSession) -> dict[str, Any]:
    """What the page shows of a session: never a token, only its public id and activity."""
    session = listed.session
    device = session_device(session)
    return {
        "id": str(session.public_id),
        "app": software_name(session.application) or _("Unnamed app"),
        "device": device.name if device is not None else "",
        "began": session.created_at,
        "last_used": session.last_used_at,
        "ip": session.last_ip or "",
        "browser": session.browser,
        "os": session.os,
        "device_family": session.device_family if session.device_family != "Other" else "",
        "expired": listed.token_expired,
    }


def _app_row(app: ConnectedApp) -> dict[str, Any]:
    return {
        "client_id": app.application.client_id,
        "name": software_name(app.application) or _("Unnamed app"),
        "scopes": app.scopes,
        "first_authorized": app.first_authorized,
        "last_used": app.last_used,
        "sessions": app.sessions,
    }


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The account pages' own 404: an unknown path, or an id that is not the user's."""
    return render(request, TEMPLATES + "not_found.html", status=404)


def _done(request: HttpRequest, revoked: bool, done: str, nothing: str, to: str) -> HttpResponse:
    if revoked:
        messages.success(request, done)
    else:
        messages.info(request, nothing)
    return HttpResponseRedirect(reverse(f"token_admin_account:{to}"))


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def sessions(request: HttpRequest) -> HttpResponse:
    """ "Where you're signed in": each live session, newest first."""
    rows = [_session_row(listed) for listed in end_user_sessions(request.user)]
    return render(request, TEMPLATES + "sessions.html", {"section": "sessions", "sessions": rows})


@never_cache
@login_required
@require_http_methods(["GET", "HEAD"])
def apps(request: HttpRequest) -> HttpResponse:
    """ "Connected apps": each app with a live session of the user."""
    rows = [_app_row(app) for app in connected_apps(end_user_sessions(request.user))]
    return render(request, TEMPLATES + "apps.html", {"section": "apps", "apps": rows})


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sign_out(request: HttpRequest, session_id: str) -> HttpResponse:
    """Sign out of one session: GET confirms, POST revokes."""
    try:
        public_id = UUID(session_id)
    except ValueError:
        return not_found(request)
    listed = next(
        (item for item in end_user_sessions(request.user) if item.session.public_id == public_id), None
    )
    if listed is None:
        return not_found(request)
    row = _session_row(listed)
    if request.method == "POST":
        result = revoke(
            Selection.sessions([public_id], user=request.user),
            surface=Surface.ACCOUNT,
            actor=Actor.signed_in_user(request.user),
            reason=_("Signed out on the account page"),
            audit_empty=False,
        )
        return _done(
            request,
            result.revoked_anything,
            _("Signed out of %(app)s.") % {"app": row["app"]},
            _("That session had already ended."),
            "sessions",
        )
    return render(
        request,
        TEMPLATES + "confirm.html",
        {
            "section": "sessions",
            "title": _("Sign out of %(app)s?") % {"app": row["app"]},
            "explanation": _(
                "The app will need you to sign in again on this device. Your other sessions stay signed in."
            ),
            "sessions": [row],
            "confirm_label": _("Sign out"),
            "cancel_url": reverse("token_admin_account:sessions"),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sign_out_everywhere(request: HttpRequest) -> HttpResponse:
    """Sign out of all apps: every app with a live session, for this user (GET confirms)."""
    listed = end_user_sessions(request.user)
    if request.method == "POST":
        # By (user, app): sessions these apps begin meanwhile go too, as "all" promises.
        pairs = {(request.user, item.session.application) for item in listed}
        result = revoke(
            Selection.user_apps(pairs),
            surface=Surface.ACCOUNT,
            actor=Actor.signed_in_user(request.user),
            reason=_("Signed out of all apps on the account page"),
            audit_empty=False,
        )
        return _done(
            request,
            result.revoked_anything,
            _("Signed out of all apps."),
            _("You were not signed in to any app."),
            "sessions",
        )
    rows = [_session_row(item) for item in listed]
    return render(
        request,
        TEMPLATES + "confirm.html",
        {
            "section": "sessions",
            "title": _("Sign out of all apps?"),
            "explanation": ngettext(
                "This signs you out of the session below. The app will need you to sign in again.",
                "This signs you out of all %(count)d sessions below. Each app will need you to sign in "
                "again.",
                len(rows),
            )
            % {"count": len(rows)},
            "sessions": rows,
            "empty": _("You are not signed in to any app."),
            "confirm_label": _("Sign out of all apps"),
            "cancel_url": reverse("token_admin_account:sessions"),
        },
    )


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def remove_access(request: HttpRequest, client_id: str) -> HttpResponse:
    """De-authorize one connected app: all its sessions and grants for this user (GET confirms)."""
    listed = [
        item for item in end_user_sessions(request.user) if item.session.application.client_id == client_id
    ]
    if not listed:
        return not_found(request)
    app = connected_apps(listed)[0]
    row = _app_row(app)
    if request.method == "POST":
        result = revoke(
            Selection.user_apps([(request.user, app.application)]),
            surface=Surface.ACCOUNT,
            actor=Actor.signed_in_user(request.user),
            reason=_("Removed access on the account page"),
            audit_empty=False,
        )
        return _done(
            request,
            result.revoked_anything,
            _("%(app)s no longer has access to your account.") % {"app": row["name"]},
            _("That app had no access left."),
            "apps",
        )
    return render(
        request,
        TEMPLATES + "confirm.html",
        {
            "section": "apps",
            "title": _("Remove access for %(app)s?") % {"app": row["name"]},
            "explanation": _(
                "%(app)s will be signed out everywhere and can no longer act for you, until you "
                "allow it again."
            )
            % {"app": row["name"]},
            "app": row,
            "sessions": [_session_row(item) for item in listed],
            "confirm_label": _("Remove access"),
            "cancel_url": reverse("token_admin_account:apps"),
        },
    )
