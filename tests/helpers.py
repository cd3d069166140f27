"""Building blocks for tests: keys, CSRs and certificates made for real."""

from __future__ import annotations

import base64

from asn1crypto import algos, core, keys
from asn1crypto import csr as asn1_csr
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID


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
