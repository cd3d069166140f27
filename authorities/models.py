"""Third-party certificate authorities whose device certificates the controller accepts."""

from __future__ import annotations

import secrets

from cryptography import x509
from django.db import models
from django.utils import timezone

from ziticonsole.ids import new_id

DEFAULT_IDENTITY_NAME_FORMAT = "[caName]-[commonName]"


def new_verification_token() -> str:
    # Becomes the CN of the proof-of-possession certificate: letters and digits only,
    # so it survives `openssl req -subj "/CN=..."` without quoting.
    return secrets.token_hex(16)


class CertificateAuthorityQuerySet(models.QuerySet["CertificateAuthority"]):
    def verified(self) -> CertificateAuthorityQuerySet:
        return self.filter(is_verified=True)

    def for_auto_enrollment(self) -> CertificateAuthorityQuerySet:
        return self.verified().filter(is_auto_ca_enrollment_enabled=True)


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

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())
