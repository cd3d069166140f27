"""The whole ott flow with the reference client: OpenZiti's C SDK enrolls against us."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enrollment.services import enrollment_jwt
from identities.models import Authenticator
from identities.services import create_identity
from tests.helpers import make_ca, mtls_version_request, write_cert_and_key

REFERENCE_ENROLL = """
import sys, openziti
print(openziti.enroll(sys.stdin.read()))
"""


def run_reference_enroll(jwt_text: str) -> subprocess.CompletedProcess[str]:
    """openziti==0.6.0's enroll() (C SDK 0.29.3), in its own process: it logs to stderr."""
    return subprocess.run(
        [sys.executable, "-c", REFERENCE_ENROLL], input=jwt_text, capture_output=True, text=True, timeout=120
    )


def openziti_enroll(jwt_text: str) -> dict:
    result = run_reference_enroll(jwt_text)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def pem_value(value: str) -> str:
    # The C SDK writes raw PEM, the Go tooling prefixes "pem:"; accept both.
    return value.removeprefix("pem:")


def test_reference_client_enrolls_and_then_completes_mutual_tls(controller, pki, tmp_path: Path):
    identity, enrollment = create_identity(name="ziti-sdk-device", identity_type="device")

    identity_file = openziti_enroll(enrollment_jwt(enrollment))

    assert identity_file["ztAPI"] == controller.url
    leaf = x509.load_pem_x509_certificates(pem_value(identity_file["id"]["cert"]).encode())[0]
    assert leaf.subject.rfc4514_string() == f"CN={identity.id}"
    bundle = x509.load_pem_x509_certificates(pem_value(identity_file["id"]["ca"]).encode())
    assert set(bundle) == set(pki.ca_bundle)
    key = serialization.load_pem_private_key(pem_value(identity_file["id"]["key"]).encode(), None)
    assert key.public_key() == leaf.public_key()
    assert Authenticator.objects.get().identity == identity

    cert_path, key_path = tmp_path / "client.crt", tmp_path / "client.key"
    cert_path.write_text(pem_value(identity_file["id"]["cert"]))
    key_path.write_text(pem_value(identity_file["id"]["key"]))
    context = controller.ssl_context(cert_path, key_path)
    assert mtls_version_request(controller.host, controller.port, context) == b"HTTP/1.1 200 OK"


def test_reference_client_cannot_replay_a_token(controller):
    _identity, enrollment = create_identity(name="once", identity_type="device")
    jwt_text = enrollment_jwt(enrollment)
    openziti_enroll(jwt_text)

    assert run_reference_enroll(jwt_text).returncode != 0
    assert Authenticator.objects.count() == 1


def test_the_server_verifies_client_certificates(controller, tmp_path: Path):
    stranger = make_ca("Unknown CA")
    cert, key = stranger.issue("intruder")
    context = controller.ssl_context(*write_cert_and_key(tmp_path, "intruder", cert, key))

    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        mtls_version_request(controller.host, controller.port, context)
