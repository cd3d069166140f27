"""reissue_enrollment, reset_enrollment, revoke_certificate and request_extend commands."""

from __future__ import annotations

from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command

from authorities.models import RevokedCertificate
from identities.models import Authenticator, Enrollment
from identities.services import create_identity
from tests.lifecycle import enroll_device


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def test_reissue_prints_a_jwt_with_a_new_jti(db, pki):
    _identity, enrollment = create_identity(name="kiosk", identity_type="device")

    token = run("reissue_enrollment", "kiosk", "--hours", "2")

    claims = jwt.decode(token, pki.server_cert.public_key(), algorithms=["RS256"])
    assert claims["jti"] == Enrollment.objects.get().token != enrollment.token


def test_reissue_of_an_enrolled_identity_fails_in_words(db, tmp_path):
    enroll_device("laptop", tmp_path)

    with pytest.raises(CommandError, match="is enrolled: reset its enrollment"):
        run("reissue_enrollment", "laptop")


def test_reset_revokes_and_writes_the_new_jwt_to_a_file(db, tmp_path):
    device = enroll_device("laptop", tmp_path)
    out = tmp_path / "laptop.jwt"

    run("reset_enrollment", "laptop", "-o", str(out))

    assert out.read_text().strip().count(".") == 2
    assert RevokedCertificate.objects.get().serial == format(device.certificate.serial_number, "x")
    assert not Authenticator.objects.exists()


def test_reset_of_an_identity_without_a_certificate_fails_in_words(db):
    create_identity(name="kiosk", identity_type="device")

    with pytest.raises(CommandError, match="has no certificate to reset"):
        run("reset_enrollment", "kiosk")


def test_revoke_certificate_with_a_reason_and_twice(db, tmp_path):
    enroll_device("laptop", tmp_path)

    assert "keyCompromise" in run("revoke_certificate", "laptop", "--reason", "key-compromise")
    with pytest.raises(CommandError, match="already revoked"):
        run("revoke_certificate", "laptop")
    assert RevokedCertificate.objects.get().reason == "keyCompromise"


def test_revoke_with_an_unknown_reason_fails_and_changes_nothing(db, tmp_path):
    enroll_device("laptop", tmp_path)

    with pytest.raises(CommandError, match="not a revocation reason"):
        run("revoke_certificate", "laptop", "--reason", "boredom")
    assert not RevokedCertificate.objects.exists()


def test_request_extend_sets_the_flags(db, tmp_path):
    enroll_device("laptop", tmp_path)

    run("request_extend", "laptop", "--roll-keys")

    authenticator = Authenticator.objects.get()
    assert authenticator.is_extend_requested
    assert authenticator.is_key_roll_requested


def test_an_unknown_identity_is_named(db):
    with pytest.raises(CommandError, match='no identity is named "ghost"'):
        run("revoke_certificate", "ghost")
