"""Keys, CSRs and certificates the benchmark needs, made before any timing starts."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authorities.pki import ca_key_usage


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def csr_pems(count: int) -> list[str]:
    """`count` CSRs for fresh EC P-256 keys, as a device makes them before enrolling."""
    csrs = []
    for k in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(_name(f"bench-{k}"))
            .sign(key, hashes.SHA256())
        )
        csrs.append(csr.public_bytes(serialization.Encoding.PEM).decode())
    return csrs


@dataclass(frozen=True)
class ThirdPartyCA:
    """A CA of the admin's own, whose devices enroll with method ca."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str) -> ThirdPartyCA:
        key = ec.generate_private_key(ec.SECP256R1())
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        usage = ca_key_usage()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert=cert, key=key)

    @property
    def pem(self) -> bytes:
        return _pem(self.cert)

    def issue(
        self, common_name: str, *, client_auth: bool = True
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if client_auth:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return builder.sign(self.key, hashes.SHA256()), key

    def verification_pem(self, token: str) -> bytes:
        """Proof of possession: a certificate with CN = the verification token."""
        cert, _key = self.issue(token, client_auth=False)
        return _pem(cert)


def device_contexts(ca: ThirdPartyCA, count: int, directory: Path, server_ca: Path) -> list[ssl.SSLContext]:
    """One client TLS context per device certificate, built up front so that the timed
    part does not include key generation or file reads.

    ssl only loads a client certificate from files, so each pair is written (key 0600).
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    contexts = []
    for k in range(count):
        cert, key = ca.issue(f"device-{k + 1}")
        cert_path, key_path = directory / f"device-{k + 1}.crt", directory / f"device-{k + 1}.key"
        cert_path.write_bytes(_pem(cert))
        key_path.touch(mode=0o600)
        key_path.write_bytes(_key_pem(key))
        context = ssl.create_default_context(cafile=str(server_ca))
        context.load_cert_chain(cert_path, key_path)
        contexts.append(context)
    return contexts
