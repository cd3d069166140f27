"""The audit trail: one row per change or security event, never updated or deleted."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q
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
    ENROLLMENT_CREATED = "enrollment.created", "Enrollment token created"
    ENROLLMENT_DELETED = "enrollment.deleted", "Enrollment token withdrawn"
    ENROLLMENT_RESET = "enrollment.reset", "Enrollment reset"
    ENROLLMENT_SUCCEEDED = "enrollment.succeeded", "Enrollment succeeded"
    ENROLLMENT_REFUSED = "enrollment.refused", "Enrollment refused"
    RENEWAL_REQUESTED = "certificate.renewal_requested", "Certificate renewal requested"
    CERTIFICATE_RENEWED = "certificate.renewed", "Certificate renewed"
    CERTIFICATE_REVOKED = "certificate.revoked", "Certificate revoked"
    AUTHENTICATOR_DELETED = "certificate.removed", "Certificate removed from its identity"
    CA_CREATED = "ca.created", "CA created"
    CA_VERIFIED = "ca.verified", "CA verified"
    CA_VERIFICATION_REFUSED = "ca.verification_refused", "CA verification refused"
    CA_UPDATED = "ca.updated", "CA changed"
    CA_DELETED = "ca.deleted", "CA deleted"
    CA_JWT_DOWNLOADED = "ca.jwt_downloaded", "CA JWT downloaded"
    LOGIN_SUCCEEDED = "login.succeeded", "Login succeeded"
    LOGIN_FAILED = "login.failed", "Login failed"
    LOGOUT = "login.logged_out", "Logged out"
    PASSWORD_CHANGED = "admin.password_changed", "Admin password changed"
    PASSWORD_RESET = "admin.password_reset", "Admin password reset"
    TRAIL_EXPORTED = "audit.exported", "Audit trail exported"


class ObjectType(models.TextChoices):
    IDENTITY = "identity", "Identity"
    CA = "ca", "Certificate authority"
    ADMIN = "admin", "Admin account"
    AUDIT_TRAIL = "audit", "Audit trail"


class Outcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    REFUSED = "refused", "Refused"


# The latest events an identity's or CA's page shows; the audit page has the rest.
HISTORY_LENGTH = 10


class AuditRecordQuerySet(models.QuerySet["AuditRecord"]):
    def about(self, object_type: str, object_id: str) -> AuditRecordQuerySet:
        """The history of one object, newest first (the (object_type, object_id, at) index)."""
        return self.filter(object_type=object_type, object_id=object_id).order_by("-at", "-pk")

    def history_of(self, object_type: str, object_id: str) -> list[AuditRecord]:
        """What an object's page shows of its history: its latest events."""
        return list(self.about(object_type, object_id)[:HISTORY_LENGTH])

    def matching(
        self,
        *,
        object_type: str | None = None,
        object: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        outcome: str | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> AuditRecordQuerySet:
        """The records the audit page's filters select; days are UTC days, `until` included."""
        records = self
        if object_type:
            records = records.filter(object_type=object_type)
        if object:
            records = records.filter(Q(object_id=object) | Q(object_name__icontains=object))
        if actor:
            records = records.filter(Q(actor_ref=actor) | Q(actor_name__icontains=actor))
        if action:
            records = records.filter(action=action)
        if outcome:
            records = records.filter(outcome=outcome)
        if since:
            records = records.filter(at__gte=dt.datetime.combine(since, dt.time(), dt.UTC))
        if until:
            records = records.filter(
                at__lt=dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
            )
        return records.order_by("-at", "-pk")


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
    def detail_lines(self) -> list[str]:
        """The detail as a person reads it: `reason: keyCompromise`, `name: kiosk → lobby`."""

        def text(value: object) -> str:
            if isinstance(value, list):
                return ", ".join(text(v) for v in value) or "none"
            if isinstance(value, bool):
                return "yes" if value else "no"
            return "none" if value is None else str(value)

        def words(key: str) -> str:
            return key.replace("_", " ")

        lines = []
        for key, value in self.detail.items():
            if key == "changed" and isinstance(value, dict):
                lines += [f"{words(field)}: {text(old)} → {text(new)}" for field, (old, new) in value.items()]
            elif isinstance(value, dict):
                lines += [f"{words(field)}: {text(v)}" for field, v in value.items()]
            else:
                lines.append(f"{words(key)}: {text(value)}")
        return lines

    @property
    def actor_label(self) -> str:
        """The actor as a person reads it: "admin alice", "device kiosk-1", "command seed_identities"."""
        name = self.actor_name or "unknown"
        return f"{self.actor_kind} {name}"
