from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "example_project"
    verbose_name = "Example project"

    def ready(self) -> None:
        from token_admin.signals import leaked_tokens_revoked

        from .notifications import log_leak_notices

        leaked_tokens_revoked.connect(log_leak_notices, dispatch_uid="example_project_leak_notices")
