"""The controller PKI: made once, kept, and fit for the SDKs."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.verification import PolicyBuilder, Store

from authorities.pki import bootstrap_pki, issue_identity_certificate, load_pki, pki_dir
from tests.helpers import ec_key


@pytest.fixture
def fresh_pki(settings, tmp_path):
    """A PKI of its own in tmp_path; the session PKI is restored afterwards."""
    settings.DATA_DIR = tmp_path
    yield
    load_pki.cache_clear()


def test_keys_are_files_only_their_owner_can_read(fresh_pki, tmp_path):
    bootstrap_pki()

    for name in ("root-ca.key", "signing-ca.key", "server.key"):
        assert (tmp_path / "pki" / name).stat().st_mode & 0o777 == 0o600
    assert pki_dir().stat().st_mode & 0o777 == 0o700


def test_the_server_key_is_rsa_and_the_signing_ca_is_p256(fresh_pki):
    pki = bootstrap_pki()

    assert isinstance(pki.server_key, rsa.RSAPrivateKey)
    assert pki.server_key.key_size >= 2048
    assert isinstance(pki.signing_key.curve, ec.SECP256R1)


def test_bootstrap_is_idempotent(fresh_pki, tmp_path):
    first = bootstrap_pki()
    files = {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()}

    second = bootstrap_pki()

    assert {p.name: p.read_bytes() for p in (tmp_path / "pki").iterdir()} == files
    assert second.root_cert == first.root_cert


def test_a_new_address_reissues_the_server_certificate_with_the_same_key(fresh_pki, settings):
    first = bootstrap_pki()
    settings.ZITI_CTRL_ADDRESS = "controller.example.test"

    second = bootstrap_pki()

    assert second.server_cert != first.server_cert
    assert second.server_key.public_key() == first.server_key.public_key()
    assert second.root_cert == first.root_cert
    verifier = (
        PolicyBuilder()
        .store(Store([second.root_cert]))
        .build_server_verifier(x509.DNSName("controller.example.test"))
    )
    verifier.verify(second.server_cert, [])


def test_a_server_certificate_near_its_end_is_renewed(fresh_pki, time_machine):
    first = bootstrap_pki()
    time_machine.move_to(first.server_cert.not_valid_after_utc - dt.timedelta(days=10))

    second = bootstrap_pki()

    assert second.server_cert.not_valid_after_utc > first.server_cert.not_valid_after_utc


def test_identity_certificates_chain_through_the_signing_ca(fresh_pki):
    pki = bootstrap_pki()
    cert = issue_identity_certificate(ec_key().public_key(), "abc123")

    verifier = PolicyBuilder().store(Store([pki.root_cert])).build_client_verifier()
    result = verifier.verify(cert, [pki.signing_cert])

    assert result.chain == [cert, pki.signing_cert, pki.root_cert]
