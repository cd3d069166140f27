"""The device's key material: a fresh key and CSR (ott), or a given cert and key (ottca, ca)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import (
    CertificateIssuerPrivateKeyTypes,
    CertificatePublicKeyTypes,
    PrivateKeyTypes,
)
from cryptography.x509.oid import NameOID

from .errors import InputUnreadable, UsageError

KEY_TYPES = ("ec", "rsa")
RSA_BITS = (2048, 3072, 4096)
# X.520 caps a common name at 64 characters; the controller ignores the CSR subject anyway.
MAX_COMMON_NAME = 64


def generate_key(key_type: str, rsa_bits: int = 2048) -> CertificateIssuerPrivateKeyTypes:
    """EC P-256 by default: small, fast and accepted by every Ziti SDK."""
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
    raise UsageError(f'unknown key type "{key_type}" (expected one of {", ".join(KEY_TYPES)})')


def build_csr(key: CertificateIssuerPrivateKeyTypes, common_name: str) -> str:
    """A PEM CSR with CN = the JWT sub; the controller decides the real subject."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:MAX_COMMON_NAME])])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def private_key_pem(key: PrivateKeyTypes) -> str:
    # Unencrypted PKCS#8, as Ziti SDKs read it; the identity file itself is mode 0600.
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def same_public_key(a: CertificatePublicKeyTypes, b: CertificatePublicKeyTypes) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return a.public_bytes(*spki) == b.public_bytes(*spki)


@dataclass(frozen=True)
class ClientCredentials:
    """A certificate and key the device already has (ottca, ca): presented in TLS, kept as is."""

    cert_path: Path
    key_path: Path
    cert_pem: str  # as read, chain included
    key_pem: str
    leaf: x509.Certificate


def load_credentials(cert_path: Path, key_path: Path) -> ClientCredentials:
    """Read and cross-check --cert and --key before any network work."""
    cert_pem = _read_text(cert_path, "certificate")
    key_pem = _read_text(key_path, "key")
    try:
        chain = x509.load_pem_x509_certificates(cert_pem.encode())
    except ValueError as exc:
        raise InputUnreadable(f"the certificate file {cert_path} holds no PEM certificate") from exc
    try:
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        # TypeError: an encrypted key; we have no way to ask for its password.
        raise InputUnreadable(f"the key file {key_path} is not an unencrypted PEM private key") from exc
    if not same_public_key(chain[0].public_key(), key.public_key()):  # type: ignore[arg-type]
        raise UsageError(f"the key in {key_path} does not belong to the certificate in {cert_path}")
    return ClientCredentials(cert_path, key_path, cert_pem, key_pem, chain[0])


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not a text file"
        raise InputUnreadable(f"cannot read the {what} file {path}: {reason}") from exc
