"""Building blocks for tests: keys, CSRs and certificates made for real."""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import re
import socket
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import algos, core, keys
from asn1crypto import csr as asn1_csr
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authorities.pki import ca_key_usage


def ec_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def csr_pem(key: CertificateIssuerPrivateKeyTypes | None = None, common_name: str = "device") -> str:
    key = key or ec_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def _pem(kind: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN {kind}-----\n{body}-----END {kind}-----\n"


def mbedtls_csr_pem(key: ec.EllipticCurvePrivateKey | None = None) -> str:
    """A CSR shaped like the OpenZiti C SDK's (mbedTLS) ones.

    Its outer signature AlgorithmIdentifier is ecdsa-with-SHA256 with an explicit NULL
    parameter, and it requests a KeyUsage extension with no bits set; `cryptography`
    refuses to parse it as is.
    """
    key = key or ec_key()
    spki_der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    subject = asn1_csr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": asn1_x509.Name.build(
                {"common_name": "mbedtls-device", "organization_name": "OpenZiti"}
            ),
            "subject_pk_info": keys.PublicKeyInfo.load(spki_der),
            "attributes": [
                {
                    "type": "extension_request",
                    "values": [[{"extn_id": "key_usage", "critical": False, "extn_value": set()}]],
                }
            ],
        }
    )
    info_der = subject.dump()
    signature = key.sign(info_der, ec.ECDSA(hashes.SHA256()))
    algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa", "parameters": core.Null()})
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": subject,
            "signature_algorithm": algorithm,
            "signature": signature,
        }
    )
    return _pem("CERTIFICATE REQUEST", request.dump())


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return self.json()["error"]["code"]


def https_request(
    url: str,
    method: str,
    path: str,
    *,
    context: ssl.SSLContext,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a new TLS connection, as the C SDK makes them."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=30)
    try:
        data = body.encode() if isinstance(body, str) else body
        connection.request(method, path, body=data, headers=headers or {})
        response = connection.getresponse()
        return Reply(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=response.read(),
        )
    finally:
        connection.close()


@dataclass
class TestCA:
    """A third-party CA made for a test: its certificate and key, able to issue."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    __test__ = False  # not a pytest class

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(
        self,
        common_name: str,
        *,
        key: ec.EllipticCurvePrivateKey | None = None,
        client_auth: bool = True,
        days: int = 30,
        not_before: dt.datetime | None = None,
        with_san: bool = False,
        is_ca: bool = False,
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = key or ec_key()
        start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if client_auth:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        if with_san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(f"{common_name}.example")]), critical=False
            )
        return builder.sign(self.key, hashes.SHA256()), key


# make_ca's defaults; a test passes None (or another value) to leave one out or spoil it.
CA_TRUE = x509.BasicConstraints(ca=True, path_length=None)
CA_KEY_USAGE = ca_key_usage()


def make_ca(
    common_name: str = "Fleet CA",
    *,
    days: int = 365,
    not_before: dt.datetime | None = None,
    key: Any = None,
    constraints: x509.BasicConstraints | None = CA_TRUE,
    key_usage: x509.KeyUsage | None = CA_KEY_USAGE,
) -> TestCA:
    """A self-signed CA certificate with the extensions RFC 5280 asks of one, unless the
    test asks for another key, other constraints or key usage, or none."""
    key = key or ec_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if constraints is not None:
        builder = builder.add_extension(constraints, critical=True)
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    # Ed25519 signs without a separate hash.
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return TestCA(cert=builder.sign(key, algorithm), key=key)


def write_cert_and_key(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def mtls_version_request(host: str, port: int, context: ssl.SSLContext) -> bytes:
    """GET /version over a raw TLS socket; returns the status line.

    With TLS 1.3 the client sends its certificate after the handshake appears done on
    its side, so only a full round trip proves the server accepted the certificate.
    """
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return tls.recv(4096).split(b"\r\n", 1)[0]


def form_csrf_token(html: str) -> str:
    """The CSRF token a rendered form carries."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert match is not None, "the page has no form with a CSRF token"
    return match[1]
