"""One-time enrollments: the token a device redeems once for its identity."""

from __future__ import annotations

import datetime as dt
import secrets

from django.db import models
from django.utils import timezone

from identities.models import Identity
from ziticonsole.ids import new_id


class EnrollmentMethod(models.TextChoices):
    OTT = "ott", "One-time token"
    OTTCA = "ottca", "One-time token with third-party CA"


def new_token() -> str:
    # The jti: 256 random bits, unguessable.
    return secrets.token_urlsafe(32)


class EnrollmentQuerySet(models.QuerySet["Enrollment"]):
    def unconsumed(self) -> EnrollmentQuerySet:
        return self.filter(consumed_at__isnull=True)

    def pending(self, now: dt.datetime | None = None) -> EnrollmentQuerySet:
        """Not yet redeemed and not yet expired: the token can still be used."""
        return self.unconsumed().filter(expires_at__gt=now or timezone.now())


class Enrollment(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="enrollments")
    method = models.CharField(max_length=8, choices=EnrollmentMethod.choices)
    # For ottca: the third-party CA whose certificate the device will present. SET_NULL
    # so that redeeming after the CA is gone says ENROLLMENT_CA_NOT_VALID.
    ca = models.ForeignKey(
        "authorities.CertificateAuthority", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept in the clear because the console hands out the same JWT until it is used;
    # it is worthless once consumed or expired.
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.method} enrollment of {self.identity_id}"

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())

    def is_pending(self, now: dt.datetime | None = None) -> bool:
        return self.consumed_at is None and not self.is_expired(now)


class ApiSession(models.Model):
    """An API session opened by certificate authentication.

    Only a SHA-256 of the token is stored: the token is 256 random bits, so a fast hash
    is enough, and a database leak does not hand out live sessions.
    """

    IDLE_TIMEOUT = dt.timedelta(minutes=30)

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="api_sessions")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_activity_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"API session {self.id} of {self.identity_id}"

    @property
    def expires_at(self) -> dt.datetime:
        return self.last_activity_at + self.IDLE_TIMEOUT
