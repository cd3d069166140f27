"""Facts about X.509 certificates, whoever issued them: PEM, fingerprints, names,
parsing, and whether a client certificate chains to a set of trust anchors."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
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


class PrivateKeySent(CertificateRejected):
    """A private key came with the certificate: refused, and never kept or echoed."""


# Any PEM private key: PKCS#8 (plain or encrypted), PKCS#1, SEC1, OpenSSH.
_PRIVATE_KEY_ARMOR = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_DER_HINT = "openssl x509 -inform DER -in ca.cer -out ca.pem"


def load_single_certificate(data: str | bytes, what: str = "certificate") -> x509.Certificate:
    """Exactly one certificate, PEM or DER, or CertificateRejected saying in words what
    is wrong and how to fix it. Parser internals never reach the message.

    A private key anywhere in the input is PrivateKeySent: the caller must neither keep
    nor show the input.
    """
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_PEM_BYTES:
        raise CertificateRejected(f"the {what} is too large: a certificate is a few kilobytes")
    if _PRIVATE_KEY_ARMOR.search(raw):
        raise PrivateKeySent(
            f"the {what} holds a private key, so it was refused and nothing was kept. Treat that "
            "key as exposed: it has left the machine it belongs on, so replace it (and what it "
            "signed). Upload the certificate alone, the -----BEGIN CERTIFICATE----- block."
        )
    if not pem.detect(raw):
        return _load_der(raw, what)
    try:
        blocks = list(pem.unarmor(raw.strip(), multiple=True))
    except (ValueError, TypeError) as exc:
        raise CertificateRejected(
            f"the {what} is not valid PEM: copy it again, whole, from -----BEGIN CERTIFICATE----- "
            "to -----END CERTIFICATE-----"
        ) from exc
    kinds = [kind for kind, _headers, _der in blocks]
    certificates = [der for kind, _headers, der in blocks if kind == "CERTIFICATE"]
    if not certificates:
        if "PKCS7" in kinds:
            raise CertificateRejected(
                f"the {what} is a PKCS#7 bundle; take the certificate out of it with "
                "openssl pkcs7 -print_certs -in bundle.p7b -out ca.pem"
            )
        raise CertificateRejected(
            f"no certificate found in the {what}: it holds {', '.join(kinds)}; upload the "
            "-----BEGIN CERTIFICATE----- block"
        )
    if len(blocks) != 1:
        raise CertificateRejected(
            f"the {what} must hold exactly one PEM certificate, found {len(blocks)} PEM blocks: "
            "upload only the one certificate, not a chain or bundle"
        )
    try:
        return x509.load_der_x509_certificate(certificates[0])
    except ValueError as exc:
        raise CertificateRejected(
            f"the {what} is damaged: its PEM block does not hold a readable certificate; copy it "
            "again, whole, or export it anew"
        ) from exc


def _load_der(raw: bytes, what: str) -> x509.Certificate:
    """A binary (DER, `.cer`) certificate, or words saying what to upload instead."""
    try:
        return x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        if raw[:1] == b"\x30":  # an ASN.1 SEQUENCE: binary, but not one certificate
            raise CertificateRejected(
                f"the {what} is binary (DER) but not a single certificate; if it is a bundle "
                "(.p7b), take the certificate out with openssl pkcs7 -inform DER -print_certs "
                f"-in bundle.p7b -out ca.pem; a DER certificate converts with {_DER_HINT}"
            ) from exc
        raise CertificateRejected(
            f"no certificate found in the {what}: give a PEM certificate (-----BEGIN CERTIFICATE-----) "
            "or a DER (.cer) file"
        ) from exc


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
