"""Identities and the certificates they prove themselves with."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from ziticonsole.ids import new_id


class IdentityType(models.TextChoices):
    USER = "User", "User"
    DEVICE = "Device", "Device"
    SERVICE = "Service", "Service"


class EnrollmentState(models.TextChoices):
    PENDING = "pending", "Pending"
    EXPIRED = "expired", "Expired"
    ENROLLED = "enrolled", "Enrolled"
    NONE = "none", "Not enrolled"


class IdentityTypeChangeError(ValueError):
    pass


class Identity(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    name = models.CharField(max_length=255, unique=True)
    identity_type = models.CharField(max_length=16, choices=IdentityType.choices)
    role_attributes = models.JSONField(default=list, blank=True)
    is_disabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        # The type is fixed at creation: a device must not quietly become a service.
        if not self._state.adding:
            stored = type(self).objects.filter(pk=self.pk).values_list("identity_type", flat=True).first()
            if stored is not None and stored != self.identity_type:
                raise IdentityTypeChangeError("an identity's type cannot be changed")
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class Authenticator(models.Model):
    """A certificate an identity authenticates with; its fingerprint names it uniquely."""

    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="authenticators")
    fingerprint = models.CharField(max_length=40, unique=True)  # hex SHA-1 of the DER
    serial = models.CharField(max_length=64)  # hex
    not_after = models.DateTimeField()
    certificate_pem = models.TextField()  # public certificate only; never a key
    # The third-party CA that issued the certificate; None for the internal PKI. A deleted
    # CA takes its authenticators along: their certificates are no longer trusted.
    ca = models.ForeignKey(
        "authorities.CertificateAuthority",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="authenticators",
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.identity.name} {self.fingerprint}"
