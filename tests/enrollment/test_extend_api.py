"""Certificate renewal over mutual TLS: extend, extend-verify and the admin's request,
against the real HTTPS server."""

from __future__ import annotations

import json

import pytest
from cryptography import x509

from authorities.models import RevokedCertificate
from authorities.pki import load_pki
from identities.models import Authenticator
from identities.services import request_certificate_extension, revoke_identity_certificate
from tests.helpers import csr_pem, ec_key, https_request, make_ca, write_cert_and_key
from tests.lifecycle import EnrolledDevice, enroll_device

PREFIXES = ["", "/edge/client/v1"]


def call(controller, device: EnrolledDevice, method: str, path: str, *, session: str | None, body=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if session is not None:
        headers["zt-session"] = session
    return https_request(
        controller.url,
        method,
        path,
        context=controller.ssl_context(device.cert_path, device.key_path),
        body=json.dumps(body) if body is not None else None,
        headers=headers,
    )


def login(controller, device: EnrolledDevice):
    reply = call(controller, device, "POST", "/authenticate?method=cert", session=None)
    assert reply.status == 200, reply.body
    return reply


def extend(controller, device, session, csr, prefix=""):
    path = f"{prefix}/current-identity/authenticators/{device.authenticator.pk}/extend"
    return call(controller, device, "POST", path, session=session, body={"clientCertCsr": csr})


def verify(controller, device, session, cert_pem, prefix=""):
    path = f"{prefix}/current-identity/authenticators/{device.authenticator.pk}/extend-verify"
    return call(controller, device, "POST", path, session=session, body={"clientCert": cert_pem})


def nothing_held(device: EnrolledDevice) -> bool:
    authenticator = Authenticator.objects.get(pk=device.authenticator.pk)
    return (
        authenticator.pending_certificate_pem == ""
        and authenticator.fingerprint == device.authenticator.fingerprint
    )


@pytest.mark.parametrize("prefix", PREFIXES)
def test_extend_then_verify_swaps_the_certificates(controller, tmp_path, prefix):
    device = enroll_device("laptop", tmp_path)
    session = login(controller, device).headers["zt-session"]
    new_key = ec_key()

    extended = extend(controller, device, session, csr_pem(new_key), prefix)

    assert extended.status == 200, extended.body
    data = extended.json()["data"]
    assert extended.json()["meta"] == {}
    chain = x509.load_pem_x509_certificates(data["clientCert"].encode())
    new_cert = chain[0]
    assert chain[1] == load_pki().signing_cert
    assert data["ca"] == load_pki().ca_bundle_pem
    assert new_cert.public_key() == new_key.public_key()
    new_cert.verify_directly_issued_by(load_pki().signing_cert)
    # Held, not yet in use: the old certificate still authenticates.
    assert login(controller, device).status == 200
    new_cert_path, new_key_path = write_cert_and_key(tmp_path, "renewed", new_cert, new_key)
    renewed = EnrolledDevice(device.identity, new_cert, new_key, new_cert_path, new_key_path)
    assert call(controller, renewed, "POST", "/authenticate?method=cert", session=None).status == 401

    verified = verify(controller, device, session, data["clientCert"], prefix)

    assert verified.status == 200, verified.body
    assert verified.json() == {"data": {}, "meta": {}}
    assert call(controller, renewed, "POST", "/authenticate?method=cert", session=None).status == 200
    refused = call(controller, device, "POST", "/authenticate?method=cert", session=None)
    assert refused.status == 401
    revoked = RevokedCertificate.objects.get()
    assert (revoked.serial, revoked.reason) == (format(device.certificate.serial_number, "x"), "superseded")
    authenticator = Authenticator.objects.get()
    assert authenticator.key_rolled_at is not None  # a new key: a key roll, on record
    assert authenticator.extended_at is not None


def test_extending_with_the_same_key_is_not_a_key_roll(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    session = login(controller, device).headers["zt-session"]

    extended = extend(controller, device, session, csr_pem(device.key))
    assert verify(controller, device, session, extended.json()["data"]["clientCert"]).status == 200

    authenticator = Authenticator.objects.get()
    assert authenticator.key_rolled_at is None
    assert authenticator.extended_at is not None


def test_the_admins_request_reaches_the_device_and_clears_on_verify(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    request_certificate_extension(device.authenticator, roll_keys=True)

    opened = login(controller, device)
    session = opened.headers["zt-session"]

    assert opened.headers["ziti-authenticator-extend-requested"] == "true"
    assert opened.headers["ziti-authenticator-roll-key-requested"] == "true"
    current = call(controller, device, "GET", "/current-api-session", session=session).json()["data"]
    assert current["isCertExtendRequested"] is True
    assert current["isCertKeyRollRequested"] is True
    assert current["authenticatorId"] == str(device.authenticator.pk)
    listed = call(controller, device, "GET", "/current-identity/authenticators", session=session).json()
    assert [a["id"] for a in listed["data"]] == [str(device.authenticator.pk)]
    assert listed["data"][0]["isExtendRequested"] is True

    extended = extend(controller, device, session, csr_pem())
    assert verify(controller, device, session, extended.json()["data"]["clientCert"]).status == 200

    authenticator = Authenticator.objects.get()
    assert not authenticator.is_extend_requested
    assert not authenticator.is_key_roll_requested


# Refusals: each a clear error, and nothing held or swapped.


def test_extend_with_a_garbage_csr_is_refused(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    session = login(controller, device).headers["zt-session"]

    reply = extend(controller, device, session, "-----BEGIN CERTIFICATE REQUEST-----\nnope\n")

    assert reply.status == 400
    assert reply.error_code == "COULD_NOT_PROCESS_CSR"
    assert nothing_held(device)


def test_extend_with_a_csr_for_another_identitys_key_is_refused(controller, tmp_path):
    device, other = enroll_device("laptop", tmp_path), enroll_device("phone", tmp_path)
    session = login(controller, device).headers["zt-session"]

    reply = extend(controller, device, session, csr_pem(other.key))

    assert reply.status == 409
    assert reply.error_code == "CERT_IN_USE"
    assert "another identity" in reply.json()["error"]["message"]
    assert nothing_held(device)


def test_extend_without_a_session_is_refused(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)

    reply = extend(controller, device, None, csr_pem())

    assert reply.status == 401
    assert reply.error_code == "UNAUTHORIZED"
    assert nothing_held(device)


def test_extend_with_a_revoked_certificate_is_refused(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    session = login(controller, device).headers["zt-session"]
    revoke_identity_certificate(device.authenticator, "keyCompromise")

    reply = extend(controller, device, session, csr_pem())

    assert reply.status == 401
    assert nothing_held(device)


def test_extend_of_someone_elses_authenticator_is_not_found(controller, tmp_path):
    device, other = enroll_device("laptop", tmp_path), enroll_device("phone", tmp_path)
    session = login(controller, device).headers["zt-session"]
    path = f"/current-identity/authenticators/{other.authenticator.pk}/extend"

    reply = call(controller, device, "POST", path, session=session, body={"clientCertCsr": csr_pem()})

    assert reply.status == 404
    assert reply.error_code == "NOT_FOUND"
    assert nothing_held(other)


def test_extend_of_a_third_party_certificate_is_refused(controller, tmp_path):
    from authorities.services import create_certificate_authority, verify_certificate_authority
    from identities.services import create_identity
    from kernel.certificates import to_pem

    test_ca = make_ca()
    ca = create_certificate_authority(
        name="Fleet", certificate_pem=test_ca.pem, ott_ca_enrollment=True, auth_enabled=True
    )
    proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
    verify_certificate_authority(ca, to_pem(proof))
    identity, enrollment = create_identity(name="sensor", identity_type="device", ca=ca)
    cert, key = test_ca.issue("sensor")
    cert_path, key_path = write_cert_and_key(tmp_path, "sensor", cert, key)
    device = EnrolledDevice(identity, cert, key, cert_path, key_path)
    assert (
        call(
            controller, device, "POST", f"/enroll?method=ottca&token={enrollment.token}", session=None
        ).status
        == 200
    )
    session = login(controller, device).headers["zt-session"]

    reply = extend(controller, device, session, csr_pem())

    assert reply.status == 400
    assert reply.error_code == "AUTHENTICATOR_CAN_NOT_BE_UPDATED"
    assert "third-party" in reply.json()["error"]["message"]


def test_extend_verify_with_a_foreign_certificate_is_refused_and_keeps_the_pending_one(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    session = login(controller, device).headers["zt-session"]
    assert extend(controller, device, session, csr_pem()).status == 200
    foreign, _ = make_ca().issue("laptop")
    from kernel.certificates import to_pem

    reply = verify(controller, device, session, to_pem(foreign))

    assert reply.status == 400
    assert reply.error_code == "CERT_FAILED_VALIDATION"
    authenticator = Authenticator.objects.get()
    assert authenticator.pending_certificate_pem  # still waiting for the right one
    assert authenticator.fingerprint == device.authenticator.fingerprint
    assert not RevokedCertificate.objects.exists()
    assert login(controller, device).status == 200


def test_extend_verify_with_nothing_pending_is_refused(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    session = login(controller, device).headers["zt-session"]
    from kernel.certificates import to_pem

    reply = verify(controller, device, session, to_pem(device.certificate))

    assert reply.status == 400
    assert reply.error_code == "CERT_FAILED_VALIDATION"
    assert nothing_held(device)
