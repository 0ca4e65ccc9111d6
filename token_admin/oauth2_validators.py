"""The ``OAuth2Validator`` to use with token_admin (``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``).

* **App tokens for any app.** DOT allows one grant type per Application, but the App.net
  style needs an app that has user tokens (say, ``authorization-code``) to also hold an app
  token: a confidential app whose token_admin profile sets ``allow_app_token`` may also use
  ``client_credentials``.
* **No refresh outlives a revocation.** DOT checks a refresh token before it opens the
  transaction that mints the new pair, and inside it locks the token again without looking
  at it. A revocation that lands in between would be followed by a freshly minted pair;
  this validator checks again under the lock.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.models import get_access_token_model, get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauthlib.oauth2.rfc6749 import errors

from .models import AppProfile


class RevokedDuringRefresh(errors.InvalidGrantError):
    """``invalid_grant`` for a refresh token revoked after DOT validated it.

    Raised where oauthlib adds no headers of its own, so it brings the token endpoint's.
    """

    description = "The refresh token was revoked."

    @property
    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenAdminOAuth2Validator(OAuth2Validator):
    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if grant_type == "client_credentials" and self._may_hold_app_token(request.client):
            return True
        return super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs)

    @staticmethod
    def _may_hold_app_token(application: Any) -> bool:
        # Only confidential clients authenticate with a secret; a public client must never
        # get a token that acts for the app itself.
        if application is None or application.client_type != application.CLIENT_CONFIDENTIAL:
            return False
        return AppProfile.objects.filter(application=application, allow_app_token=True).exists()

    def _save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        # Runs inside DOT's transaction. A refresh token DOT validated may have been revoked
        # since; then nothing may be minted from it.
        if request.grant_type == "refresh_token" and self._revoked_since_validation(request):
            raise RevokedDuringRefresh(request=request)
        return super()._save_bearer_token(token, request, *args, **kwargs)

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
