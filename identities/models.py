"""Identities, the certificates they prove themselves with, and their one-time enrollments."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from identities.errors import IdentityTypeChangeError
from kernel.ids import new_id


class IdentityType(models.TextChoices):
    USER = "User", "User"
    DEVICE = "Device", "Device"
    SERVICE = "Service", "Service"


class EnrollmentState(models.TextChoices):
    PENDING = "pending", "Pending"
    EXPIRED = "expired", "Expired"
    ENROLLED = "enrolled", "Enrolled"
    NONE = "none", "Not enrolled"


class Identity(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    name = models.CharField(max_length=255, unique=True)
    # Indexed: the management API filters lists by it.
    identity_type = models.CharField(max_length=16, choices=IdentityType.choices)
    role_attributes = models.JSONField(default=list, blank=True)
    is_disabled = models.BooleanField(default=False)
    # May use the management API with its certificate (OpenZiti's isAdmin).
    is_admin = models.BooleanField(default=False, db_index=True)
    # The id an outside system (a directory, an IdP) knows it by; unique when set.
    external_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # OpenZiti's tags: the admin's own key/value notes (strings, booleans, numbers, null).
    tags = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "identities"
        constraints = [
            # `LAPTOP` and `laptop` would be one device to an admin, two to a policy.
            models.UniqueConstraint(Lower("name"), name="identity_name_unique_ignoring_case"),
        ]
        # The console list's sorts, each with its tiebreaker, alone and after a type
        # filter: a page of a million identities reads its rows from the index in order.
        indexes = [
            models.Index(fields=["created_at", "id"], name="identity_created"),
            models.Index(fields=["identity_type", "name"], name="identity_type_name"),
            models.Index(fields=["identity_type", "created_at", "id"], name="identity_type_created"),
        ]

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
    serial = models.CharField(max_length=64, db_index=True)  # hex; OCSP looks it up
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
    # Hex SHA-256 of the certificate's SubjectPublicKeyInfo: a key belongs to one identity.
    public_key_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Renewal (OpenZiti's extend): the new certificate, issued but not yet taken up by
    # the device. Until extend-verify swaps it in, the current one stays valid.
    pending_certificate_pem = models.TextField(blank=True)
    pending_fingerprint = models.CharField(max_length=40, blank=True)
    pending_serial = models.CharField(max_length=64, blank=True)
    # The admin asked the device to renew (request-extend), and to make a new key.
    is_extend_requested = models.BooleanField(default=False)
    is_key_roll_requested = models.BooleanField(default=False)
    extended_at = models.DateTimeField(null=True, blank=True)
    key_rolled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.identity.name} {self.fingerprint}"

    @property
    def is_internal(self) -> bool:
        """Issued by the controller's own signing CA (and so renewable and revocable here)."""
        return self.ca_id is None

    @property
    def days_left(self) -> int:
        return (self.not_after - timezone.now()).days


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
    """A one-time token: the device redeems it once to become the identity."""

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    identity = models.ForeignKey(Identity, on_delete=models.CASCADE, related_name="enrollments")
    method = models.CharField(max_length=8, choices=EnrollmentMethod.choices)
    # For ottca: the third-party CA whose certificate the device will present. SET_NULL
    # so that redeeming after the CA is gone says ENROLLMENT_CA_NOT_VALID.
    ca = models.ForeignKey(
        "authorities.CertificateAuthority",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="enrollments",
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


class ImportState(models.TextChoices):
    PREVIEW = "preview", "Preview"
    RUNNING = "running", "Creating"
    DONE = "done", "Done"
    STOPPED = "stopped", "Stopped"


class IdentityImport(models.Model):
    """A CSV file of identities to create: its rows as read (with each row's problems),
    then how far their creation has come, a chunk at a time.

    Holds names, types, roles and CA ids, never a token: the ZIP of JWTs is signed
    afresh from the pending Enrollment rows whenever it is downloaded.
    """

    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    file_name = models.CharField(max_length=255, blank=True)
    # [{"line", "name", "type", "roles", "ca", "ca_name", "problems"}, ...] in file order.
    rows = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=ImportState.choices, default=ImportState.PREVIEW)
    # The admin chose to create the rows without problems and leave the others out.
    only_valid = models.BooleanField(default=False)
    # Index into the rows to create of the next one; ids of the identities made so far.
    next_row = models.PositiveIntegerField(default=0)
    created_ids = models.JSONField(default=list)
    stop_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.file_name or self.id} ({self.state})"

    @property
    def rows_with_problems(self) -> list[dict[str, Any]]:
        return [row for row in self.rows if row["problems"]]

    @property
    def rows_to_create(self) -> list[dict[str, Any]]:
        """What confirming creates: the rows without problems (a bad row never is)."""
        return [row for row in self.rows if not row["problems"]]

    @property
    def total(self) -> int:
        return len(self.rows_to_create)

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.next_row * 100 // self.total
