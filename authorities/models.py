"""Third-party certificate authorities whose device certificates the controller accepts."""

from __future__ import annotations

import datetime as dt
import enum
import secrets

from cryptography import x509
from django.db import models
from django.utils import timezone

from kernel.certificates import certificate_from_pem
from kernel.ids import new_id

DEFAULT_IDENTITY_NAME_FORMAT = "[caName]-[commonName]"


def new_verification_token() -> str:
    # Becomes the CN of the proof-of-possession certificate: letters and digits only,
    # so it survives `openssl req -subj "/CN=..."` without quoting.
    return secrets.token_hex(16)


class CaUse(enum.Enum):
    """What a third-party CA's certificates may be used for; each use has its own flag."""

    OTT_ENROLLMENT = "is_ott_ca_enrollment_enabled"
    AUTO_ENROLLMENT = "is_auto_ca_enrollment_enabled"
    AUTHENTICATION = "is_auth_enabled"

    @property
    def flag(self) -> str:
        """The CertificateAuthority field that switches this use on."""
        return self.value

    @property
    def label(self) -> str:
        """The flag's verbose name: "OTT CA enrollment", "auto enrollment", "authentication"."""
        field = CertificateAuthority._meta.get_field(self.flag)
        assert isinstance(field, models.BooleanField)
        return str(field.verbose_name)


class CertificateAuthorityQuerySet(models.QuerySet["CertificateAuthority"]):
    # The one rule for what a CA may do, in SQL (usable_for) and in words (refusal):
    # it must be verified, and the use must be switched on.

    def usable_for(self, use: CaUse) -> CertificateAuthorityQuerySet:
        """The CAs that may be used for `use` now."""
        return self.filter(is_verified=True, **{use.flag: True})

    def refusal(self, pk: str | None, use: CaUse) -> str | None:
        """Why the CA `pk` may not be used for `use` now, as a phrase ("is not verified
        yet"), or None if it may. A `pk` of None, or of a deleted CA, "is gone"."""
        row = self.filter(pk=pk).values_list("is_verified", use.flag).first() if pk else None
        if row is None:
            return "is gone"
        is_verified, use_enabled = row
        return _refusal(is_verified, use_enabled, use)


def _refusal(is_verified: bool, use_enabled: bool, use: CaUse) -> str | None:
    if not is_verified:
        return "is not verified yet"
    if not use_enabled:
        return f"has {use.label} off"
    return None


class CertificateAuthority(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_id, editable=False)
    name = models.CharField(max_length=255, unique=True)
    certificate_pem = models.TextField()
    fingerprint = models.CharField(max_length=40, unique=True)  # hex SHA-1 of the DER
    # Proof of possession: a certificate with this CN, signed by the CA's key. Cleared
    # once used, so the proof cannot be replayed.
    verification_token = models.CharField(max_length=64, blank=True, default=new_verification_token)
    is_verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    is_ott_ca_enrollment_enabled = models.BooleanField("OTT CA enrollment", default=False)
    is_auto_ca_enrollment_enabled = models.BooleanField("auto enrollment", default=False)
    is_auth_enabled = models.BooleanField("authentication", default=False)
    identity_roles = models.JSONField(default=list, blank=True)
    identity_name_format = models.CharField(max_length=255, default=DEFAULT_IDENTITY_NAME_FORMAT)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CertificateAuthorityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"

    def __str__(self) -> str:
        return self.name

    def refusal(self, use: CaUse) -> str | None:
        """Why this CA may not be used for `use` now, or None if it may.

        Asks the database, not this object: a CA unverified, switched off or deleted
        since it was loaded is refused.
        """
        return CertificateAuthority.objects.refusal(self.pk, use)

    def refusal_as_loaded(self, use: CaUse) -> str | None:
        """The same rule on this object's fields, for a row just read with a join."""
        return _refusal(self.is_verified, getattr(self, use.flag), use)

    @property
    def certificate(self) -> x509.Certificate:
        return certificate_from_pem(self.certificate_pem)

    @property
    def expires_at(self) -> dt.datetime:
        """When the CA certificate ends (read from the PEM, which has it)."""
        return self.certificate.not_valid_after_utc

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class RevocationReason(models.TextChoices):
    """RFC 5280 §5.3.1 reason codes a revocation may give (the names are x509.ReasonFlags
    values). certificateHold is left out: a revocation here is final."""

    UNSPECIFIED = "unspecified", "Unspecified"
    KEY_COMPROMISE = "keyCompromise", "Key compromise"
    AFFILIATION_CHANGED = "affiliationChanged", "Affiliation changed"
    SUPERSEDED = "superseded", "Superseded"
    CESSATION_OF_OPERATION = "cessationOfOperation", "Cessation of operation"
    PRIVILEGE_WITHDRAWN = "privilegeWithdrawn", "Privilege withdrawn"

    @property
    def flag(self) -> x509.ReasonFlags:
        return x509.ReasonFlags(self.value)


class RevokedCertificateQuerySet(models.QuerySet["RevokedCertificate"]):
    def is_revoked(self, serial: str) -> bool:
        """Whether the signing CA's certificate with this hex serial is revoked: one
        lookup on the unique index."""
        return self.filter(serial=serial.lower()).exists()


class RevokedCertificate(models.Model):
    """A certificate of the controller's signing CA that is revoked for good.

    What the CRL lists and the OCSP responder answers "revoked" for; authentication
    refuses it on every worker and replica, since they all read this table.
    """

    serial = models.CharField(max_length=64, unique=True)  # hex, as Authenticator.serial
    fingerprint = models.CharField(max_length=40, blank=True)  # hex SHA-1 of the DER
    subject = models.CharField(max_length=255, blank=True)  # the CN: an identity id, for people
    not_after = models.DateTimeField()
    revoked_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(
        max_length=32, choices=RevocationReason.choices, default=RevocationReason.UNSPECIFIED
    )

    objects = RevokedCertificateQuerySet.as_manager()

    class Meta:
        ordering = ["-revoked_at"]

    def __str__(self) -> str:
        return f"revoked {self.serial} ({self.reason})"
