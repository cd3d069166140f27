"""Registering, verifying and changing third-party CAs."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.management import CommandError, call_command

from authorities.errors import CertificateAuthorityError
from authorities.models import CertificateAuthority
from authorities.services import (
    create_certificate_authority,
    update_certificate_authority,
    verification_recipe,
    verify_certificate_authority,
)
from identities.models import Enrollment, Identity
from tests.helpers import make_ca

pytestmark = pytest.mark.django_db


def pem(cert) -> str:
    return cert.public_bytes(Encoding.PEM).decode()


@pytest.fixture
def fleet():
    return make_ca("Fleet CA")


def test_a_new_ca_is_unverified_with_a_token_and_defaults(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)

    assert not ca.is_verified
    assert len(ca.verification_token) == 32
    assert ca.identity_name_format == "[caName]-[commonName]"
    assert (ca.is_ott_ca_enrollment_enabled, ca.is_auto_ca_enrollment_enabled, ca.is_auth_enabled) == (
        False,
        False,
        False,
    )
    assert list(CertificateAuthority.objects.values_list("certificate_pem", flat=True)) == [fleet.pem]


@pytest.mark.parametrize(
    ("certificate", "message"),
    [
        (lambda ca: "not a certificate", "no certificate found in the CA certificate"),
        (lambda ca: ca.pem + make_ca("Second").pem, "exactly one PEM certificate"),
        (lambda ca: pem(ca.issue("leaf")[0]), "not a CA certificate"),
        (
            lambda ca: make_ca("Old", days=1, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).pem,
            "expired",
        ),
        (lambda ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "is damaged"),
    ],
)
def test_bad_ca_certificates_are_refused_in_words(fleet, certificate, message):
    with pytest.raises(CertificateAuthorityError, match=message) as caught:
        create_certificate_authority(name="Fleet", certificate_pem=certificate(fleet))

    assert caught.value.field == "certificate"
    assert not CertificateAuthority.objects.exists()


def test_a_certificate_is_registered_once(fleet):
    create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)

    with pytest.raises(CertificateAuthorityError, match='already registered as CA "Fleet"'):
        create_certificate_authority(name="Fleet again", certificate_pem=fleet.pem)


def test_names_are_unique(fleet):
    create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)

    with pytest.raises(CertificateAuthorityError, match="already exists") as caught:
        create_certificate_authority(name="Fleet", certificate_pem=make_ca("Other").pem)
    assert caught.value.field == "name"


def test_proof_of_possession_verifies_and_burns_the_token(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    proof, _ = fleet.issue(ca.verification_token, client_auth=False)

    verify_certificate_authority(ca, pem(proof))

    ca.refresh_from_db()
    assert ca.is_verified
    assert ca.verified_at is not None
    assert ca.verification_token == ""
    with pytest.raises(CertificateAuthorityError, match="already verified"):
        verify_certificate_authority(ca, pem(proof))


def test_wrong_cn_is_refused(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    proof, _ = fleet.issue("not-the-token", client_auth=False)

    with pytest.raises(CertificateAuthorityError, match="wrong CN"):
        verify_certificate_authority(ca, pem(proof))
    assert not CertificateAuthority.objects.get().is_verified


def test_a_certificate_from_another_key_with_the_same_name_is_refused(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    impostor = make_ca("Fleet CA")  # same subject name, different key
    proof, _ = impostor.issue(ca.verification_token, client_auth=False)

    with pytest.raises(CertificateAuthorityError, match="wrong issuer"):
        verify_certificate_authority(ca, pem(proof))
    assert not CertificateAuthority.objects.get().is_verified


def test_an_expired_proof_is_refused(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    proof, _ = fleet.issue(ca.verification_token, client_auth=False, not_before=start, days=1)

    with pytest.raises(CertificateAuthorityError, match="expired"):
        verify_certificate_authority(ca, pem(proof))


def test_a_stale_copy_cannot_verify_with_a_used_token(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    stale = CertificateAuthority.objects.get(pk=ca.pk)
    proof, _ = fleet.issue(ca.verification_token, client_auth=False)
    verify_certificate_authority(ca, pem(proof))

    with pytest.raises(CertificateAuthorityError, match="already been used"):
        verify_certificate_authority(stale, pem(proof))


def test_garbage_proof_is_refused(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)

    with pytest.raises(CertificateAuthorityError, match="no certificate found"):
        verify_certificate_authority(ca, "hello")


def test_update_changes_flags_roles_and_format(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)

    update_certificate_authority(
        ca,
        name="Fleet 2",
        ott_ca_enrollment=True,
        auto_ca_enrollment=True,
        auth_enabled=True,
        identity_roles=["a", " b", "a"],
        identity_name_format="",
    )

    ca.refresh_from_db()
    assert ca.name == "Fleet 2"
    assert (ca.is_ott_ca_enrollment_enabled, ca.is_auto_ca_enrollment_enabled, ca.is_auth_enabled) == (
        True,
        True,
        True,
    )
    assert ca.identity_roles == ["a", "b"]
    assert ca.identity_name_format == "[caName]-[commonName]"


def test_the_recipe_names_the_token(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)

    recipe = verification_recipe(ca)

    assert f'-subj "/CN={ca.verification_token}"' in recipe[0]
    assert recipe[1].startswith("openssl x509 -req")


# the commands --------------------------------------------------------------------------


def test_create_ca_prints_json(fleet, tmp_path):
    cert_file = tmp_path / "ca.pem"
    cert_file.write_text(fleet.pem)
    out = StringIO()

    call_command(
        "create_ca",
        "Fleet",
        "--cert",
        str(cert_file),
        "--ott-enrollment",
        "--auth",
        "--identity-roles",
        "x,y",
        "--identity-name-format",
        "[commonName]",
        "--json",
        stdout=out,
    )

    data = json.loads(out.getvalue())
    ca = CertificateAuthority.objects.get()
    assert data["id"] == ca.id
    assert data["name"] == "Fleet"
    assert data["verificationToken"] == ca.verification_token
    assert data["isVerified"] is False
    assert (data["isOttCaEnrollmentEnabled"], data["isAutoCaEnrollmentEnabled"], data["isAuthEnabled"]) == (
        True,
        False,
        True,
    )
    assert data["identityRoles"] == ["x", "y"]
    assert data["identityNameFormat"] == "[commonName]"


def test_create_ca_refuses_a_leaf(fleet, tmp_path):
    cert_file = tmp_path / "leaf.pem"
    cert_file.write_text(pem(fleet.issue("leaf")[0]))

    with pytest.raises(CommandError, match="not a CA certificate"):
        call_command("create_ca", "Fleet", "--cert", str(cert_file), stdout=StringIO())


def test_verify_ca_and_ca_jwt(fleet, tmp_path, pki):
    cert_file = tmp_path / "ca.pem"
    cert_file.write_text(fleet.pem)
    call_command("create_ca", "Fleet", "--cert", str(cert_file), "--auto-enrollment", stdout=StringIO())
    ca = CertificateAuthority.objects.get()
    with pytest.raises(CommandError, match="not verified or has auto enrollment off"):
        call_command("ca_jwt", "Fleet", stdout=StringIO())
    wrong = tmp_path / "wrong.pem"
    wrong.write_text(pem(fleet.issue("nope", client_auth=False)[0]))
    with pytest.raises(CommandError, match='CA "Fleet" not verified: wrong CN'):
        call_command("verify_ca", "Fleet", "--cert", str(wrong), stdout=StringIO())
    proof = tmp_path / "proof.pem"
    proof.write_text(pem(fleet.issue(ca.verification_token, client_auth=False)[0]))

    call_command("verify_ca", "Fleet", "--cert", str(proof), stdout=StringIO())
    target = tmp_path / "fleet.jwt"
    call_command("ca_jwt", "Fleet", "-o", str(target), stdout=StringIO())

    assert target.stat().st_mode & 0o777 == 0o600
    claims = jwt.decode(target.read_text().strip(), pki.server_cert.public_key(), algorithms=["RS256"])
    assert (claims["em"], claims["sub"], claims["name"]) == ("ca", ca.id, "Fleet")
    assert "exp" not in claims
    with pytest.raises(CommandError, match="already exists"):
        call_command("ca_jwt", "Fleet", "-o", str(target), stdout=StringIO())


def test_commands_name_an_unknown_ca(tmp_path):
    with pytest.raises(CommandError, match='no certificate authority is named "Nope"'):
        call_command("verify_ca", "Nope", "--cert", str(tmp_path / "x.pem"), stdout=StringIO())
    with pytest.raises(CommandError, match='no certificate authority is named "Nope"'):
        call_command("create_identity", "device", "d1", "--ca", "Nope", stdout=StringIO())


def test_create_identity_for_a_ca_makes_an_ottca_enrollment(fleet, pki):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem, ott_ca_enrollment=True)
    with pytest.raises(CommandError, match='"Fleet" is not verified yet'):
        call_command("create_identity", "device", "d1", "--ca", "Fleet", stdout=StringIO())
    proof, _ = fleet.issue(ca.verification_token, client_auth=False)
    verify_certificate_authority(ca, pem(proof))
    out = StringIO()

    call_command("create_identity", "device", "d1", "--ca", "Fleet", stdout=out, stderr=StringIO())

    claims = jwt.decode(out.getvalue().strip(), pki.server_cert.public_key(), algorithms=["RS256"])
    assert claims["em"] == "ottca"
    assert Enrollment.objects.get().ca == ca


def test_create_identity_refuses_a_ca_with_ott_ca_enrollment_off(fleet):
    ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
    proof, _ = fleet.issue(ca.verification_token, client_auth=False)
    verify_certificate_authority(ca, pem(proof))

    with pytest.raises(CommandError, match="has OTT CA enrollment off"):
        call_command("create_identity", "device", "d1", "--ca", "Fleet", stdout=StringIO())
    assert not Identity.objects.exists()
