"""Facts about X.509 certificates, whoever issued them: PEM, fingerprints, names,
parsing, and whether a client certificate chains to a set of trust anchors."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache

from asn1crypto import pem
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

MAX_PEM_BYTES = 256 * 1024


class CertificateRejected(ValueError):
    """A certificate that cannot be used, with the reason in words."""


def to_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def sha1_fingerprint(cert: x509.Certificate) -> str:
    """The fingerprint OpenZiti uses to identify a certificate: hex SHA-1 of the DER."""
    return cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - an identifier, not a signature


def common_name(cert: x509.Certificate) -> str:
    """The first CN of the subject, or "" when it has none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


@lru_cache(maxsize=1024)
def certificate_from_pem(stored_pem: str) -> x509.Certificate:
    """A PEM certificate the controller stored itself, parsed once per process.

    Certificates are immutable, so one parsed object serves every request that reads
    the same PEM; input from outside goes through load_single_certificate instead.
    """
    return x509.load_pem_x509_certificate(stored_pem.encode())


def load_single_certificate(data: str | bytes, what: str = "certificate") -> x509.Certificate:
    """Exactly one PEM certificate, or CertificateRejected saying what is wrong instead."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_PEM_BYTES:
        raise CertificateRejected(f"the {what} is too large")
    try:
        blocks = list(pem.unarmor(raw.strip(), multiple=True)) if pem.detect(raw) else []
    except (ValueError, TypeError) as exc:
        raise CertificateRejected(f"the {what} is not valid PEM") from exc
    certificates = [der for kind, _headers, der in blocks if kind == "CERTIFICATE"]
    if not certificates:
        raise CertificateRejected(f"no PEM certificate found in the {what}")
    if len(certificates) != 1 or len(blocks) != 1:
        raise CertificateRejected(
            f"the {what} must hold exactly one PEM certificate, found {len(blocks)} PEM blocks"
        )
    try:
        return x509.load_der_x509_certificate(certificates[0])
    except ValueError as exc:
        raise CertificateRejected(f"the {what} could not be parsed: {exc}") from exc


END_ENTITY_ONLY = (
    "the certificate is a CA certificate (basicConstraints CA:TRUE); a device must present "
    "an end-entity certificate"
)


def is_ca_certificate(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _require_client_auth(_policy: object, _cert: x509.Certificate, eku: x509.ExtendedKeyUsage | None) -> None:
    if eku is None or ExtendedKeyUsageOID.CLIENT_AUTH not in eku:
        raise ValueError("the certificate is not for client authentication (EKU clientAuth)")


# Device certificates from real fleets often lack a SAN or an AKI, which the default
# client policy demands. A client certificate still must be for client authentication;
# everything else about the path (signatures, CA constraints, dates) stays RFC 5280.
_DEVICE_POLICY = ExtensionPolicy.permit_all().require_present(
    x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _require_client_auth
)


def verify_client_certificate(
    cert: x509.Certificate,
    anchors: list[x509.Certificate],
    intermediates: list[x509.Certificate] | None = None,
    now: dt.datetime | None = None,
) -> x509.Certificate:
    """Verify that `cert` chains to one of `anchors` and may authenticate a client.

    Returns the anchor it chains to; raises CertificateRejected with the reason.
    """
    if not anchors:
        raise CertificateRejected("no certificate authority to verify against")
    moment = now or dt.datetime.now(dt.UTC)
    if moment < cert.not_valid_before_utc:
        raise CertificateRejected("the certificate is not valid yet")
    if moment > cert.not_valid_after_utc:
        raise CertificateRejected("the certificate has expired")
    if is_ca_certificate(cert):
        # A device holding a CA certificate could mint identities of its own.
        raise CertificateRejected(END_ENTITY_ONLY)
    verifier = (
        PolicyBuilder()
        .store(Store(anchors))
        .time(moment)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_DEVICE_POLICY)
        .build_client_verifier()
    )
    try:
        verified = verifier.verify(cert, intermediates or [])
    except VerificationError as exc:
        raise CertificateRejected(f"the certificate does not chain to a trusted CA: {exc}") from exc
    return verified.chain[-1]


def public_key_sha256(key: object) -> str:
    """Hex SHA-256 of a public key's DER SubjectPublicKeyInfo: names a key, whatever
    certificate or CSR carries it."""
    spki = key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()
