"""The audit trail: one row per change or security event, never updated or deleted."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    """Every kind of event the trail records; the value is what the export says."""

    IDENTITY_CREATED = "identity.created", "Identity created"
    IDENTITIES_SEEDED = "identity.seeded", "Identities seeded"
    IDENTITY_UPDATED = "identity.updated", "Identity edited"
    IDENTITY_DISABLED = "identity.disabled", "Identity disabled"
    IDENTITY_ENABLED = "identity.enabled", "Identity enabled"
    IDENTITY_DELETED = "identity.deleted", "Identity deleted"
    JWT_DOWNLOADED = "enrollment.jwt_downloaded", "Enrollment JWT downloaded"
    TOKEN_REISSUED = "enrollment.reissued", "Enrollment token reissued"
    ENROLLMENT_RESET = "enrollment.reset", "Enrollment reset"
    ENROLLMENT_SUCCEEDED = "enrollment.succeeded", "Enrollment succeeded"
    ENROLLMENT_REFUSED = "enrollment.refused", "Enrollment refused"
    RENEWAL_REQUESTED = "certificate.renewal_requested", "Certificate renewal requested"
    CERTIFICATE_RENEWED = "certificate.renewed", "Certificate renewed"
    CERTIFICATE_REVOKED = "certificate.revoked", "Certificate revoked"
    CA_CREATED = "ca.created", "CA created"
    CA_VERIFIED = "ca.verified", "CA verified"
    CA_VERIFICATION_REFUSED = "ca.verification_refused", "CA verification refused"
    CA_UPDATED = "ca.updated", "CA changed"
    CA_DELETED = "ca.deleted", "CA deleted"
    CA_JWT_DOWNLOADED = "ca.jwt_downloaded", "CA JWT downloaded"
    LOGIN_SUCCEEDED = "login.succeeded", "Login succeeded"
    LOGIN_FAILED = "login.failed", "Login failed"
    LOGOUT = "login.logged_out", "Logged out"
    TRAIL_EXPORTED = "audit.exported", "Audit trail exported"


class ObjectType(models.TextChoices):
    IDENTITY = "identity", "Identity"
    CA = "ca", "Certificate authority"
    ADMIN = "admin", "Admin account"
    AUDIT_TRAIL = "audit", "Audit trail"


class Outcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    REFUSED = "refused", "Refused"


class AuditRecordQuerySet(models.QuerySet["AuditRecord"]):
    def about(self, object_type: str, object_id: str) -> AuditRecordQuerySet:
        """The history of one object, newest first (the (object_type, object_id, at) index)."""
        return self.filter(object_type=object_type, object_id=object_id).order_by("-at", "-pk")


class AuditRecord(models.Model):
    """Who did what to which object, when, and how it ended.

    Written by audit.services.record only. The columns hold names, ids, addresses and
    wire codes; never a token, key, password or JWT.
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # kernel.actors.Actor, flattened; "system" when no actor was set.
    actor_kind = models.CharField(max_length=16)
    actor_name = models.CharField(max_length=255, blank=True)
    actor_ref = models.CharField(max_length=64, blank=True)
    actor_address = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=64, choices=Action.choices, db_index=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCEEDED)
    object_type = models.CharField(max_length=32, choices=ObjectType.choices)
    object_id = models.CharField(max_length=64, blank=True)
    # The object's name when it happened: it survives a rename or a delete.
    object_name = models.CharField(max_length=255, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditRecordQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object_at"),
            models.Index(fields=["actor_name", "at"], name="audit_actor_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_name}"

    @property
    def actor_label(self) -> str:
        """The actor as a person reads it: "admin alice", "device kiosk-1", "command seed_identities"."""
        name = self.actor_name or "unknown"
        return f"{self.actor_kind} {name}"
