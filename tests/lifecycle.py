"""Building blocks for the lifecycle suites: identities enrolled for real, their files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from enrollment.services import redeem_ott
from identities.models import Authenticator, Identity
from identities.services import create_identity
from tests.helpers import csr_pem, ec_key, write_cert_and_key


@dataclass
class EnrolledDevice:
    identity: Identity
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path

    @property
    def authenticator(self) -> Authenticator:
        return self.identity.authenticators.get()


def enroll_device(name: str, directory: Path, **create: object) -> EnrolledDevice:
    """An identity enrolled by ott through the service the API uses; cert and key on disk."""
    identity, enrollment = create_identity(name=name, identity_type="device", **create)  # type: ignore[arg-type]
    key = ec_key()
    issued = redeem_ott(enrollment.token, csr_pem(key))
    cert_path, key_path = write_cert_and_key(directory, name, issued.certificate, key)
    return EnrolledDevice(identity, issued.certificate, key, cert_path, key_path)
