from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TokenAdminConfig(AppConfig):
    name = "token_admin"
    verbose_name = _("Token administration")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, deletion, policies, receivers

        checks.register()
        receivers.connect()
        deletion.connect()
        policies.connect()
