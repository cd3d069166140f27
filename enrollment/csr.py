"""Reading certificate signing requests as devices really send them."""

from __future__ import annotations

from asn1crypto import algos, pem
from asn1crypto import csr as asn1_csr
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from enrollment.errors import CouldNotProcessCsr

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192  # beyond this, verifying is a cheap way to burn our CPU
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
MAX_CSR_BYTES = 64 * 1024
_PEM_TYPES = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}


def _without_null_signature_parameters(der: bytes) -> bytes:
    """Drop the NULL parameter mbedTLS puts after ecdsa-with-SHA256 (RFC 5758 §3.2 forbids it).

    Only the outer AlgorithmIdentifier is rewritten; the signed CertificationRequestInfo
    keeps its original bytes, so the signature still checks, or fails, on what the
    device signed.
    """
    request = asn1_csr.CertificationRequest.load(der)
    algorithm = request["signature_algorithm"]["algorithm"].native
    if not algorithm.endswith("_ecdsa"):
        raise ValueError(f"unexpected signature algorithm {algorithm}")
    # Replacing one field re-encodes the outer SEQUENCE only; asn1crypto keeps the
    # original bytes of the untouched fields.
    request["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": algorithm})
    return request.dump()


def load_csr(data: str | bytes) -> x509.CertificateSigningRequest:
    """Parse exactly one PEM CSR, check its self-signature and its key.

    Raises CouldNotProcessCsr with a sentence saying what is wrong.
    """
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_CSR_BYTES:
        raise CouldNotProcessCsr("the CSR is too large")
    try:
        blocks = list(pem.unarmor(raw.strip(), multiple=True))
    except (ValueError, TypeError) as exc:
        raise CouldNotProcessCsr("the request body is not a PEM-encoded CSR") from exc
    if len(blocks) != 1:
        raise CouldNotProcessCsr(f"expected exactly one PEM CSR, found {len(blocks)} PEM blocks")
    kind, _headers, der = blocks[0]
    if kind not in _PEM_TYPES:
        raise CouldNotProcessCsr(f"expected a CERTIFICATE REQUEST, found {kind}")
    try:
        csr = x509.load_der_x509_csr(der)
    except ValueError:
        try:
            csr = x509.load_der_x509_csr(_without_null_signature_parameters(der))
        except ValueError as exc:
            raise CouldNotProcessCsr("the CSR is not valid DER") from exc
    _check_signature_hash(csr)
    try:
        valid = csr.is_signature_valid
        public_key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise CouldNotProcessCsr(f"the CSR could not be verified: {exc}") from exc
    if not valid:
        raise CouldNotProcessCsr("the CSR signature does not match its public key")
    check_public_key(public_key)
    return csr


# RFC 9155 and NIST SP 800-131A retire MD5 and SHA-1 for signatures.
STRONG_HASHES = (
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
    hashes.SHA3_256,
    hashes.SHA3_384,
    hashes.SHA3_512,
)


def _check_signature_hash(csr: x509.CertificateSigningRequest) -> None:
    """Name a weak signature hash, rather than let it fail as a bad signature would."""
    try:
        algorithm = csr.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise CouldNotProcessCsr(f"the CSR is signed with an unsupported algorithm: {exc}") from exc
    if algorithm is not None and not isinstance(algorithm, STRONG_HASHES):
        raise CouldNotProcessCsr(
            f"the CSR is signed with {algorithm.name.upper()}, which is too weak; "
            "sign it with SHA-256 or stronger"
        )


def check_public_key(public_key: CertificatePublicKeyTypes) -> None:
    """Accept RSA keys of 2048 bits or more and EC keys on the NIST P curves."""
    if isinstance(public_key, rsa.RSAPublicKey):
        if public_key.key_size < MIN_RSA_BITS:
            raise CouldNotProcessCsr(
                f"RSA keys must have at least {MIN_RSA_BITS} bits, this one has {public_key.key_size}"
            )
        if public_key.key_size > MAX_RSA_BITS:
            raise CouldNotProcessCsr(f"RSA keys may have at most {MAX_RSA_BITS} bits")
        return
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        if not isinstance(public_key.curve, ACCEPTED_CURVES):
            raise CouldNotProcessCsr(
                f"the EC curve {public_key.curve.name} is not supported; use P-256, P-384 or P-521"
            )
        return
    raise CouldNotProcessCsr(f"{type(public_key).__name__.removesuffix('PublicKey')} keys are not supported")
