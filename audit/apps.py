from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Console logins are Django's; their signals are the one place every login passes.
        from audit import logins  # noqa: F401
