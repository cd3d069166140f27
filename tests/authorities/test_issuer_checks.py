"""A CA certificate is refused, in words that say why and how to fix it, unless it can
issue device certificates that then pass the checks of enrollment and authentication."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from asn1crypto import algos as asn1_algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from authorities.errors import CertificateAuthorityError, PrivateKeyRefused
from authorities.models import CertificateAuthority
from authorities.services import create_certificate_authority, verify_certificate_authority
from tests.helpers import CA_KEY_USAGE, CA_TRUE, ec_key, make_ca, rsa_key

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC)
NO_USAGE = None


def ca_certificate(
    *,
    key=None,
    constraints: x509.BasicConstraints | None = CA_TRUE,
    usage: x509.KeyUsage | None = CA_KEY_USAGE,
    not_before: dt.datetime | None = None,
    days: int = 365,
) -> x509.Certificate:
    """A self-signed CA certificate, with whatever is passed in place of the right part."""
    return make_ca(
        "Odd CA", key=key, constraints=constraints, key_usage=usage, not_before=not_before, days=days
    ).cert


def with_sha1_signature(cert: x509.Certificate) -> x509.Certificate:
    """The same certificate labelled ecdsa-with-SHA1, as old CAs are: cryptography no
    longer signs with SHA-1, and the label is what the check reads."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    sha1 = asn1_algos.SignedDigestAlgorithm({"algorithm": "sha1_ecdsa"})
    parsed["tbs_certificate"]["signature"] = sha1
    parsed["signature_algorithm"] = sha1
    return x509.load_der_x509_certificate(parsed.dump(force=True))


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def refusal(certificate: str | bytes) -> str:
    with pytest.raises(CertificateAuthorityError) as caught:
        create_certificate_authority(name="Odd", certificate_pem=certificate)
    assert caught.value.field == "certificate"
    assert not CertificateAuthority.objects.exists()
    return caught.value.message


SIGN_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


@pytest.mark.parametrize(
    ("build", "why", "fix"),
    [
        (
            lambda: ca_certificate(usage=NO_USAGE),
            "has no keyUsage extension",
            "keyUsage=critical,keyCertSign",
        ),
        (
            lambda: ca_certificate(usage=SIGN_ONLY),
            "does not allow keyCertSign",
            "keyUsage=critical,keyCertSign",
        ),
        (
            lambda: ca_certificate(constraints=None),
            "this is not a CA certificate",
            "basicConstraints=critical",
        ),
        (
            lambda: ca_certificate(constraints=x509.BasicConstraints(ca=False, path_length=None)),
            "this is not a CA certificate",
            "not a device's",
        ),
        (
            lambda: ca_certificate(not_before=NOW + dt.timedelta(days=3)),
            "is not valid before",
            "check the clock",
        ),
        (
            lambda: ca_certificate(not_before=NOW - dt.timedelta(days=10), days=2),
            "expired on",
            "renew it and upload",
        ),
        (lambda: ca_certificate(key=rsa_key(1024)), "RSA key has 1024 bits, too weak", "3072-bit RSA"),
        (lambda: ca_certificate(key=ec_key(ec.SECP256K1())), "curve secp256k1", "P-256"),
        (
            lambda: ca_certificate(key=ed25519.Ed25519PrivateKey.generate()),
            "key type is not supported",
            "RSA",
        ),
        (lambda: with_sha1_signature(ca_certificate()), "signed with SHA1, which is too weak", "SHA-256"),
    ],
    ids=[
        "no keyUsage",
        "no keyCertSign",
        "no basicConstraints",
        "CA:FALSE",
        "not yet valid",
        "expired",
        "RSA 1024",
        "secp256k1",
        "Ed25519",
        "SHA-1",
    ],
)
def test_a_certificate_that_cannot_issue_is_refused_with_why_and_how(build, why, fix):
    message = refusal(pem(build()))

    assert why in message
    assert fix in message


def test_a_sound_ca_with_an_rsa_key_is_accepted():
    create_certificate_authority(name="RSA", certificate_pem=pem(ca_certificate(key=rsa_key(2048))))

    assert CertificateAuthority.objects.get().name == "RSA"


def test_a_der_certificate_is_accepted_as_it_is():
    fleet = make_ca()

    ca = create_certificate_authority(
        name="Fleet", certificate_pem=fleet.cert.public_bytes(serialization.Encoding.DER)
    )

    assert ca.certificate == fleet.cert


@pytest.mark.parametrize(
    "garbage",
    [
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAK\n-----END CERTIFICATE-----\n",
        b"\x30\x82\x01\x00" + b"\x00" * 40,
        "-----BEGIN CERTIFICATE-----\nno end line",
        b"\xff\xfe\x00garbage",
    ],
    ids=["short DER in PEM", "cut DER in PEM", "cut DER", "no END line", "binary noise"],
)
def test_no_parser_internals_reach_the_message(garbage):
    message = refusal(garbage)

    for internal in ("ParseError", "asn1", "ShortData", "kind", "{"):
        assert internal not in message
    assert "certificate" in message


def test_a_binary_file_that_is_not_a_certificate_says_how_to_convert():
    assert "openssl x509 -inform DER" in refusal(b"\x30\x03\x02\x01\x01")


def test_a_pkcs7_bundle_says_how_to_take_the_certificate_out():
    bundle = "-----BEGIN PKCS7-----\nMAsGCSqGSIb3DQEHAg==\n-----END PKCS7-----\n"

    assert "openssl pkcs7 -print_certs" in refusal(bundle)


@pytest.fixture
def fleet_with_key() -> tuple[str, str]:
    fleet = make_ca()
    key = fleet.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return fleet.pem, key


@pytest.mark.parametrize("order", ["certificate first", "key first", "key alone"])
def test_a_private_key_is_refused_with_a_warning_and_never_kept_or_logged(fleet_with_key, order, caplog):
    certificate, key = fleet_with_key
    sent = {"certificate first": certificate + key, "key first": key + certificate, "key alone": key}[order]
    caplog.set_level(logging.DEBUG)

    with pytest.raises(PrivateKeyRefused) as caught:
        create_certificate_authority(name="Fleet", certificate_pem=sent)

    assert "holds a private key" in caught.value.message
    assert "Treat that key as exposed" in caught.value.message
    assert not CertificateAuthority.objects.exists()
    key_body = key.splitlines()[1]
    assert key_body not in caplog.text
    assert key_body not in caught.value.message
    # The refusal is raised "from None": no chained exception carries the input along.
    assert caught.value.__cause__ is None


def test_a_private_key_in_the_proof_of_possession_is_refused_too(fleet_with_key):
    certificate, key = fleet_with_key
    ca = create_certificate_authority(name="Fleet", certificate_pem=certificate)

    with pytest.raises(PrivateKeyRefused, match="holds a private key"):
        verify_certificate_authority(ca, key)
    ca.refresh_from_db()
    assert not ca.is_verified
