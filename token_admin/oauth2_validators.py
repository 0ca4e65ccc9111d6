"""An ``OAuth2Validator`` that lets an app hold an app token beside its user tokens.

DOT allows one grant type per Application, but the App.net style needs an app that has
user tokens (say, ``authorization-code``) to also hold an app token. With this validator
(``OAUTH2_PROVIDER["OAUTH2_VALIDATOR_CLASS"]``) a confidential app whose token_admin
profile sets ``allow_app_token`` may also use ``client_credentials``.
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator

from .models import AppProfile


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
