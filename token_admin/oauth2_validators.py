"""The ``OAuth2Validator`` to use with token_admin (``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``).

* **App tokens for any app.** DOT allows one grant type per Application, but the App.net
  style needs an app that has user tokens (say, ``authorization-code``) to also hold an app
  token: a confidential app whose token_admin profile sets ``allow_app_token`` may also use
  ``client_credentials``.
* **No refresh outlives a revocation.** DOT checks a refresh token before it opens the
  transaction that mints the new pair, and inside it locks the token again without looking
  at it. A revocation that lands in between would be followed by a freshly minted pair;
  this validator refuses it, from the row DOT reads under its own lock (no extra query).
* **Registration tokens stay at the registration endpoint.** A token of DOT's dynamic
  client registration (scope ``DCR_REGISTRATION_SCOPE``) is an invalid token wherever the
  validator authenticates a request.
* **Not-before watermarks and inactive users** (``token_admin.watermarks``): a token issued
  before the watermark of its user, its app or everyone, or whose user is inactive (however
  that happened: a queryset ``update()`` sends no signal), is an invalid token, and a refresh
  token issued before a watermark or of an inactive user cannot mint (``invalid_grant``).
  Read from the database in the token's own query (DOT's one statement for a bearer check,
  with the watermarks as subqueries): no cache decides, so none can bring a token back.
* **No sign-in outlives an account event** (``token_admin.credentials``): a password checked,
  or a code issued, before a password change, a deactivation or a user watermark mints nothing
  (``invalid_grant``), decided under the user's row lock inside DOT's transaction.
* **Activity per session.** A token that authenticates marks its session as used
  (``token_admin.activity``: within a window, no call at all once this process has asked the
  cache; one UPDATE once per window).
* **Sessions for one statement.** It tells ``token_admin.receivers`` when a refresh token
  follows the access token, so a new token pair costs one INSERT of bookkeeping.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from oauth2_provider.models import (
    AbstractRefreshToken,
    get_access_token_model,
    get_grant_model,
    get_refresh_token_model,
)
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from token_admin import activity, credentials, queries, receivers, watermarks
from token_admin.models import AppProfile


class RevokedDuringRefresh(errors.InvalidGrantError):
    """``invalid_grant`` for a refresh token revoked after DOT validated it.

    Raised where oauthlib adds no headers of its own, so it brings the token endpoint's.
    """

    description = "The refresh token was revoked."

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}


class IssuedBeforeNotBefore(RevokedDuringRefresh):
    """``invalid_grant`` for a refresh token issued before a not-before watermark."""

    description = "The refresh token was issued before a not-before time."


class RefusedAtMint(RevokedDuringRefresh):
    """``invalid_grant`` for a grant verified before an account event of its user."""

    description = "The grant was verified before the user's credentials changed."


class TokenAdminOAuth2Validator(OAuth2Validator):
    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # DOT's own rule first: an app whose grant type allows the request costs no query.
        if super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs):
            return True
        return grant_type == "client_credentials" and self._may_hold_app_token(request.client)

    @staticmethod
    def _may_hold_app_token(application: Any) -> bool:
        # Only confidential clients authenticate with a secret; a public client must never
        # get a token that acts for the app itself.
        if application is None or application.client_type != application.CLIENT_CONFIDENTIAL:
            return False
        return AppProfile.objects.filter(application=application, allow_app_token=True).exists()

    def validate_bearer_token(self, token: Any, scopes: Any, request: Any) -> bool:
        # A registration token of DOT's dynamic client registration only manages its client
        # at DOT's client configuration endpoint (``/o/register/<client_id>/``), which looks
        # the token up itself and never asks the validator. Everywhere the validator is asked
        # (DOT's protected views and middleware, DRF's OAuth2Authentication) it is an invalid
        # token. Decided from the token DOT loaded: no query of its own.
        if not super().validate_bearer_token(token, scopes, request):
            return False
        if not queries.is_registration(request.access_token):
            # Nothing within the window once this process knows of its write; else one cache
            # call, and one UPDATE of the session when its activity window is over.
            activity.token_used(request.access_token, request.headers)
            return True
        request.access_token = request.user = request.client = None
        request.scopes = []
        self._set_oauth2_error_on_request(request, None, scopes)
        return False

    def _load_access_token(self, token: Any) -> Any:
        # DOT's ``validate_bearer_token`` loads the token here (its one query, which this
        # keeps: by checksum, with user and app, plus the watermarks over the token as
        # subqueries). A token issued before a watermark over it, or whose user is inactive,
        # is loaded as no token: DOT then answers exactly as for an unknown or revoked one.
        # (A registration token is refused in ``validate_bearer_token`` whatever its age.)
        access_token = queries.bearer_token(token)
        if (
            access_token is not None
            and not queries.is_registration(access_token)
            and queries.is_refused(access_token)
        ):
            return None
        return access_token

    def validate_user(
        self, username: str, password: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # The time the password check begins: an account event after it refuses the mint.
        setattr(request, credentials.VERIFIED_AT, timezone.now())
        return bool(super().validate_user(username, password, client, request, *args, **kwargs))

    def get_code_challenge(self, code: str, request: Any) -> Any:
        # DOT reads the code's grant again here, after ``validate_code``: a revocation in
        # between (an account event revokes the user's codes) deleted it. That is an
        # invalid grant, not a 500.
        try:
            return super().get_code_challenge(code, request)
        except get_grant_model().DoesNotExist as exc:
            raise errors.InvalidGrantError(request=request) from exc

    def validate_refresh_token(
        self, refresh_token: Any, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if not super().validate_refresh_token(refresh_token, client, request, *args, **kwargs):
            return False
        # DOT has just loaded the refresh token's user (``request.user``): an inactive user's
        # session refreshes no more, at no query. DOT answers invalid_grant for False, as
        # for any refresh token it does not accept.
        user = getattr(request, "user", None)
        if user is not None and not getattr(user, "is_active", True):
            return False
        # A rotation checks the watermarks inside DOT's transaction, under the lock
        # (``_create_access_token``). Without rotation DOT keeps the refresh token and
        # updates its access token in place (its issue time stays, so a bearer check refuses
        # it anyway): a read of the watermarks here refuses the refresh itself.
        if self.rotate_refresh_token(request):
            return True
        return not watermarks.token_is_before(request.refresh_token_instance)

    def _save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Runs inside DOT's transaction. A refresh token DOT validated may have been revoked
        # since; then nothing may be minted from it. DOT's rotation locks the token and reads
        # it again, and that read is checked in ``_create_access_token`` at no cost. Where it
        # cannot be (DOT's non-rotating reuse locks no refresh token; a model whose own
        # ``revoke()`` may change the instance), the row is locked and read here first.
        refreshing = request.grant_type == "refresh_token"
        if (
            refreshing
            and not (self.rotate_refresh_token(request) and self._revoke_keeps_instance())
            and self._revoked_since_validation(request)
        ):
            raise RevokedDuringRefresh(request=request)
        if credentials.mint_refused(request) is not None:
            raise RefusedAtMint(request=request)
        try:
            # The refresh token DOT saves after the access token makes the family's session.
            # (A refresh writes no activity: the new token's first use does, so a token
            # request stays within one statement of DOT's own.)
            with receivers.family_follows(bool(token.get("refresh_token"))):
                return super()._save_bearer_token(token, request, *args, **kwargs)
        except get_refresh_token_model().DoesNotExist as exc:
            # Deleted between DOT's validation and its lock.
            if refreshing:
                raise RevokedDuringRefresh(request=request) from exc
            raise

    def _create_access_token(
        self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None
    ) -> Any:
        # On rotation DOT passes the refresh token it has just locked (SELECT ... FOR UPDATE)
        # and read again, and calls this only when no access token was minted from it yet.
        # DOT's ``revoke()`` works on a copy of the row, so the instance still shows it as
        # read under the lock: revoked means a revocation landed after DOT's validation.
        if (
            source_refresh_token is not None
            and source_refresh_token.revoked is not None
            and self._revoke_keeps_instance()
        ):
            raise RevokedDuringRefresh(request=request)
        if source_refresh_token is not None and self._minted_before_not_before(source_refresh_token):
            raise IssuedBeforeNotBefore(request=request)
        return super()._create_access_token(
            expires, request, token, source_refresh_token=source_refresh_token
        )

    @staticmethod
    def _minted_before_not_before(refresh_token: Any) -> bool:
        # Inside DOT's transaction, after DOT locked the refresh token: the watermarks read
        # from the database under a shared lock (one query per rotation, none per request).
        # A watermark committed a moment ago is seen; one being set waits for this refresh,
        # then takes "now" after it (a global one revokes no rows, so this is what closes
        # the race with it; a user's or app's also revokes the pair this refresh mints).
        watermark = watermarks.applicable_locked(refresh_token.user_id, refresh_token.application_id)
        return watermarks.issued_before(refresh_token.created, watermark)

    @staticmethod
    def _revoke_keeps_instance() -> bool:
        return get_refresh_token_model().revoke is AbstractRefreshToken.revoke

    @staticmethod
    def _revoked_since_validation(request: Any) -> bool:
        instance = getattr(request, "refresh_token_instance", None)
        if instance is None:
            return False
        refresh_token_model = get_refresh_token_model()
        # The lock DOT takes next anyway; taking it first makes the check and DOT's use of the
        # row one step that a revocation cannot fall between.
        current = (
            refresh_token_model.objects.select_for_update().filter(pk=instance.pk).values("revoked").first()
        )
        if current is None:
            return True
        if current["revoked"] is None:
            return False
        # Revoked, but superseded by a rotation (an access token was minted from it): DOT's
        # grace period may answer with that token. A revocation deletes that token too.
        superseded = get_access_token_model().objects.filter(source_refresh_token_id=instance.pk).exists()
        return not superseded
