"""POST /enroll?method=ott and the public endpoints, against the real HTTPS server."""

from __future__ import annotations

import base64
import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from django.utils import timezone

from identities.models import Authenticator, Enrollment
from identities.services import create_identity
from tests.helpers import csr_pem, ec_key, https_request, mbedtls_csr_pem, rsa_key

PREFIXES = ["", "/edge/client/v1"]


@pytest.fixture
def enrollment(controller):
    _identity, enrollment = create_identity(name="laptop", identity_type="device")
    return enrollment


def enroll(controller, token, body, content_type="text/plain", accept="application/json", prefix=""):
    headers = {"Accept": accept}
    if content_type:
        headers["Content-Type"] = content_type
    return https_request(
        controller.url,
        "POST",
        f"{prefix}/enroll?method=ott&token={token}",
        context=controller.ssl_context(),
        body=body,
        headers=headers,
    )


def assert_token_still_usable(controller, enrollment):
    enrollment.refresh_from_db()
    assert enrollment.consumed_at is None
    assert not Authenticator.objects.exists()
    assert enroll(controller, enrollment.token, csr_pem()).status == 200


@pytest.mark.parametrize("prefix", PREFIXES)
def test_version_answers_at_both_paths(controller, prefix):
    reply = https_request(controller.url, "GET", f"{prefix}/version", context=controller.ssl_context())

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert int(reply.headers["content-length"]) == len(reply.body)
    data = reply.json()["data"]
    assert data["apiVersions"]["edge"]["v1"]["path"] == "/edge/client/v1"
    assert reply.json()["meta"] == {}


@pytest.mark.parametrize(
    "path",
    ["/.well-known/est/cacerts", "//.well-known/est/cacerts", "/edge/client/v1/.well-known/est/cacerts"],
)
def test_cacerts_serves_the_bundle_as_base64_pkcs7(controller, pki, path):
    reply = https_request(controller.url, "GET", path, context=controller.ssl_context())

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/pkcs7-mime"
    assert reply.headers["content-transfer-encoding"] == "base64"
    certs = pkcs7.load_der_pkcs7_certificates(base64.b64decode(reply.body))
    assert set(certs) == set(pki.ca_bundle)


@pytest.mark.parametrize("prefix", ["", "/edge/client/v1", "/"])
def test_ott_enrollment_issues_a_conformant_client_certificate(controller, enrollment, pki, prefix):
    key = ec_key()
    reply = enroll(controller, enrollment.token, csr_pem(key), prefix=prefix)

    assert reply.status == 200, reply.body
    assert reply.headers["content-type"] == "application/json"
    data = reply.json()["data"]
    chain = x509.load_pem_x509_certificates(data["cert"].encode())
    leaf = chain[0]
    assert set(x509.load_pem_x509_certificates(data["ca"].encode())) == set(pki.ca_bundle)
    assert leaf.public_key() == key.public_key()
    identity_id = enrollment.identity_id
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == identity_id
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        f"spiffe://{controller.host}/identity/{identity_id}"
    ]
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    key_usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert leaf.not_valid_after_utc - leaf.not_valid_before_utc == dt.timedelta(days=365)
    # RFC 5280 path validation, as a mutual-TLS server would run it.
    verifier = PolicyBuilder().store(Store([pki.root_cert])).build_client_verifier()
    verified = verifier.verify(leaf, chain[1:])
    assert verified.chain[-1] == pki.root_cert

    authenticator = Authenticator.objects.get()
    assert authenticator.identity_id == identity_id
    assert authenticator.serial == format(leaf.serial_number, "x")
    assert authenticator.not_after == leaf.not_valid_after_utc
    enrollment.refresh_from_db()
    assert enrollment.consumed_at is not None


def test_serial_numbers_are_random(controller):
    serials = set()
    for n in range(3):
        _identity, enrollment = create_identity(name=f"device-{n}", identity_type="device")
        reply = enroll(controller, enrollment.token, csr_pem())
        serials.add(x509.load_pem_x509_certificate(reply.json()["data"]["cert"].encode()).serial_number)
    assert len(serials) == 3
    assert all(serial.bit_length() > 64 for serial in serials)


def test_ott_answers_raw_pem_when_the_client_prefers_it(controller, enrollment):
    reply = enroll(controller, enrollment.token, csr_pem(), accept="application/x-pem-file, application/json")

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/x-pem-file"
    assert x509.load_pem_x509_certificates(reply.body)


def test_ott_answers_json_when_json_comes_first(controller, enrollment):
    reply = enroll(controller, enrollment.token, csr_pem(), accept="application/json, application/x-pem-file")

    assert reply.headers["content-type"] == "application/json"
    assert "cert" in reply.json()["data"]


@pytest.mark.parametrize(
    "content_type", ["application/x-pem-file", "application/pkcs10", "text/plain; charset=utf-8"]
)
def test_ott_accepts_every_pem_content_type(controller, enrollment, content_type):
    assert enroll(controller, enrollment.token, csr_pem(), content_type=content_type).status == 200


def test_ott_accepts_a_json_body_with_client_csr(controller, enrollment):
    body = json.dumps({"clientCsr": csr_pem(rsa_key())})
    reply = enroll(controller, enrollment.token, body, content_type="application/json")

    assert reply.status == 200, reply.body


def test_ott_accepts_the_mbedtls_csr_form(controller, enrollment):
    key = ec_key()
    reply = enroll(controller, enrollment.token, mbedtls_csr_pem(key))

    assert reply.status == 200, reply.body
    leaf = x509.load_pem_x509_certificates(reply.json()["data"]["cert"].encode())[0]
    assert leaf.public_key() == key.public_key()


def test_a_token_redeems_only_once(controller, enrollment):
    assert enroll(controller, enrollment.token, csr_pem()).status == 200

    replay = enroll(controller, enrollment.token, csr_pem())

    assert replay.status == 400
    assert replay.error_code == "INVALID_ENROLLMENT_TOKEN"
    assert Authenticator.objects.count() == 1


def test_sixteen_concurrent_redemptions_give_one_certificate(controller, enrollment):
    csrs = [csr_pem() for _ in range(16)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(pool.map(lambda csr: enroll(controller, enrollment.token, csr), csrs))

    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200] + [400] * 15
    assert {r.error_code for r in replies if r.status == 400} == {"INVALID_ENROLLMENT_TOKEN"}
    assert Authenticator.objects.count() == 1


def test_an_expired_token_is_refused(controller, enrollment, time_machine):
    time_machine.move_to(enrollment.expires_at + dt.timedelta(seconds=1))

    reply = enroll(controller, enrollment.token, csr_pem())

    assert reply.status == 400
    assert reply.error_code == "ENROLLMENT_EXPIRED"
    assert not Authenticator.objects.exists()


def test_a_token_works_until_just_before_it_expires(controller, enrollment, time_machine):
    time_machine.move_to(enrollment.expires_at - dt.timedelta(seconds=5))

    assert enroll(controller, enrollment.token, csr_pem()).status == 200


def test_an_unknown_token_is_refused(controller, enrollment):
    reply = enroll(controller, "not-a-token", csr_pem())

    assert (reply.status, reply.error_code) == (400, "INVALID_ENROLLMENT_TOKEN")
    body = reply.json()
    assert body["meta"] == {}
    assert body["error"]["requestId"]
    assert body["error"]["message"]


def test_a_missing_token_is_refused(controller, enrollment):
    reply = https_request(
        controller.url,
        "POST",
        "/enroll?method=ott",
        context=controller.ssl_context(),
        body=csr_pem(),
        headers={"Content-Type": "text/plain"},
    )

    assert (reply.status, reply.error_code) == (400, "INVALID_ENROLLMENT_TOKEN")


def test_a_token_of_a_deleted_identity_is_refused(controller, enrollment):
    enrollment.identity.delete()

    reply = enroll(controller, enrollment.token, csr_pem())

    assert reply.error_code == "INVALID_ENROLLMENT_TOKEN"


@pytest.mark.parametrize("method", ["", "bogus", "OTT"])
def test_an_unknown_method_is_refused(controller, enrollment, method):
    reply = https_request(
        controller.url,
        "POST",
        f"/enroll?method={method}&token={enrollment.token}",
        context=controller.ssl_context(),
        body=csr_pem(),
        headers={"Content-Type": "text/plain"},
    )

    assert (reply.status, reply.error_code) == (400, "INVALID_ENROLL_METHOD")
    assert_token_still_usable(controller, enrollment)


def _tampered_csr() -> str:
    pem = csr_pem()
    der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(pkcs7.serialization.Encoding.DER))
    der[-3] ^= 0x01  # flip a bit of the signature
    return (
        "-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(bytes(der)).decode()
        + "-----END CERTIFICATE REQUEST-----\n"
    )


BAD_CSRS = {
    "garbage": lambda: "this is not a CSR",
    "empty PEM": lambda: "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n",
    "two CSRs": lambda: csr_pem() + csr_pem(),
    "a certificate": lambda: _certificate_pem(),
    "bad signature": _tampered_csr,
    "RSA 1024": lambda: csr_pem(rsa_key(1024)),
    "curve secp256k1": lambda: csr_pem(ec_key(ec.SECP256K1())),
    "not ASCII": lambda: "\u00e9t\u00e9",
}


def _certificate_pem() -> str:
    from authorities.pki import load_pki
    from kernel.certificates import to_pem

    return to_pem(load_pki().root_cert)


@pytest.mark.parametrize("case", BAD_CSRS)
def test_a_bad_csr_is_refused_and_leaves_the_token_usable(controller, enrollment, case):
    reply = enroll(controller, enrollment.token, BAD_CSRS[case]())

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_PROCESS_CSR"), reply.body
    assert_token_still_usable(controller, enrollment)


@pytest.mark.parametrize("content_type", ["text/plain", "application/json", None])
def test_an_empty_body_is_no_csr(controller, enrollment, content_type):
    reply = enroll(controller, enrollment.token, b"", content_type=content_type)

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_PROCESS_CSR")
    assert_token_still_usable(controller, enrollment)


@pytest.mark.parametrize("body", ["[1, 2]", '"just a string"', '{"clientCsr": 5}'])
def test_json_that_is_not_an_object_with_a_csr_is_refused(controller, enrollment, body):
    reply = enroll(controller, enrollment.token, body, content_type="application/json")

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_PROCESS_CSR")
    assert_token_still_usable(controller, enrollment)


def test_a_json_body_without_client_csr_is_refused(controller, enrollment):
    reply = enroll(controller, enrollment.token, json.dumps({"name": "x"}), content_type="application/json")

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_PROCESS_CSR")
    assert_token_still_usable(controller, enrollment)


@pytest.mark.parametrize("content_type", ["application/xml", "multipart/form-data; boundary=x", None])
def test_an_unsupported_content_type_is_refused_and_leaves_the_token_usable(
    controller, enrollment, content_type
):
    reply = enroll(controller, enrollment.token, csr_pem(), content_type=content_type)

    assert (reply.status, reply.error_code) == (400, "INVALID_CONTENT_TYPE"), reply.body
    assert_token_still_usable(controller, enrollment)


def test_malformed_json_is_a_clear_400(controller, enrollment):
    reply = enroll(controller, enrollment.token, "{not json", content_type="application/json")

    assert reply.status == 400
    assert reply.json()["error"]["message"]
    assert_token_still_usable(controller, enrollment)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_wrong_http_method_gets_405_in_the_envelope(controller, enrollment, method):
    reply = https_request(
        controller.url,
        method,
        f"/enroll?method=ott&token={enrollment.token}",
        context=controller.ssl_context(),
    )

    assert reply.status == 405
    assert reply.error_code == "METHOD_NOT_ALLOWED"
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert_token_still_usable(controller, enrollment)


def test_failed_attempts_never_half_write(controller, enrollment):
    before = timezone.now()
    enroll(controller, enrollment.token, "garbage")
    enroll(controller, enrollment.token, csr_pem(), content_type="application/xml")

    assert Enrollment.objects.get().consumed_at is None
    assert not Authenticator.objects.filter(created_at__gte=before).exists()


def _csr_signed_with(hash_algorithm: hashes.HashAlgorithm, oid_name: str) -> str:
    """A correctly self-signed RSA CSR whose signature uses a weak hash.

    `cryptography` refuses to build one, so the signed part comes from a SHA-256 CSR and
    is signed again, and re-wrapped, by hand.
    """
    from asn1crypto import csr as asn1_csr

    key = rsa_key()
    info = x509.load_pem_x509_csr(csr_pem(key).encode()).tbs_certrequest_bytes
    signature = key.sign(info, padding.PKCS1v15(), hash_algorithm)
    request = asn1_csr.CertificationRequest(
        {
            "certification_request_info": asn1_csr.CertificationRequestInfo.load(info),
            "signature_algorithm": {"algorithm": oid_name},
            "signature": signature,
        }
    )
    body = base64.encodebytes(request.dump()).decode()
    return f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n"


@pytest.mark.parametrize(
    ("hash_algorithm", "oid_name", "named"),
    [(hashes.SHA1(), "sha1_rsa", "SHA1"), (hashes.MD5(), "md5_rsa", "MD5")],  # noqa: S303 - the weak hashes under test
)
def test_a_csr_with_a_weak_signature_hash_is_refused_naming_the_hash(
    controller, enrollment, hash_algorithm, oid_name, named
):
    reply = enroll(controller, enrollment.token, _csr_signed_with(hash_algorithm, oid_name))

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_PROCESS_CSR")
    assert f"signed with {named}, which is too weak" in reply.json()["error"]["message"]
    assert_token_still_usable(controller, enrollment)
