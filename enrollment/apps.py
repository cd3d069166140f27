from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "enrollment"
    verbose_name = "Enrollment"

    def ready(self) -> None:
        # Connects the receiver that ends a disabled identity's API sessions.
        from enrollment import sessions  # noqa: F401
