"""Reissue, reset, disable and revoke: the identity lifecycle services, with the real
enrollment API redeeming (or refusing) the tokens they hand out."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from authorities.errors import CertificateAlreadyRevoked
from authorities.models import RevokedCertificate
from authorities.services import create_certificate_authority, verify_certificate_authority
from identities import services
from identities.errors import InvalidIdentity, LifecycleRefused
from identities.models import Authenticator, Enrollment, EnrollmentMethod
from tests.helpers import csr_pem, https_request, make_ca, write_cert_and_key
from tests.lifecycle import enroll_device


def enroll(controller, token: str):
    return https_request(
        controller.url, "POST", f"/enroll?method=ott&token={token}", context=controller.ssl_context(),
        body=csr_pem(), headers={"Content-Type": "text/plain", "Accept": "application/json"},
    )  # fmt: skip


def authenticate(controller, device):
    context = controller.ssl_context(device.cert_path, device.key_path)
    return https_request(controller.url, "POST", "/authenticate?method=cert", context=context)


# Reissue


def test_an_expired_token_is_reissued_with_a_new_jti_and_the_old_one_stops_working(controller, time_machine):
    identity, enrollment = services.create_identity(name="laptop", identity_type="device")
    old_token = enrollment.token
    time_machine.move_to(timezone.now() + dt.timedelta(days=2))
    assert enroll(controller, old_token).error_code == "ENROLLMENT_EXPIRED"

    wanted = timezone.now() + dt.timedelta(hours=6)
    reissued = services.reissue_enrollment(identity, expires_at=wanted)

    assert reissued.pk == enrollment.pk  # as OpenZiti's refresh: the same enrollment
    assert reissued.token != old_token
    assert reissued.expires_at == wanted
    assert enroll(controller, old_token).error_code == "INVALID_ENROLLMENT_TOKEN"
    assert enroll(controller, reissued.token).status == 200


def test_a_reissued_token_defaults_to_the_configured_duration(db, settings):
    settings.ZITI_ENROLLMENT_DURATION = 1440
    identity, _ = services.create_identity(name="laptop", identity_type="device")

    reissued = services.reissue_enrollment(identity)

    assert abs(reissued.expires_at - (timezone.now() + dt.timedelta(hours=24))) < dt.timedelta(minutes=1)


def test_reissue_of_an_enrolled_identity_is_refused_and_changes_nothing(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    before = list(Enrollment.objects.values_list("pk", "token", "consumed_at"))

    with pytest.raises(LifecycleRefused, match="is enrolled: reset its enrollment"):
        services.reissue_enrollment(device.identity)

    assert list(Enrollment.objects.values_list("pk", "token", "consumed_at")) == before


def test_reissue_with_an_expiry_in_the_past_is_refused(db):
    identity, enrollment = services.create_identity(name="laptop", identity_type="device")

    with pytest.raises(InvalidIdentity, match="must be in the future"):
        services.reissue_enrollment(identity, expires_at=timezone.now() - dt.timedelta(minutes=1))

    assert Enrollment.objects.get().token == enrollment.token


# Disabled identities


def test_a_disabled_identity_cannot_enroll_and_its_token_stays_unconsumed(controller):
    identity, enrollment = services.create_identity(name="laptop", identity_type="device")
    services.set_identity_disabled(identity, True)

    reply = enroll(controller, enrollment.token)

    assert reply.status == 403
    assert reply.error_code == "IDENTITY_DISABLED"
    assert "disabled" in reply.json()["error"]["message"]
    enrollment.refresh_from_db()
    assert enrollment.consumed_at is None
    assert not Authenticator.objects.exists()
    services.set_identity_disabled(identity, False)
    assert enroll(controller, enrollment.token).status == 200


def test_disabling_with_revoke_revokes_its_certificates(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)

    services.set_identity_disabled(device.identity, True, revoke=True)

    revoked = RevokedCertificate.objects.get()
    assert (revoked.serial, revoked.reason) == (device.authenticator.serial, "privilegeWithdrawn")
    services.set_identity_disabled(device.identity, False)
    assert authenticate(controller, device).status == 401  # enabled again, but the certificate is dead


def test_deleting_an_identity_revokes_its_certificate(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)
    serial = device.authenticator.serial

    services.delete_identity(device.identity)

    assert RevokedCertificate.objects.get().serial == serial


# Reset


def test_reset_keeps_the_identity_revokes_its_certificate_and_issues_an_ott(controller, tmp_path):
    device = enroll_device("laptop", tmp_path, role_attributes=["sales"])
    old_serial = device.authenticator.serial
    assert authenticate(controller, device).status == 200

    enrollment = services.reset_enrollment(device.identity)

    device.identity.refresh_from_db()
    assert (device.identity.name, device.identity.role_attributes) == ("laptop", ["sales"])
    assert enrollment.method == EnrollmentMethod.OTT
    assert enrollment.is_pending()
    assert not device.identity.authenticators.exists()
    assert RevokedCertificate.objects.get().serial == old_serial
    assert authenticate(controller, device).status == 401
    assert enroll(controller, enrollment.token).status == 200
    assert device.identity.authenticators.count() == 1


def test_reset_of_a_third_party_certificate_issues_an_ottca_for_the_same_ca(controller, tmp_path):
    test_ca = make_ca()
    ca = create_certificate_authority(name="Fleet", certificate_pem=test_ca.pem, ott_ca_enrollment=True)
    proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
    from kernel.certificates import to_pem

    verify_certificate_authority(ca, to_pem(proof))
    identity, first = services.create_identity(name="sensor", identity_type="device", ca=ca)
    cert, key = test_ca.issue("sensor")
    cert_path, key_path = write_cert_and_key(tmp_path, "sensor", cert, key)
    reply = https_request(
        controller.url, "POST", f"/enroll?method=ottca&token={first.token}",
        context=controller.ssl_context(cert_path, key_path), headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert reply.status == 200, reply.body

    enrollment = services.reset_enrollment(identity)

    assert (enrollment.method, enrollment.ca_id) == (EnrollmentMethod.OTTCA, ca.pk)
    assert not RevokedCertificate.objects.exists()  # not ours to revoke
    assert not identity.authenticators.exists()


def test_reset_of_an_identity_with_no_certificate_is_refused_and_changes_nothing(db):
    identity, enrollment = services.create_identity(name="laptop", identity_type="device")

    with pytest.raises(LifecycleRefused, match="has no certificate to reset; reissue"):
        services.reset_enrollment(identity)

    assert list(Enrollment.objects.values_list("pk", "token")) == [(enrollment.pk, enrollment.token)]


# Revoke


def test_revoking_an_identitys_certificate_keeps_the_record_and_refuses_a_second_time(controller, tmp_path):
    device = enroll_device("laptop", tmp_path)

    services.revoke_identity_certificate(device.authenticator, "keyCompromise")

    assert device.identity.authenticators.count() == 1
    assert authenticate(controller, device).status == 401
    with pytest.raises(CertificateAlreadyRevoked):
        services.revoke_identity_certificate(device.authenticator, "superseded")
    assert RevokedCertificate.objects.get().reason == "keyCompromise"
