"""What relying parties learn about the signing CA's certificates: its CRL (RFC 5280 §5)
and OCSP answers (RFC 6960), both signed by the signing CA itself.

Reads only; RevokedCertificate rows are written by authorities.services.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import keys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from django.conf import settings
from django.db.models import Count, Max

from authorities.models import RevocationReason, RevokedCertificate
from authorities.pki import load_pki

# How long an OCSP answer may be cached by whoever asked (its nextUpdate).
OCSP_VALIDITY = dt.timedelta(hours=1)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class _PublishedCrl:
    state: tuple[int, dt.datetime | None]  # how many revocations, and the latest
    der: bytes
    rebuild_after: dt.datetime


_crl_lock = threading.Lock()
_published: _PublishedCrl | None = None


def _revocation_state() -> tuple[int, dt.datetime | None]:
    row = RevokedCertificate.objects.aggregate(count=Count("pk"), latest=Max("revoked_at"))
    return row["count"], row["latest"]


def build_crl(now: dt.datetime | None = None) -> x509.CertificateRevocationList:
    """A fresh CRL of every revoked signing-CA certificate, signed by the signing CA.

    thisUpdate is now, nextUpdate ZITI_CRL_VALIDITY_HOURS later; the CRL number is the
    thisUpdate in unix seconds, so it grows across rebuilds and replicas (§5.2.3).
    """
    pki = load_pki()
    now = now or _now()
    validity = dt.timedelta(hours=settings.ZITI_CRL_VALIDITY_HOURS)
    ski = pki.signing_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.signing_cert.subject)
        .last_update(now)
        .next_update(now + validity)
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    for serial, revoked_at, reason in RevokedCertificate.objects.order_by("pk").values_list(
        "serial", "revoked_at", "reason"
    ):
        entry = x509.RevokedCertificateBuilder().serial_number(int(serial, 16)).revocation_date(revoked_at)
        if reason != RevocationReason.UNSPECIFIED:
            # §5.3.1: the unspecified code SHOULD be left out.
            entry = entry.add_extension(x509.CRLReason(RevocationReason(reason).flag), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(pki.signing_key, hashes.SHA256())


def current_crl_der() -> bytes:
    """The CRL as served: DER, rebuilt when a revocation was added since the last build
    (one aggregate query per call tells) and at half its validity, so a relying party
    never holds one past nextUpdate."""
    global _published
    state = _revocation_state()
    now = _now()
    published = _published
    if published is not None and published.state == state and now < published.rebuild_after:
        return published.der
    with _crl_lock:
        crl = build_crl(now)
        validity = dt.timedelta(hours=settings.ZITI_CRL_VALIDITY_HOURS)
        _published = _PublishedCrl(
            state=state, der=crl.public_bytes(serialization.Encoding.DER), rebuild_after=now + validity / 2
        )
        return _published.der


def ocsp_response(request_der: bytes, is_issued: Callable[[str], bool]) -> bytes:
    """Answer one DER OCSP request (RFC 6960 §2.2) with a DER OCSP response.

    `is_issued(hex_serial)` tells whether the signing CA issued a live certificate with
    that serial (the identities layer knows). Revoked serials are answered revoked with
    time and reason, issued ones good, others unknown. A request about another issuer
    is "unauthorized" (§2.3), one that does not parse "malformedRequest". A nonce in the
    request is echoed (§4.4.1).
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except ValueError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST
        ).public_bytes(serialization.Encoding.DER)
    pki = load_pki()
    issuer = pki.signing_cert
    algorithm = request.hash_algorithm
    name_hash = _hash(algorithm, issuer.subject.public_bytes())
    key_hash = _hash(algorithm, _public_key_bits(issuer))
    if request.issuer_name_hash != name_hash or request.issuer_key_hash != key_hash:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
            serialization.Encoding.DER
        )
    serial = format(request.serial_number, "x")
    now = _now()
    revoked = RevokedCertificate.objects.filter(serial=serial).values_list("revoked_at", "reason").first()
    revocation_time: dt.datetime | None = None
    revocation_reason: x509.ReasonFlags | None = None
    if revoked is not None:
        status = ocsp.OCSPCertStatus.REVOKED
        revocation_time, reason = revoked
        revocation_reason = RevocationReason(reason).flag
    elif is_issued(serial):
        status = ocsp.OCSPCertStatus.GOOD
    else:
        status = ocsp.OCSPCertStatus.UNKNOWN
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + OCSP_VALIDITY,
            revocation_time=revocation_time,
            revocation_reason=revocation_reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer)
    )
    try:
        nonce = request.extensions.get_extension_for_class(x509.OCSPNonce).value
    except x509.ExtensionNotFound:
        pass
    else:
        builder = builder.add_extension(nonce, critical=False)
    return builder.sign(pki.signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _public_key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING contents, which §4.1.1 hashes for issuerKeyHash."""
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bytes(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])
