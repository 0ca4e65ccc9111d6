import os

from django.apps import AppConfig


class DotSuiteDefaultsConfig(AppConfig):
    name = "dot_suite_defaults"

    def ready(self) -> None:
        if os.environ.get("DOT_SUITE_VALIDATOR", "token_admin") == "dot":
            return
        from oauth2_provider import settings as dot_settings

        dot_settings.DEFAULTS["OAUTH2_VALIDATOR_CLASS"] = (
            "token_admin.oauth2_validators.TokenAdminOAuth2Validator"
        )
        dot_settings.oauth2_settings.reload()
