"""Use cases of enrollment: what a device does to become an identity.

It fetches the CA bundle, then redeems a one-time token (ott, ottca) or enrolls with a
certificate from a CA that allows it (ca). The rows are identities': this module checks
what the device sent and calls identities.services to write them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from django.conf import settings
from django.utils import timezone

from audit.models import Action, ObjectType
from audit.services import record_refusal
from authorities.models import CaUse, CertificateAuthority, RevokedCertificate
from authorities.pki import issue_identity_certificate, load_pki
from authorities.services import render_identity_name
from enrollment import errors, sessions
from enrollment.csr import load_csr
from identities import services as identities
from identities.errors import (
    CertificateTaken,
    EnrollmentUsed,
    ExtensionRefused,
    IdentityDisabled,
    IdentityError,
    KeyInUse,
)
from identities.models import Authenticator, Enrollment, EnrollmentMethod, Identity
from kernel.actors import Actor, acting_as, current_actor
from kernel.certificates import (
    CertificateRejected,
    certificate_from_pem,
    common_name,
    public_key_sha256,
    sha1_fingerprint,
    to_pem,
    verify_client_certificate,
)
from kernel.ids import new_id
from kernel.queries import unique_or_none


@dataclass(frozen=True)
class IssuedCertificate:
    identity: Identity
    certificate: x509.Certificate
    chain_pem: str  # the leaf followed by its intermediates
    ca_bundle_pem: str

    @classmethod
    def of(cls, identity: Identity, certificate: x509.Certificate) -> IssuedCertificate:
        """A certificate of our signing CA, with the chain and bundle a device is sent."""
        pki = load_pki()
        return cls(
            identity=identity,
            certificate=certificate,
            chain_pem=to_pem(certificate) + to_pem(pki.signing_cert),
            ca_bundle_pem=pki.ca_bundle_pem,
        )


def ca_bundle_base64() -> bytes:
    """The CA bundle for /.well-known/est/cacerts: base64 of a DER certs-only PKCS#7."""
    return base64.encodebytes(pkcs7.serialize_certificates(load_pki().ca_bundle, Encoding.DER))


def _pending_enrollment(token: str | None, method: EnrollmentMethod) -> Enrollment:
    """Look the token up and say precisely why it cannot be used, if it cannot."""
    if not token:
        raise errors.InvalidEnrollmentToken("the request has no enrollment token")
    enrollment = unique_or_none(Enrollment.objects.select_related("identity").filter(token=token))
    if enrollment is None or enrollment.consumed_at is not None:
        raise errors.InvalidEnrollmentToken()
    if enrollment.method != method:
        raise errors.InvalidEnrollMethod(
            f"this token is for enrollment method {enrollment.method}, not {method}"
        )
    if enrollment.is_expired():
        raise errors.EnrollmentExpired()
    if enrollment.identity.is_disabled:
        raise errors.IdentityDisabled()
    return enrollment


@contextmanager
def _in_wire_codes() -> Iterator[None]:
    """Raise what identities.services refuses as the wire error a device understands."""
    try:
        yield
    except EnrollmentUsed as exc:
        raise errors.InvalidEnrollmentToken() from exc
    except IdentityDisabled as exc:
        raise errors.IdentityDisabled() from exc
    except CertificateTaken as exc:
        raise errors.CertInUse() from exc
    except IdentityError as exc:
        raise errors.CouldNotValidate(exc.message) from exc


@contextmanager
def as_device_of(identity: Identity) -> Iterator[None]:
    """From here on the device acting is `identity`'s: it showed that identity's token or
    certificate. Keeps the address and channel the request set."""
    actor = current_actor() or Actor("device", "")
    with acting_as(dataclasses.replace(actor, kind="identity", name=identity.name, ref=identity.id)):
        yield


@contextmanager
def refusals_recorded(method: str, token: str | None) -> Iterator[None]:
    """Record every enrollment the block refuses, with its wire code, then let it go on.

    Recorded after the refused attempt's transaction rolled back, so the record stays;
    within the address's budget (audit.services.record_refusal), so a flood is counted,
    not stored line by line.
    The token itself is never recorded; it only finds the identity it belongs to.
    """
    try:
        yield
    except errors.EnrollmentError as exc:
        enrollment = (
            Enrollment.objects.select_related("identity").filter(token=token).first() if token else None
        )
        identity = enrollment.identity if enrollment is not None else None
        record_refusal(
            Action.ENROLLMENT_REFUSED,
            ObjectType.IDENTITY,
            identity.pk if identity else "",
            identity.name if identity else "",
            detail={"method": method[:16], "code": exc.code, "reason": exc.message},
        )
        raise


def redeem_ott(token: str | None, csr_pem: str | bytes | None) -> IssuedCertificate:
    """Redeem a one-time token for a certificate signed by the internal PKI.

    Checks the token and the CSR before writing anything. The token is consumed, the
    certificate issued and recorded as the identity's authenticator in one transaction,
    so a failed attempt leaves the token usable and a token redeems at most once.
    Raises EnrollmentError subclasses carrying the wire error code.
    """
    try:
        enrollment = _pending_enrollment(token, EnrollmentMethod.OTT)
    except errors.InvalidEnrollmentToken:
        again = _answer_again(token, csr_pem)
        if again is None:
            raise
        return again
    if not csr_pem:
        raise errors.CouldNotProcessCsr("the request carries no CSR")
    csr = load_csr(csr_pem)
    identity = enrollment.identity
    certificate = issue_identity_certificate(csr.public_key(), identity.id)
    with _in_wire_codes(), as_device_of(identity):
        identities.redeem_enrollment(enrollment, certificate)
    return IssuedCertificate.of(identity, certificate)


def _answer_again(token: str | None, csr_pem: str | bytes | None) -> IssuedCertificate | None:
    """The certificate a token was redeemed for, to the device whose answer was lost.

    A device that never got its answer retries with the same CSR. Shortly after the
    redemption (ZITI_ENROLLMENT_RETRY_SECONDS), a CSR for the same public key proves it
    is that device, since only it holds the key: it gets the same certificate again,
    nothing new is issued. Any other CSR, or a retry later, is refused as before.
    """
    window = dt.timedelta(seconds=settings.ZITI_ENROLLMENT_RETRY_SECONDS)
    if not token or not csr_pem or not window:
        return None
    enrollment = (
        Enrollment.objects.select_related("identity")
        .filter(token=token, method=EnrollmentMethod.OTT, consumed_at__gt=timezone.now() - window)
        .first()
    )
    if enrollment is None or enrollment.identity.is_disabled:
        return None
    try:
        key_hash = public_key_sha256(load_csr(csr_pem).public_key())
    except errors.CouldNotProcessCsr:
        return None
    authenticator = enrollment.identity.authenticators.filter(
        ca__isnull=True, public_key_sha256=key_hash
    ).first()
    if authenticator is None:
        return None
    return IssuedCertificate.of(enrollment.identity, certificate_from_pem(authenticator.certificate_pem))


def _require_certificate(certificate: x509.Certificate | None) -> x509.Certificate:
    if certificate is None:
        raise errors.CertFailedValidation("no client certificate was presented in the TLS handshake")
    return certificate


def redeem_ottca(token: str | None, certificate: x509.Certificate | None) -> Identity:
    """Redeem a one-time token with a certificate from the enrollment's third-party CA.

    The CA must be usable for OTT enrollment now; the certificate must chain to it with
    EKU clientAuth. Token consumption and the new authenticator commit together.
    Raises EnrollmentError subclasses carrying the wire error code.
    """
    enrollment = _pending_enrollment(token, EnrollmentMethod.OTTCA)
    refusal = CertificateAuthority.objects.refusal(enrollment.ca_id, CaUse.OTT_ENROLLMENT)
    if refusal is not None:
        raise errors.EnrollmentCaNotValid(f"the certificate authority of this enrollment {refusal}")
    ca = enrollment.ca
    assert ca is not None  # not refused, so it exists
    certificate = _require_certificate(certificate)
    try:
        verify_client_certificate(certificate, [ca.certificate])
    except CertificateRejected as exc:
        raise errors.CertFailedValidation(f"{exc} (expected CA: {ca.name})") from exc
    with _in_wire_codes(), as_device_of(enrollment.identity):
        identities.redeem_enrollment(enrollment, certificate, ca)
    return enrollment.identity


def enroll_with_ca(certificate: x509.Certificate | None, requested_name: str | None) -> Identity:
    """Auto enrollment: create a Device identity for a certificate of a CA that allows it.

    The CA is the one the certificate chains to among the CAs usable for auto enrollment
    now. The identity's name comes from the CA's name format (with a counter on
    collision) and obeys the rule of every identity name: one too long or with control
    characters is COULD_NOT_VALIDATE. Its roles come from the CA. Nothing is written
    unless all of it is.
    """
    cas = list(CertificateAuthority.objects.usable_for(CaUse.AUTO_ENROLLMENT))
    if not cas:
        raise errors.EnrollmentNoValidCas()
    certificate = _require_certificate(certificate)
    try:
        anchor = verify_client_certificate(certificate, [ca.certificate for ca in cas])
    except CertificateRejected as exc:
        raise errors.CertFailedValidation(str(exc)) from exc
    ca = next(ca for ca in cas if ca.certificate == anchor)
    identity_id = new_id()
    name = render_identity_name(
        ca,
        common_name=common_name(certificate),
        requested_name=(requested_name or "").strip(),
        identity_id=identity_id,
    )
    with _in_wire_codes():
        return identities.create_enrolled_device(
            identity_id=identity_id,
            name=name or identity_id,
            role_attributes=ca.identity_roles,
            certificate=certificate,
            ca=ca,
        )


def _renewable_authenticator(
    session_token: str | None, certificate: x509.Certificate | None, authenticator_id: str
) -> Authenticator:
    """The caller's own authenticator, if it may be renewed over this request.

    The API session must be live, and the TLS client certificate must be that
    authenticator's current one, not revoked and still valid: a stolen session token
    alone renews nothing.
    """
    session = sessions.current_api_session(session_token)
    if certificate is None:
        raise errors.InvalidAuth("renewal needs mutual TLS with the authenticator's current certificate")
    authenticator = (
        Authenticator.objects.filter(pk=authenticator_id, identity_id=session.identity_id).first()
        if authenticator_id.isdigit()
        else None
    )
    if authenticator is None:
        raise errors.NotFound("this identity has no authenticator with that id")
    if not authenticator.is_internal:
        raise errors.AuthenticatorCannotBeUpdated(
            "only certificates issued by this controller's PKI can be extended; this one comes from "
            "a third-party CA, which renews its own"
        )
    if sha1_fingerprint(certificate) != authenticator.fingerprint:
        raise errors.InvalidAuth("present this authenticator's current certificate in the TLS handshake")
    if RevokedCertificate.objects.is_revoked(authenticator.serial):
        raise errors.InvalidAuth("the certificate has been revoked")
    pki = load_pki()
    try:
        verify_client_certificate(certificate, [pki.root_cert], [pki.signing_cert])
    except CertificateRejected as exc:
        raise errors.InvalidAuth(str(exc)) from exc
    return authenticator


def extend_certificate(
    session_token: str | None,
    certificate: x509.Certificate | None,
    authenticator_id: str,
    csr_pem: str | bytes | None,
) -> IssuedCertificate:
    """Renew a certificate of our PKI (OpenZiti's
    `POST /current-identity/authenticators/{id}/extend`): sign the CSR's key for the same
    identity and hold the new certificate until extend-verify; the current one stays
    valid. A CSR with a new key is a key roll, recorded as such when verified.

    Nothing is held unless every check passes. Raises UNAUTHORIZED without a live
    session, INVALID_AUTH for the wrong, revoked or expired certificate, NOT_FOUND for
    someone else's authenticator, AUTHENTICATOR_CAN_NOT_BE_UPDATED for a third-party
    one, COULD_NOT_PROCESS_CSR for a bad CSR and CERT_IN_USE for another identity's key.
    """
    authenticator = _renewable_authenticator(session_token, certificate, authenticator_id)
    if not csr_pem:
        raise errors.CouldNotProcessCsr("the request carries no clientCertCsr")
    csr = load_csr(csr_pem)
    if (
        Authenticator.objects.filter(public_key_sha256=public_key_sha256(csr.public_key()))
        .exclude(identity_id=authenticator.identity_id)
        .exists()
    ):
        raise errors.CertInUse("the CSR's key belongs to another identity")
    renewed = issue_identity_certificate(csr.public_key(), authenticator.identity_id)
    try:
        identities.hold_extension(authenticator, renewed)
    except KeyInUse as exc:
        raise errors.CertInUse(exc.message) from exc
    except ExtensionRefused as exc:
        raise errors.AuthenticatorCannotBeUpdated(exc.message) from exc
    return IssuedCertificate.of(authenticator.identity, renewed)


def verify_extended_certificate(
    session_token: str | None,
    certificate: x509.Certificate | None,
    authenticator_id: str,
    client_cert_pem: str | bytes | None,
) -> Authenticator:
    """Take up the renewed certificate (OpenZiti's `.../extend-verify`): from now on it
    authenticates and the old one, revoked, does not.

    Same checks on the caller as extend_certificate (it still presents the old
    certificate). Raises CERT_FAILED_VALIDATION when `client_cert_pem` is not exactly
    the certificate the last extend issued, or nothing is pending; nothing changes then.
    """
    authenticator = _renewable_authenticator(session_token, certificate, authenticator_id)
    if not client_cert_pem:
        raise errors.CertFailedValidation("the request carries no clientCert")
    raw = client_cert_pem.encode() if isinstance(client_cert_pem, str) else client_cert_pem
    try:
        # The leaf; a client may send back the whole chain extend answered with.
        presented = x509.load_pem_x509_certificates(raw)[0]
    except (ValueError, IndexError) as exc:
        raise errors.CertFailedValidation("clientCert is not a PEM certificate") from exc
    try:
        with as_device_of(authenticator.identity):
            return identities.complete_extension(authenticator, presented)
    except ExtensionRefused as exc:
        raise errors.CertFailedValidation(exc.message) from exc
    except CertificateTaken as exc:
        raise errors.CertInUse() from exc
