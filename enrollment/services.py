"""Use cases of enrollment: minting enrollment JWTs and redeeming one-time tokens."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from django.db import IntegrityError, transaction
from django.utils import timezone

from authorities.pki import issue_identity_certificate, load_pki, sha1_fingerprint, to_pem
from enrollment import errors
from enrollment.csr import load_csr
from enrollment.jwt import sign_enrollment_claims
from enrollment.models import Enrollment, EnrollmentMethod
from identities.models import Authenticator, Identity


@dataclass(frozen=True)
class IssuedCertificate:
    identity: Identity
    certificate: x509.Certificate
    chain_pem: str  # the leaf followed by its intermediates
    ca_bundle_pem: str


def enrollment_jwt(enrollment: Enrollment) -> str:
    """The enrollment JWT a device redeems: em, sub, jti, exp and the identity's name."""
    return sign_enrollment_claims(
        {
            "em": enrollment.method,
            "sub": enrollment.identity_id,
            "jti": enrollment.token,
            "exp": int(enrollment.expires_at.timestamp()),
            "name": enrollment.identity.name,
        }
    )


def ca_bundle_base64() -> bytes:
    """The CA bundle for /.well-known/est/cacerts: base64 of a DER certs-only PKCS#7."""
    return base64.encodebytes(pkcs7.serialize_certificates(load_pki().ca_bundle, Encoding.DER))


def _pending_enrollment(token: str | None, method: EnrollmentMethod) -> Enrollment:
    """Look the token up and say precisely why it cannot be used, if it cannot."""
    if not token:
        raise errors.InvalidEnrollmentToken("the request has no enrollment token")
    enrollment = Enrollment.objects.select_related("identity").filter(token=token).first()
    if enrollment is None or enrollment.consumed_at is not None:
        raise errors.InvalidEnrollmentToken()
    if enrollment.method != method:
        raise errors.InvalidEnrollMethod(
            f"this token is for enrollment method {enrollment.method}, not {method}"
        )
    if enrollment.is_expired():
        raise errors.EnrollmentExpired()
    return enrollment


def _consume(enrollment: Enrollment) -> None:
    """Mark the token used, or fail if another request got there first.

    A conditional UPDATE, not a read-then-write: of two concurrent redemptions only
    one matches the row, on SQLite and PostgreSQL alike.
    """
    now = timezone.now()
    won = Enrollment.objects.filter(pk=enrollment.pk, consumed_at__isnull=True, expires_at__gt=now).update(
        consumed_at=now
    )
    if not won:
        raise errors.InvalidEnrollmentToken()


def record_authenticator(identity: Identity, certificate: x509.Certificate) -> Authenticator:
    """Make `certificate` an authenticator of `identity`; 409 CERT_IN_USE if it is taken."""
    try:
        # The unique index on the fingerprint decides, even between concurrent requests.
        with transaction.atomic():
            return Authenticator.objects.create(
                identity=identity,
                fingerprint=sha1_fingerprint(certificate),
                serial=format(certificate.serial_number, "x"),
                not_after=certificate.not_valid_after_utc,
                certificate_pem=to_pem(certificate),
            )
    except IntegrityError as exc:
        raise errors.CertInUse() from exc


def redeem_ott(token: str | None, csr_pem: str | bytes | None) -> IssuedCertificate:
    """Redeem a one-time token for a certificate signed by the internal PKI.

    Checks the token and the CSR before writing anything. The token is consumed, the
    certificate issued and recorded as the identity's authenticator in one transaction,
    so a failed attempt leaves the token usable and a token redeems at most once.
    Raises EnrollmentError subclasses carrying the wire error code.
    """
    enrollment = _pending_enrollment(token, EnrollmentMethod.OTT)
    if not csr_pem:
        raise errors.CouldNotProcessCsr("the request carries no CSR")
    csr = load_csr(csr_pem)
    identity = enrollment.identity
    certificate = issue_identity_certificate(csr.public_key(), identity.id)
    with transaction.atomic():
        _consume(enrollment)
        record_authenticator(identity, certificate)
    pki = load_pki()
    return IssuedCertificate(
        identity=identity,
        certificate=certificate,
        chain_pem=to_pem(certificate) + to_pem(pki.signing_cert),
        ca_bundle_pem=pki.ca_bundle_pem,
    )
