"""What the management API changes is in the audit trail, by the API session's account."""

from __future__ import annotations

import datetime as dt

from audit.models import Action, AuditRecord
from identities.models import Identity
from tests.lifecycle import enroll_device
from tests.management_api.conftest import ADMIN_USERNAME


def later(hours: int = 2) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def trail(*actions: Action) -> list[tuple[str, str, str, str, str]]:
    records = AuditRecord.objects.filter(action__in=actions).order_by("pk")
    return [(r.action, r.actor_kind, r.actor_name, r.channel, r.object_name) for r in records]


def test_the_api_s_changes_are_recorded_with_its_account_as_actor(mgmt, db):
    created = mgmt.post(
        "/identities", {"name": "laptop", "type": "Device", "isAdmin": False, "enrollment": {"ott": True}}
    )
    identity = Identity.objects.get(name="laptop")
    enrollment = identity.enrollments.get()

    deleted = mgmt.call("DELETE", f"/enrollments/{enrollment.id}")
    added = mgmt.post("/enrollments", {"method": "ott", "identityId": identity.id, "expiresAt": later()})
    disabled = mgmt.post(f"/identities/{identity.id}/disable", {"durationMinutes": 0})

    assert (created.status, deleted.status, added.status, disabled.status) == (201, 200, 201, 200)
    by_api = ("admin", ADMIN_USERNAME, "management-api", "laptop")
    assert trail(
        Action.IDENTITY_CREATED,
        Action.ENROLLMENT_DELETED,
        Action.ENROLLMENT_CREATED,
        Action.IDENTITY_DISABLED,
    ) == [
        (Action.IDENTITY_CREATED, *by_api),
        (Action.ENROLLMENT_DELETED, *by_api),
        (Action.ENROLLMENT_CREATED, *by_api),
        (Action.IDENTITY_DISABLED, *by_api),
    ]
    stored = str(list(AuditRecord.objects.values()))
    assert enrollment.token not in stored
    assert identity.enrollments.get().token not in stored


def test_api_logins_are_recorded_as_the_api_s(anonymous, admin, db):
    refused = anonymous.login(password="not the password")
    accepted = anonymous.login()

    assert (refused.status, accepted.status) == (401, 200)
    assert trail(Action.LOGIN_FAILED, Action.LOGIN_SUCCEEDED) == [
        (Action.LOGIN_FAILED, "anonymous", ADMIN_USERNAME, "management-api", ADMIN_USERNAME),
        (Action.LOGIN_SUCCEEDED, "admin", ADMIN_USERNAME, "management-api", ADMIN_USERNAME),
    ]


def test_a_removed_certificate_is_recorded_on_its_identity_revoked_first(mgmt, db, tmp_path):
    device = enroll_device("sensor", tmp_path)

    assert mgmt.call("DELETE", f"/authenticators/{device.authenticator.pk}").status == 200
    assert trail(Action.CERTIFICATE_REVOKED, Action.AUTHENTICATOR_DELETED) == [
        (Action.CERTIFICATE_REVOKED, "admin", ADMIN_USERNAME, "management-api", "sensor"),
        (Action.AUTHENTICATOR_DELETED, "admin", ADMIN_USERNAME, "management-api", "sensor"),
    ]
