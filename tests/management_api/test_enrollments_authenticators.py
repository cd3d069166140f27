"""/enrollments and /authenticators: the identity lifecycle's service functions."""

from __future__ import annotations

import datetime as dt

import pytest

from authorities.models import RevokedCertificate
from identities.models import Authenticator, Enrollment
from identities.services import create_identity
from tests.lifecycle import enroll_device


def later(hours: int = 2) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def serial_of(certificate) -> str:
    return format(certificate.serial_number, "x")


def test_enrollments_list_and_detail(mgmt, db):
    identity, enrollment = create_identity(name="laptop", identity_type="Device")

    listed = mgmt.get("/enrollments").json()
    detail = mgmt.get(f"/enrollments/{enrollment.id}").json()["data"]

    assert [row["id"] for row in listed["data"]] == [enrollment.id]
    assert (detail["method"], detail["token"], detail["identityId"]) == ("ott", enrollment.token, identity.id)
    assert detail["identity"]["name"] == "laptop"
    assert detail["jwt"].count(".") == 2


def test_refresh_gives_a_new_token_and_expiry(mgmt, db):
    _, enrollment = create_identity(name="laptop", identity_type="Device")

    wanted = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=5)

    reply = mgmt.post(f"/enrollments/{enrollment.id}/refresh", {"expiresAt": wanted.isoformat()})

    assert reply.status == 200, reply.body
    assert reply.json()["data"]["id"] == enrollment.id
    refreshed = Enrollment.objects.get(pk=enrollment.id)
    assert refreshed.token != enrollment.token
    assert refreshed.expires_at == wanted


@pytest.mark.parametrize("body", [{}, {"expiresAt": "tomorrow"}, {"expiresAt": "2001-01-01T00:00:00Z"}])
def test_a_bad_refresh_changes_nothing(mgmt, db, body):
    _, enrollment = create_identity(name="laptop", identity_type="Device")

    reply = mgmt.post(f"/enrollments/{enrollment.id}/refresh", body)

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert reply.json()["error"]["cause"]["field"] == "expiresAt"
    assert Enrollment.objects.get(pk=enrollment.id).token == enrollment.token


def test_delete_then_create_an_enrollment(mgmt, db):
    identity, enrollment = create_identity(name="laptop", identity_type="Device")

    assert mgmt.call("DELETE", f"/enrollments/{enrollment.id}").status == 200
    assert not identity.enrollments.exists()
    created = mgmt.post("/enrollments", {"method": "ott", "identityId": identity.id, "expiresAt": later()})

    assert created.status == 201, created.body
    assert identity.enrollments.get().id == created.json()["data"]["id"]
    again = mgmt.post("/enrollments", {"method": "ott", "identityId": identity.id, "expiresAt": later()})
    assert (again.status, again.error_code) == (400, "COULD_NOT_VALIDATE")  # one pending token at a time
    assert identity.enrollments.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"method": "updb", "identityId": "x", "expiresAt": "2030-01-01T00:00:00Z"}, "method"),
        ({"method": "ott", "identityId": "nope", "expiresAt": "2030-01-01T00:00:00Z"}, "identityId"),
        ({"method": "ottca", "identityId": "ID", "expiresAt": "2030-01-01T00:00:00Z"}, "caId"),
        ({"method": "ott", "identityId": "ID"}, "expiresAt"),
    ],
)
def test_a_bad_enrollment_is_refused(mgmt, db, body, field):
    identity, enrollment = create_identity(name="laptop", identity_type="Device")
    enrollment.delete()
    body = {k: (identity.id if v == "ID" else v) for k, v in body.items()}

    reply = mgmt.post("/enrollments", body)

    assert (reply.status, reply.error_code) == (400, "COULD_NOT_VALIDATE")
    assert reply.json()["error"]["cause"]["field"] == field
    assert not identity.enrollments.exists()


def test_authenticators_list_and_detail(mgmt, tmp_path):
    device = enroll_device("sensor", tmp_path)
    authenticator = device.authenticator

    listed = mgmt.get("/authenticators").json()
    detail = mgmt.get(f"/authenticators/{authenticator.pk}").json()["data"]

    assert [row["id"] for row in listed["data"]] == [str(authenticator.pk)]
    assert (detail["method"], detail["identityId"], detail["fingerprint"]) == (
        "cert",
        device.identity.id,
        authenticator.fingerprint,
    )
    assert detail["isIssuedByNetwork"] is True
    assert mgmt.get("/authenticators/nope").error_code == "NOT_FOUND"


def test_re_enroll_revokes_the_certificate_and_issues_a_token(mgmt, tmp_path):
    device = enroll_device("sensor", tmp_path)

    reply = mgmt.post(f"/authenticators/{device.authenticator.pk}/re-enroll", {"expiresAt": later()})

    assert reply.status == 201, reply.body
    assert Enrollment.objects.pending().get(identity=device.identity).id == reply.json()["data"]["id"]
    assert not Authenticator.objects.filter(identity=device.identity).exists()
    assert RevokedCertificate.objects.is_revoked(serial_of(device.certificate))


def test_request_extend_flags_the_authenticator(mgmt, tmp_path):
    device = enroll_device("sensor", tmp_path)

    reply = mgmt.post(f"/authenticators/{device.authenticator.pk}/request-extend", {"rollKeys": True})

    assert reply.status == 200
    authenticator = Authenticator.objects.get(pk=device.authenticator.pk)
    assert (authenticator.is_extend_requested, authenticator.is_key_roll_requested) == (True, True)
    detail = mgmt.get(f"/authenticators/{authenticator.pk}").json()["data"]
    assert detail["isExtendRequested"] is True


def test_delete_an_authenticator_revokes_its_certificate(mgmt, tmp_path):
    device = enroll_device("sensor", tmp_path)

    assert mgmt.call("DELETE", f"/authenticators/{device.authenticator.pk}").status == 200
    assert not Authenticator.objects.exists()
    assert RevokedCertificate.objects.is_revoked(serial_of(device.certificate))
