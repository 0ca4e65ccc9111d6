from django.apps import AppConfig, apps
from django.utils.translation import gettext_lazy as _


class TokenAdminConfig(AppConfig):
    name = "token_admin"
    verbose_name = _("Token administration")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from token_admin import checks, deletion, policies, receivers

        checks.register()
        receivers.connect()
        deletion.connect()
        policies.connect()
        if apps.is_installed("django.contrib.admin"):
            # After the admin's autodiscover (it runs in django.contrib.admin's ready()): admins
            # that apps after token_admin registered get the secret-field protection too.
            from token_admin.admin import protect_secret_fields
            from token_admin.conf import conf

            site = conf.ADMIN_SITE
            if site is not None:
                protect_secret_fields(site)
