"""Drop-in replacements for DOT's views that revoke, or that a revocation can race.

DOT's RFC 7009 endpoint (``/o/revoke_token/``) and its "authorized tokens" delete page
revoke tokens one by one with no audit event and no ``tokens_revoked`` signal. These
subclasses keep DOT's behaviour on the wire (same status codes, same client scoping) and
revoke the token's whole session through ``token_admin.revocation``. DOT's token endpoint
reads the token it just minted back after its transaction: a revocation that lands in
between made it answer 500. Mount them with ``token_admin.oauth_urls`` in place of
``oauth2_provider.urls``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.models import get_access_token_model, get_refresh_token_model

try:  # DOT after 3.4.1 moved its signals into oauth2_provider.core (the old path warns)
    from oauth2_provider.core.signals import app_authorized
except ImportError:  # DOT 3.4.x
    from oauth2_provider.signals import app_authorized

from token_admin import queries
from token_admin.receivers import registration_metadata
from token_admin.revocation import Actor, Selection, Surface, revoke


class RevocationValidatorMixin:
    """Routes oauthlib's ``revoke_token`` through the revocation service.

    As DOT's: the token is looked up among the requesting client's tokens only (RFC 7009
    section 2.1), both token types are searched whatever the hint, and an unknown token is
    not an error (section 2.2). Revoking either token of a session revokes the whole session.
    """

    def revoke_token(
        self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any
    ) -> None:
        application: Any = getattr(request, "client", None)
        if getattr(application, "pk", None) is None:
            return
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        access_tokens = list(
            queries.with_family(
                get_access_token_model().objects.filter(
                    token_checksum=checksum, application_id=application.pk
                )
            ).filter(queries.not_registration())
        )
        refresh = list(
            get_refresh_token_model()
            .objects.filter(token_checksum=checksum, application_id=application.pk, revoked__isnull=True)
            .values_list("token_family", "access_token_id")
        )
        selection = Selection.tokens(access_tokens)
        families = frozenset(family for family, _ in refresh if family is not None)
        # A refresh token from before DOT kept families goes with its access token.
        legacy = [
            access_token_id for family, access_token_id in refresh if family is None and access_token_id
        ]
        if families or legacy:
            selection = selection | Selection(
                families=families,
                access_token_ids=frozenset(legacy),
                described={"kind": "refresh_tokens"},
            )
        revoke(
            selection,
            surface=Surface.OAUTH,
            actor=Actor.oauth_client(application),
            reason="RFC 7009 revocation request",
            audit_empty=False,
        )


class RevokeTokenView(dot_views.RevokeTokenView):
    """DOT's RFC 7009 endpoint, revoking through the service whatever validator is configured."""

    @classmethod
    def get_validator_class(cls) -> type:
        configured = super().get_validator_class()
        if issubclass(configured, RevocationValidatorMixin):
            return configured
        return type(f"Revoking{configured.__name__}", (RevocationValidatorMixin, configured), {})


class AuthorizedTokenDeleteView(dot_views.AuthorizedTokenDeleteView):
    """DOT's "revoke this app's access" page for the signed-in user, through the service."""

    def form_valid(self, form: Any) -> HttpResponse:
        token = queries.with_family(self.get_queryset()).filter(pk=self.object.pk).first()
        if token is not None:
            revoke(
                Selection.tokens([token]),
                surface=Surface.OAUTH,
                actor=Actor.signed_in_user(self.request.user),
                reason="Revoked by the user on the authorized-tokens page",
            )
        return HttpResponseRedirect(self.get_success_url())


class TokenView(dot_views.TokenView):
    """DOT's token endpoint, answering ``invalid_grant`` for a pair revoked before the answer.

    DOT commits the new pair, then loads the access token again to send ``app_authorized``.
    A revocation that committed in between (the session was revoked while it refreshed)
    deleted that token: the client gets the error its next refresh would get, not a 500.
    """

    @method_decorator(sensitive_post_parameters("password", "client_secret"))
    def authorization_flow_token_response(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        url, headers, body, status = self.create_token_response(request)
        if status == 200:
            raw = json.loads(body).get("access_token")
            if raw is not None:
                checksum = hashlib.sha256(raw.encode("utf-8")).hexdigest()
                token = get_access_token_model().objects.filter(token_checksum=checksum).first()
                if token is None:
                    status = 400
                    body = json.dumps(
                        {"error": "invalid_grant", "error_description": "The grant was revoked."}
                    )
                else:
                    app_authorized.send(sender=self, request=request, token=token)
        response = HttpResponse(content=body, status=status)
        for key, value in headers.items():
            response[key] = value
        return response


class DynamicClientRegistrationView(dot_views.DynamicClientRegistrationView):
    """DOT's RFC 7591 registration endpoint, letting token_admin's receiver read the metadata.

    DOT keeps only ``client_name`` (as the Application's name); the Device the receiver
    records for a signed-in user's registration is named by the ``device_name`` member and
    keeps ``software_id`` (``receivers.application_registered``). The answer is DOT's own.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            metadata = json.loads(request.body)
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            metadata = None  # DOT answers (after its own permission check)
        token = registration_metadata.set(metadata if isinstance(metadata, dict) else None)
        try:
            return super().post(request, *args, **kwargs)
        finally:
            registration_metadata.reset(token)
