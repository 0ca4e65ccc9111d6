from django.apps import AppConfig


class ExampleProjectConfig(AppConfig):
    name = "example_project"
    verbose_name = "Example project"

    def ready(self) -> None:
        from example_project.notifications import log_leak_notices
        from token_admin.signals import leaked_tokens_revoked

        leaked_tokens_revoked.connect(log_leak_notices, dispatch_uid="example_project_leak_notices")
