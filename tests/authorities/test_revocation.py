"""Revocation of the signing CA's certificates: the record, the CRL, the OCSP responder,
checked by openssl against the real HTTPS server."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from authorities.errors import CertificateAlreadyRevoked, RevocationRefused
from authorities.models import RevocationReason, RevokedCertificate
from authorities.pki import CRL_PATH, OCSP_PATH
from authorities.services import revoke_certificate
from tests.helpers import https_request, make_ca
from tests.lifecycle import enroll_device


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def fetch_crl(controller) -> bytes:
    reply = https_request(controller.url, "GET", CRL_PATH, context=controller.ssl_context())
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["content-type"] == "application/pkix-crl"
    return reply.body


def crl_check(controller, pki, tmp_path: Path, cert_path: Path) -> subprocess.CompletedProcess[str]:
    crl_pem = x509.load_der_x509_crl(fetch_crl(controller)).public_bytes(Encoding.PEM)
    (tmp_path / "crl.pem").write_bytes(crl_pem)
    (tmp_path / "chain.pem").write_text(pki.ca_bundle_pem)
    return openssl(
        "verify", "-crl_check", "-CAfile", str(tmp_path / "chain.pem"),
        "-CRLfile", str(tmp_path / "crl.pem"), str(cert_path),
    )  # fmt: skip


def test_every_issued_certificate_names_the_crl_and_the_ocsp_responder(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)

    points = device.certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    access = device.certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [name.value for point in points for name in point.full_name] == [controller.url + CRL_PATH]
    assert [a.access_location.value for a in access] == [controller.url + OCSP_PATH]


def test_openssl_verify_with_the_crl_tells_a_revoked_certificate_from_a_good_one(controller, pki, tmp_path):
    good, bad = enroll_device("good", tmp_path), enroll_device("stolen", tmp_path)
    assert crl_check(controller, pki, tmp_path, bad.cert_path).returncode == 0

    revoke_certificate(bad.certificate, "keyCompromise")

    refused = crl_check(controller, pki, tmp_path, bad.cert_path)
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr
    accepted = crl_check(controller, pki, tmp_path, good.cert_path)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr


def test_the_crl_is_signed_by_the_signing_ca_and_lists_time_and_reason(controller, pki, tmp_path):
    device = enroll_device("laptop", tmp_path)
    revoke_certificate(device.certificate, RevocationReason.KEY_COMPROMISE)

    crl = x509.load_der_x509_crl(fetch_crl(controller))

    assert crl.is_signature_valid(pki.signing_cert.public_key())
    assert crl.issuer == pki.signing_cert.subject
    entry = crl.get_revoked_certificate_by_serial_number(device.certificate.serial_number)
    assert entry is not None
    reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > dt.datetime.now(dt.UTC)


def test_the_crl_is_rebuilt_before_its_next_update(controller, time_machine, tmp_path):
    first = x509.load_der_x509_crl(fetch_crl(controller))
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(hours=13))

    second = x509.load_der_x509_crl(fetch_crl(controller))

    assert second.last_update_utc > first.last_update_utc
    assert second.next_update_utc > dt.datetime.now(dt.UTC)


def ocsp(controller, pki, tmp_path: Path, cert_path: Path) -> str:
    (tmp_path / "issuer.pem").write_text(pki.signing_cert.public_bytes(Encoding.PEM).decode())
    (tmp_path / "chain.pem").write_text(pki.ca_bundle_pem)
    result = openssl(
        "ocsp", "-issuer", str(tmp_path / "issuer.pem"), "-cert", str(cert_path),
        "-url", controller.url + OCSP_PATH, "-CAfile", str(tmp_path / "chain.pem"),
    )  # fmt: skip
    assert "Response verify OK" in result.stderr + result.stdout, result.stderr
    return result.stdout


def test_openssl_ocsp_answers_good_revoked_and_unknown(controller, pki, tmp_path):
    good, bad = enroll_device("good", tmp_path), enroll_device("stolen", tmp_path)
    revoke_certificate(bad.certificate, "keyCompromise")
    # Signed by our signing CA, but never held by an identity.
    stranger, stranger_key = good.certificate, good.key
    good.identity.authenticators.all().delete()
    unknown_path = tmp_path / "unknown.crt"
    unknown_path.write_bytes(stranger.public_bytes(Encoding.PEM))
    other = enroll_device("other", tmp_path)

    assert f"{other.cert_path}: good" in ocsp(controller, pki, tmp_path, other.cert_path)
    revoked = ocsp(controller, pki, tmp_path, bad.cert_path)
    assert f"{bad.cert_path}: revoked" in revoked
    assert "Reason: keyCompromise" in revoked
    assert "Revocation Time:" in revoked
    assert f"{unknown_path}: unknown" in ocsp(controller, pki, tmp_path, unknown_path)
    assert stranger_key is not None


def test_an_ocsp_request_for_another_issuer_is_unauthorized(controller, tmp_path):
    foreign = make_ca("Elsewhere")
    leaf, _key = foreign.issue("someone")
    (tmp_path / "issuer.pem").write_text(foreign.pem)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(Encoding.PEM))
    (tmp_path / "chain.pem").write_text(controller.ca_bundle_path.read_text())
    result = openssl(
        "ocsp", "-issuer", str(tmp_path / "issuer.pem"), "-cert", str(tmp_path / "leaf.pem"),
        "-url", controller.url + OCSP_PATH, "-CAfile", str(tmp_path / "chain.pem"),
    )  # fmt: skip
    assert "unauthorized" in (result.stdout + result.stderr).lower()


def test_garbage_to_the_ocsp_responder_is_a_malformed_request(controller):
    reply = https_request(
        controller.url, "POST", OCSP_PATH, context=controller.ssl_context(),
        body=b"not ocsp", headers={"Content-Type": "application/ocsp-request"},
    )  # fmt: skip
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/ocsp-response"
    from cryptography.x509 import ocsp as ocsp_module

    response = ocsp_module.load_der_ocsp_response(reply.body)
    assert response.response_status == ocsp_module.OCSPResponseStatus.MALFORMED_REQUEST


def test_revoking_twice_is_refused_and_keeps_the_first_record(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    first = revoke_certificate(device.certificate, "keyCompromise")

    with pytest.raises(CertificateAlreadyRevoked, match="already revoked"):
        revoke_certificate(device.certificate, "superseded")

    assert list(RevokedCertificate.objects.values_list("pk", "reason")) == [(first.pk, "keyCompromise")]


def test_a_certificate_of_another_ca_cannot_be_revoked_here(db):
    leaf, _key = make_ca().issue("device")

    with pytest.raises(RevocationRefused, match="signing CA"):
        revoke_certificate(leaf)

    assert not RevokedCertificate.objects.exists()


def test_an_unknown_reason_is_refused_in_words(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)

    with pytest.raises(RevocationRefused, match="not a revocation reason; choose one of"):
        revoke_certificate(device.certificate, "because")

    assert not RevokedCertificate.objects.exists()


def test_a_revoked_certificate_no_longer_authenticates_nor_keeps_its_session(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    context = controller.ssl_context(device.cert_path, device.key_path)
    opened = https_request(controller.url, "POST", "/authenticate?method=cert", context=context)
    assert opened.status == 200
    token = opened.headers["zt-session"]

    revoke_certificate(device.certificate, "keyCompromise")

    again = https_request(controller.url, "POST", "/authenticate?method=cert", context=context)
    assert again.status == 401
    assert again.error_code == "INVALID_AUTH"
    assert "revoked" in again.json()["error"]["message"]
    session = https_request(
        controller.url, "GET", "/current-api-session", context=context, headers={"zt-session": token}
    )
    assert session.status == 401


def test_the_ocsp_responder_also_answers_a_get_with_the_request_in_the_path(controller, pki, tmp_path):
    import base64
    import urllib.parse

    from cryptography.hazmat.primitives import hashes
    from cryptography.x509 import ocsp as ocsp_module

    device = enroll_device("laptop", tmp_path)
    revoke_certificate(device.certificate, "superseded")
    request = (
        ocsp_module.OCSPRequestBuilder()
        .add_certificate(device.certificate, pki.signing_cert, hashes.SHA256())
        .build()
        .public_bytes(Encoding.DER)
    )
    encoded = urllib.parse.quote(base64.b64encode(request).decode(), safe="")

    reply = https_request(controller.url, "GET", f"{OCSP_PATH}/{encoded}", context=controller.ssl_context())

    response = ocsp_module.load_der_ocsp_response(reply.body)
    assert response.response_status == ocsp_module.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == ocsp_module.OCSPCertStatus.REVOKED
    assert response.revocation_reason == x509.ReasonFlags.superseded
    assert response.serial_number == device.certificate.serial_number
