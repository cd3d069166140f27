"""Use cases of enrollment: minting enrollment JWTs and redeeming one-time tokens."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from django.db import IntegrityError, transaction
from django.utils import timezone

from authorities.certificates import CertificateRejected, verify_client_certificate
from authorities.models import CertificateAuthority
from authorities.pki import issue_identity_certificate, load_pki, sha1_fingerprint, to_pem
from authorities.services import render_identity_name
from enrollment import errors
from enrollment.csr import load_csr
from enrollment.jwt import sign_enrollment_claims
from enrollment.models import ApiSession, Enrollment, EnrollmentMethod
from identities.models import Authenticator, Identity, IdentityType


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


def record_authenticator(
    identity: Identity, certificate: x509.Certificate, ca: CertificateAuthority | None = None
) -> Authenticator:
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
                ca=ca,
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


def _require_certificate(certificate: x509.Certificate | None) -> x509.Certificate:
    if certificate is None:
        raise errors.CertFailedValidation("no client certificate was presented in the TLS handshake")
    return certificate


def redeem_ottca(token: str | None, certificate: x509.Certificate | None) -> Identity:
    """Redeem a one-time token with a certificate from the enrollment's third-party CA.

    The CA must still exist, be verified and allow OTT CA enrollment; the certificate
    must chain to it with EKU clientAuth. Token consumption and the new authenticator
    commit together. Raises EnrollmentError subclasses carrying the wire error code.
    """
    enrollment = _pending_enrollment(token, EnrollmentMethod.OTTCA)
    ca = enrollment.ca
    if ca is None or not ca.is_verified or not ca.is_ott_ca_enrollment_enabled:
        reason = (
            "is gone"
            if ca is None
            else "is not verified"
            if not ca.is_verified
            else "has OTT CA enrollment off"
        )
        raise errors.EnrollmentCaNotValid(f"the certificate authority of this enrollment {reason}")
    certificate = _require_certificate(certificate)
    try:
        verify_client_certificate(certificate, [ca.certificate])
    except CertificateRejected as exc:
        raise errors.CertFailedValidation(f"{exc} (expected CA: {ca.name})") from exc
    with transaction.atomic():
        _consume(enrollment)
        record_authenticator(enrollment.identity, certificate, ca)
    return enrollment.identity


def _unique_identity_name(base: str, batch: int = 20) -> str:
    """`base`, or `base-2`, `base-3`, ... whichever is free.

    Looks candidates up by exact name, a batch at a time, so the unique index answers;
    scanning names by pattern would read every identity while holding the write lock.
    """
    for start in itertools.count(1, batch):
        candidates = [base if n == 1 else f"{base}-{n}" for n in range(start, start + batch)]
        taken = set(Identity.objects.filter(name__in=candidates).values_list("name", flat=True))
        free = next((name for name in candidates if name not in taken), None)
        if free is not None:
            return free
    raise AssertionError("unreachable")


def enroll_with_ca(certificate: x509.Certificate | None, requested_name: str | None) -> Identity:
    """Auto enrollment: create a Device identity for a certificate of a verified CA.

    The CA is the one the certificate chains to among the verified CAs with auto
    enrollment on. The identity's name comes from the CA's name format (with a counter
    on collision), its roles from the CA. Nothing is written unless all of it is.
    """
    cas = list(CertificateAuthority.objects.for_auto_enrollment())
    if not cas:
        raise errors.EnrollmentNoValidCas()
    certificate = _require_certificate(certificate)
    try:
        anchor = verify_client_certificate(certificate, [ca.certificate for ca in cas])
    except CertificateRejected as exc:
        raise errors.CertFailedValidation(str(exc)) from exc
    ca = next(ca for ca in cas if ca.certificate == anchor)
    common_names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    common_name = str(common_names[0].value) if common_names else ""
    for _attempt in range(5):
        identity = Identity(identity_type=IdentityType.DEVICE, role_attributes=list(ca.identity_roles))
        base = render_identity_name(
            ca,
            common_name=common_name,
            requested_name=(requested_name or "").strip(),
            identity_id=identity.id,
        )
        try:
            with transaction.atomic():
                identity.name = _unique_identity_name(base or identity.id)
                identity.save(force_insert=True)
                record_authenticator(identity, certificate, ca)
            return identity
        except IntegrityError:
            # Another enrollment took the same name between our look and our insert.
            continue
    raise errors.CouldNotValidate("could not find a free identity name; try again")


def ca_enrollment_jwt(ca: CertificateAuthority) -> str:
    """The reusable auto-enrollment JWT of a verified CA with auto enrollment on."""
    if not ca.is_verified or not ca.is_auto_ca_enrollment_enabled:
        raise errors.EnrollmentCaNotValid("this CA is not verified or has auto enrollment off")
    return sign_enrollment_claims({"em": "ca", "sub": ca.id, "jti": ca.id, "name": ca.name})


def _session_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenedSession:
    session: ApiSession
    token: str  # shown once, to the client that authenticated


def authenticate_with_certificate(certificate: x509.Certificate | None) -> OpenedSession:
    """Open an API session for the identity that owns the presented certificate.

    Internal certificates are re-verified against the internal PKI; third-party ones
    against their CA, which must be verified with authentication on. Disabled or
    unknown identities and unusable certificates all get INVALID_AUTH.
    """
    if certificate is None:
        raise errors.InvalidAuth("no client certificate was presented")
    authenticator = (
        Authenticator.objects.select_related("identity", "ca")
        .filter(fingerprint=sha1_fingerprint(certificate))
        .first()
    )
    if authenticator is None:
        raise errors.InvalidAuth("the certificate does not belong to any identity")
    identity = authenticator.identity
    if identity.is_disabled:
        raise errors.InvalidAuth("the identity is disabled")
    ca = authenticator.ca
    if ca is not None and (not ca.is_verified or not ca.is_auth_enabled):
        raise errors.InvalidAuth("the certificate's CA does not allow authentication")
    pki = load_pki()
    anchors, intermediates = ([ca.certificate], []) if ca else ([pki.root_cert], [pki.signing_cert])
    try:
        verify_client_certificate(certificate, anchors, intermediates)
    except CertificateRejected as exc:
        raise errors.InvalidAuth(str(exc)) from exc
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Sessions idle past the timeout are dead; drop this identity's, so devices that
        # authenticate again and again do not pile them up.
        identity.api_sessions.filter(last_activity_at__lte=timezone.now() - ApiSession.IDLE_TIMEOUT).delete()
        session = ApiSession.objects.create(identity=identity, token_hash=_session_token_hash(token))
    return OpenedSession(session=session, token=token)


def current_api_session(token: str | None) -> ApiSession:
    """The live session for a zt-session token; using it restarts the idle clock."""
    if not token:
        raise errors.Unauthorized()
    now = timezone.now()
    session = (
        ApiSession.objects.select_related("identity")
        .filter(token_hash=_session_token_hash(token), last_activity_at__gt=now - ApiSession.IDLE_TIMEOUT)
        .first()
    )
    if session is None or session.identity.is_disabled:
        raise errors.Unauthorized()
    ApiSession.objects.filter(pk=session.pk).update(last_activity_at=now)
    session.last_activity_at = now
    return session
