"""The demo's own pages: the landing page, a sign-in page for demo users and the OAuth callback.

Plain server-rendered templates. The browser flow is the authorization-code grant with PKCE
of the public ``demo-web`` client: ``/demo/authorize`` makes the verifier and state, keeps
them in the session and sends the browser to DOT's authorize page; ``/callback`` shows the
code with the exact curl that exchanges it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from example_project import demo

_PKCE_SESSION_KEY = "example_project_pkce"


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def landing(request: HttpRequest) -> HttpResponse:
    base = _base_url(request)
    alice = get_user_model()._default_manager.filter(username="alice").first()
    context = {
        "base_url": base,
        # Demo logins and ready commands name fixed credentials: shown only on a DEBUG server.
        "show_credentials": settings.DEBUG,
        "seeded": alice is not None,
        "steps": demo.walkthrough(base, alice.pk) if alice is not None else [],
        "staff": (demo.STAFF_USERNAME, demo.STAFF_PASSWORD),
        "viewer": (demo.VIEWER_USERNAME, demo.VIEWER_PASSWORD),
        "demo_users": demo.DEMO_USERS,
        "endpoints": [
            ("App.net style", "/stream/0/token", "The token you call with, its user and scopes"),
            (
                "Stack Exchange style",
                "/2.2/access-tokens/{tokens}",
                "Look up (or invalidate) tokens by value",
            ),
            ("End-user API", "/oauth/api/v1/users/{id}/tokens", "A user's sessions, for an account portal"),
            ("OAuth (django-oauth-toolkit)", "/o/token/", "Token, refresh and revocation endpoints"),
            ("Leaked-token intake", "/credentials/revoke", "POST: secret scanners report leaked tokens"),
        ],
    }
    return render(request, "example_project/landing.html", context)


def authorize(request: HttpRequest) -> HttpResponse:
    """Start the browser flow: a fresh PKCE verifier and state, then DOT's authorize page."""
    verifier = secrets.token_urlsafe(48)
    state = secrets.token_urlsafe(16)
    request.session[_PKCE_SESSION_KEY] = {"verifier": verifier, "state": state}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": demo.WEB_CLIENT_ID,
            "redirect_uri": _base_url(request) + demo.CALLBACK_PATH,
            "scope": "basic stream",
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return HttpResponseRedirect(f"{reverse('oauth2_provider:authorize')}?{query}")


def callback(request: HttpRequest) -> HttpResponse:
    """Where DOT sends the browser back: the code and the curl that exchanges it."""
    started = request.session.get(_PKCE_SESSION_KEY) or {}
    code = request.GET.get("code", "")
    context = {
        "code": code,
        "error": request.GET.get("error", ""),
        "error_description": request.GET.get("error_description", ""),
        "started": bool(started),
        # A state that is not the one this browser sent means the code is not for this page.
        "state_ok": bool(started) and secrets.compare_digest(request.GET.get("state", ""), started["state"]),
    }
    if code and context["state_ok"]:
        base = _base_url(request)
        context["curl"] = demo.token_exchange(base, code, started["verifier"])
        bearer = "-H 'Authorization: Bearer <access_token>'"
        context["call"] = f"curl -s {bearer} -H 'X-ADN-Pretty-JSON: 1' {base}/stream/0/token"
    status = 200 if code and context["state_ok"] else 400
    return render(request, "example_project/callback.html", context, status=status)


class SignInView(LoginView):
    """The sign-in page of the demo's users (the admin's login page takes staff only)."""

    template_name = "example_project/sign_in.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["show_credentials"] = settings.DEBUG
        context["demo_users"] = demo.DEMO_USERS
        return context
