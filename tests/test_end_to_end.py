"""The whole ott flow with the reference client: OpenZiti's C SDK enrolls against us."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from authorities.models import CertificateAuthority
from authorities.services import ca_enrollment_jwt, create_certificate_authority, verify_certificate_authority
from identities.models import Authenticator, Identity
from identities.services import create_identity, enrollment_jwt, set_identity_disabled
from tests.helpers import https_request, make_ca, mtls_version_request, write_cert_and_key

REFERENCE_ENROLL = """
import sys, openziti
paths = [p.encode() for p in sys.argv[1:]]
kwargs = {"key": paths[0], "cert": paths[1]} if paths else {}
print(openziti.enroll(sys.stdin.read(), **kwargs))
"""


def run_reference_enroll(
    jwt_text: str, key: Path | None = None, cert: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """openziti==0.6.0's enroll() (C SDK 0.29.3), in its own process: it logs to stderr.

    For ottca and ca it takes the key and certificate as file paths, as bytes.
    """
    paths = [str(key), str(cert)] if key and cert else []
    return subprocess.run(
        [sys.executable, "-c", REFERENCE_ENROLL, *paths],
        input=jwt_text,
        capture_output=True,
        text=True,
        timeout=120,
    )


def openziti_enroll(jwt_text: str, key: Path | None = None, cert: Path | None = None) -> dict:
    result = run_reference_enroll(jwt_text, key, cert)
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
    reply = https_request(controller.url, "POST", "/authenticate?method=cert", context=context)
    assert reply.status == 200, reply.body
    assert reply.json()["data"]["identity"]["id"] == identity.id
    assert reply.json()["data"]["identity"]["name"] == identity.name

    set_identity_disabled(identity, True)
    refused = https_request(controller.url, "POST", "/authenticate?method=cert", context=context)
    assert (refused.status, refused.error_code) == (401, "INVALID_AUTH")


def test_reference_client_cannot_replay_a_token(controller):
    _identity, enrollment = create_identity(name="once", identity_type="device")
    jwt_text = enrollment_jwt(enrollment)
    openziti_enroll(jwt_text)

    assert run_reference_enroll(jwt_text).returncode != 0
    assert Authenticator.objects.count() == 1


def test_a_certificate_of_an_unknown_ca_is_refused_in_words_not_by_a_tls_alert(controller, tmp_path: Path):
    stranger = make_ca("Unknown CA")
    cert, key = stranger.issue("intruder")
    context = controller.ssl_context(*write_cert_and_key(tmp_path, "intruder", cert, key))
    json_body = {"body": "{}", "headers": {"Content-Type": "application/json"}}

    authenticated = https_request(
        controller.url, "POST", "/authenticate?method=cert", context=context, **json_body
    )
    enrolled = https_request(controller.url, "POST", "/enroll?method=ca", context=context, **json_body)

    assert (authenticated.status, authenticated.error_code) == (401, "INVALID_AUTH")
    assert (enrolled.status, enrolled.error_code) == (400, "ENROLLMENT_NO_VALID_CAS")
    assert not Identity.objects.exists()


def _register_verified(test_ca, name: str, **flags) -> CertificateAuthority:
    ca = create_certificate_authority(name=name, certificate_pem=test_ca.pem, auth_enabled=True, **flags)
    proof, _key = test_ca.issue(ca.verification_token, client_auth=False)
    return verify_certificate_authority(ca, proof.public_bytes(serialization.Encoding.PEM))


def test_reference_client_enrolls_with_ottca_and_authenticates(controller, tmp_path: Path):
    fleet = make_ca("Fleet Issuing CA")
    ca = _register_verified(fleet, "Fleet", ott_ca_enrollment=True)  # after the server started
    identity, enrollment = create_identity(name="ottca-device", identity_type="device", ca=ca)
    cert, key = fleet.issue("ottca-device")
    cert_path, key_path = write_cert_and_key(tmp_path, "device", cert, key)

    identity_file = openziti_enroll(enrollment_jwt(enrollment), key_path, cert_path)

    assert identity_file["ztAPI"] == controller.url
    authenticator = Authenticator.objects.get()
    assert (authenticator.identity, authenticator.ca) == (identity, ca)
    reply = https_request(
        controller.url,
        "POST",
        "/authenticate?method=cert",
        context=controller.ssl_context(cert_path, key_path),
    )
    assert reply.status == 200, reply.body
    assert reply.json()["data"]["identityId"] == identity.id


def test_reference_client_auto_enrolls_with_ca_and_authenticates(controller, tmp_path: Path):
    fleet = make_ca("Fleet Issuing CA")
    ca = _register_verified(fleet, "Fleet", auto_ca_enrollment=True, identity_roles=["sensors"])
    cert, key = fleet.issue("thermostat-9")
    cert_path, key_path = write_cert_and_key(tmp_path, "device", cert, key)

    identity_file = openziti_enroll(ca_enrollment_jwt(ca), key_path, cert_path)

    assert identity_file["ztAPI"] == controller.url
    identity = Identity.objects.get()
    assert (identity.name, identity.identity_type, identity.role_attributes) == (
        "Fleet-thermostat-9",
        "Device",
        ["sensors"],
    )
    reply = https_request(
        controller.url,
        "POST",
        "/authenticate?method=cert",
        context=controller.ssl_context(cert_path, key_path),
    )
    assert reply.status == 200, reply.body
