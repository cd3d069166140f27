"""The audit trail: who did what to which object, written with the change or not at all."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse

from audit.models import Action, AuditRecord, ObjectType, Outcome
from audit.services import record
from authorities.errors import CertificateAuthorityError
from authorities.services import (
    ca_enrollment_jwt,
    create_certificate_authority,
    delete_certificate_authority,
    update_certificate_authority,
    verify_certificate_authority,
)
from identities.models import Identity
from identities.services import (
    create_identity,
    delete_identity,
    download_enrollment_jwt,
    reissue_enrollment,
    reset_enrollment,
    revoke_identity_certificate,
    set_identity_disabled,
    update_identity,
)
from kernel.actors import Actor, acting_as
from tests.helpers import csr_pem, https_request, make_ca

ALICE = Actor("admin", "alice", ref="7", address="192.0.2.7", channel="console")


def actions() -> list[str]:
    return list(AuditRecord.objects.order_by("pk").values_list("action", flat=True))


def trail_text() -> str:
    """Every column of every record, as one string to search for secrets."""
    return json.dumps(list(AuditRecord.objects.values()), default=str)


@pytest.mark.django_db
class TestRecords:
    def test_a_change_is_recorded_with_its_actor_object_and_outcome(self) -> None:
        with acting_as(ALICE):
            identity, _ = create_identity(name="kiosk", identity_type="Device", role_attributes=["lobby"])

        entry = AuditRecord.objects.get()
        assert (entry.actor_kind, entry.actor_name, entry.actor_ref, entry.actor_address, entry.channel) == (
            "admin",
            "alice",
            "7",
            "192.0.2.7",
            "console",
        )
        assert (entry.action, entry.outcome) == (Action.IDENTITY_CREATED, Outcome.SUCCEEDED)
        assert (entry.object_type, entry.object_id, entry.object_name) == ("identity", identity.pk, "kiosk")
        assert entry.detail["role_attributes"] == ["lobby"]

    def test_without_an_actor_the_record_says_system(self) -> None:
        create_identity(name="kiosk", identity_type="Device")

        entry = AuditRecord.objects.get()
        assert (entry.actor_kind, entry.actor_name, entry.actor_address) == ("system", "", "")

    def test_a_change_that_rolls_back_leaves_no_record(self) -> None:
        def create_then_fail() -> None:
            with transaction.atomic():
                create_identity(name="kiosk", identity_type="Device")
                raise RuntimeError("the caller's transaction fails after the change")

        with pytest.raises(RuntimeError):
            create_then_fail()

        assert not Identity.objects.exists()
        assert not AuditRecord.objects.exists()

    def test_a_change_whose_record_cannot_be_written_does_not_happen(self) -> None:
        # A real failure of the audit insert, from the database itself.
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_auditrecord "
                    "BEGIN SELECT RAISE(ABORT, 'audit trail unavailable'); END"
                )
            else:
                cursor.execute(
                    "CREATE FUNCTION audit_down() RETURNS trigger AS "
                    "$$ BEGIN RAISE EXCEPTION 'audit trail unavailable'; END $$ LANGUAGE plpgsql"
                )
                cursor.execute(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_auditrecord "
                    "FOR EACH ROW EXECUTE FUNCTION audit_down()"
                )
        identity, _ = (None, None)
        with pytest.raises(DatabaseError, match="audit trail unavailable"):
            identity, _ = create_identity(name="kiosk", identity_type="Device")

        assert identity is None
        assert not Identity.objects.filter(name="kiosk").exists()

    def test_a_refused_change_is_not_recorded_as_done(self) -> None:
        identity, _ = create_identity(name="kiosk", identity_type="Device")
        create_identity(name="printer", identity_type="Device")
        with pytest.raises(Exception, match="already exists"):
            update_identity(identity, name="printer", role_attributes=[])

        assert actions() == [Action.IDENTITY_CREATED, Action.IDENTITY_CREATED]

    @pytest.mark.parametrize("key", ["token", "enrollment_jwt", "private_key", "password", "csr"])
    def test_a_detail_that_names_a_secret_is_refused(self, key: str) -> None:
        with pytest.raises(ValueError, match="no secrets"):
            record(Action.IDENTITY_CREATED, ObjectType.IDENTITY, "x", detail={key: "s3cret"})
        assert not AuditRecord.objects.exists()

    def test_an_identitys_life_is_recorded_event_by_event(self) -> None:
        identity, enrollment = create_identity(name="kiosk", identity_type="Device")
        pk = identity.pk
        download_enrollment_jwt(identity)
        reissue_enrollment(identity)
        update_identity(identity, name="lobby-kiosk", role_attributes=["lobby"])
        from enrollment.services import redeem_ott

        identity.refresh_from_db()
        redeem_ott(identity.enrollments.get().token, csr_pem())
        reset_enrollment(identity)
        redeem_ott(identity.enrollments.pending().get().token, csr_pem())
        revoke_identity_certificate(identity.authenticators.get(), "keyCompromise")
        set_identity_disabled(identity, True)
        set_identity_disabled(identity, False)
        delete_identity(identity)

        assert actions() == [
            Action.IDENTITY_CREATED,
            Action.JWT_DOWNLOADED,
            Action.TOKEN_REISSUED,
            Action.IDENTITY_UPDATED,
            Action.ENROLLMENT_SUCCEEDED,
            Action.CERTIFICATE_REVOKED,
            Action.ENROLLMENT_RESET,
            Action.ENROLLMENT_SUCCEEDED,
            Action.CERTIFICATE_REVOKED,
            Action.IDENTITY_DISABLED,
            Action.IDENTITY_ENABLED,
            Action.IDENTITY_DELETED,
        ]
        assert set(AuditRecord.objects.values_list("object_id", flat=True)) == {pk}
        edit = AuditRecord.objects.get(action=Action.IDENTITY_UPDATED)
        assert edit.detail["changed"] == {
            "name": ["kiosk", "lobby-kiosk"],
            "role_attributes": [[], ["lobby"]],
        }
        revoked = AuditRecord.objects.filter(action=Action.CERTIFICATE_REVOKED).order_by("pk").last()
        assert revoked is not None
        assert revoked.detail["reason"] == "keyCompromise"
        assert enrollment.token not in trail_text()

    def test_a_cas_life_is_recorded_with_the_refused_proof(self) -> None:
        fleet = make_ca("Fleet CA")
        ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem)
        verification_token = ca.verification_token
        stranger = make_ca("Stranger")
        forged, _ = stranger.issue(ca.verification_token, client_auth=False)
        with pytest.raises(CertificateAuthorityError):
            verify_certificate_authority(ca, forged.public_bytes(Encoding.PEM))
        proof, _ = fleet.issue(ca.verification_token, client_auth=False)
        verify_certificate_authority(ca, proof.public_bytes(Encoding.PEM))
        update_certificate_authority(
            ca,
            name="Fleet",
            ott_ca_enrollment=False,
            auto_ca_enrollment=True,
            auth_enabled=True,
            identity_roles=[],
            identity_name_format=None,
        )
        token = ca_enrollment_jwt(ca)
        delete_certificate_authority(ca)

        assert actions() == [
            Action.CA_CREATED,
            Action.CA_VERIFICATION_REFUSED,
            Action.CA_VERIFIED,
            Action.CA_UPDATED,
            Action.CA_JWT_DOWNLOADED,
            Action.CA_DELETED,
        ]
        refused = AuditRecord.objects.get(action=Action.CA_VERIFICATION_REFUSED)
        assert refused.outcome == Outcome.REFUSED
        assert "wrong issuer" in refused.detail["reason"]
        changed = AuditRecord.objects.get(action=Action.CA_UPDATED).detail["changed"]
        assert changed == {"auto_ca_enrollment": [False, True], "authentication": [False, True]}
        assert token not in trail_text()
        assert verification_token not in trail_text()


@pytest.mark.django_db
class TestConsoleAndLogins:
    PASSWORD = "a long and unguessable passphrase"

    @pytest.fixture
    def alice(self) -> object:
        return get_user_model().objects.create_superuser("alice", "alice@example.com", self.PASSWORD)

    def test_a_console_change_is_the_signed_in_admins(self, client: Client, alice: object) -> None:
        identity, _ = create_identity(name="kiosk", identity_type="Device")
        client.force_login(alice)  # type: ignore[arg-type]
        client.post(reverse("identities:disable", args=[identity.pk]), REMOTE_ADDR="198.51.100.4")

        entry = AuditRecord.objects.get(action=Action.IDENTITY_DISABLED)
        assert (entry.actor_kind, entry.actor_name, entry.actor_address, entry.channel) == (
            "admin",
            "alice",
            "198.51.100.4",
            "console",
        )

    def test_logins_are_recorded_without_the_password(self, client: Client, alice: object) -> None:
        client.post(
            reverse("login"), {"username": "alice", "password": "wrong guess"}, REMOTE_ADDR="192.0.2.9"
        )
        client.post(
            reverse("login"), {"username": "alice", "password": self.PASSWORD}, REMOTE_ADDR="192.0.2.9"
        )

        failed, succeeded = AuditRecord.objects.order_by("pk")
        assert (failed.action, failed.outcome, failed.actor_name, failed.actor_address) == (
            Action.LOGIN_FAILED,
            Outcome.REFUSED,
            "alice",
            "192.0.2.9",
        )
        assert (succeeded.action, succeeded.actor_kind, succeeded.object_name) == (
            Action.LOGIN_SUCCEEDED,
            "admin",
            "alice",
        )
        assert "wrong guess" not in trail_text()
        assert self.PASSWORD not in trail_text()

    def test_a_downloaded_jwt_is_recorded_but_not_kept(self, client: Client, alice: object) -> None:
        identity, _ = create_identity(name="kiosk", identity_type="Device")
        client.force_login(alice)  # type: ignore[arg-type]
        token = client.get(reverse("identities:jwt", args=[identity.pk])).content.decode()

        assert AuditRecord.objects.filter(action=Action.JWT_DOWNLOADED, actor_name="alice").count() == 1
        assert token not in trail_text()

    def test_no_jwt_to_hand_out_records_nothing(self, client: Client, alice: object) -> None:
        identity, _ = create_identity(name="kiosk", identity_type="Device")
        set_identity_disabled(identity, True)
        client.force_login(alice)  # type: ignore[arg-type]
        assert client.get(reverse("identities:jwt", args=[identity.pk])).status_code == 404
        assert not AuditRecord.objects.filter(action=Action.JWT_DOWNLOADED).exists()


@pytest.mark.django_db
class TestCommands:
    def test_a_command_is_the_actor_of_its_changes(self) -> None:
        call_command("create_identity", "device", "kiosk", stdout=StringIO(), stderr=StringIO())

        entry = AuditRecord.objects.get()
        assert (entry.actor_kind, entry.actor_name, entry.channel) == ("command", "create_identity", "cli")

    def test_the_trail_exports_as_json_lines_within_the_period(self, time_machine: object) -> None:
        time_machine.move_to("2026-03-01T10:00:00Z", tick=False)  # type: ignore[attr-defined]
        create_identity(name="early", identity_type="Device")
        time_machine.move_to("2026-03-02T10:00:00Z", tick=False)  # type: ignore[attr-defined]
        create_identity(name="in-period", identity_type="Device")
        time_machine.move_to("2026-03-03T10:00:00Z", tick=False)  # type: ignore[attr-defined]
        out = StringIO()
        call_command(
            "export_audit", "--since", "2026-03-02", "--until", "2026-03-03", stdout=out, stderr=StringIO()
        )

        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [line["object"]["name"] for line in lines] == ["in-period"]
        assert lines[0]["action"] == "identity.created"
        assert lines[0]["at"] == "2026-03-02T10:00:00+00:00"
        assert lines[0]["actor"] == {"kind": "system", "name": "", "id": "", "address": "", "channel": ""}
        exported = AuditRecord.objects.get(action=Action.TRAIL_EXPORTED)
        assert (exported.actor_name, exported.detail["since"]) == (
            "export_audit",
            "2026-03-02T00:00:00+00:00",
        )

    def test_the_export_writes_to_a_file(self, tmp_path: object) -> None:
        create_identity(name="kiosk", identity_type="Device")
        target = tmp_path / "trail.jsonl"  # type: ignore[operator]
        call_command("export_audit", "--output", str(target), stdout=StringIO(), stderr=StringIO())
        assert [json.loads(line)["object"]["name"] for line in target.read_text().splitlines()] == ["kiosk"]

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--since", "yesterday"], "not a date"),
            (["--since", "2026-03-02", "--until", "2026-03-01"], "before its end"),
        ],
    )
    def test_a_bad_period_is_refused_in_a_sentence(self, args: list[str], message: str) -> None:
        with pytest.raises(CommandError, match=message):
            call_command("export_audit", *args, stdout=StringIO(), stderr=StringIO())
        assert not AuditRecord.objects.exists()


def enroll(controller: object, token: str, body: str) -> object:
    return https_request(
        controller.url,  # type: ignore[attr-defined]
        "POST",
        f"/enroll?method=ott&token={token}",
        context=controller.ssl_context(),  # type: ignore[attr-defined]
        body=body,
        headers={"Content-Type": "text/plain"},
    )


class TestDevices:
    def test_an_enrollment_is_the_devices_with_its_identity_and_address(self, controller: object) -> None:
        identity, enrollment = create_identity(name="kiosk", identity_type="Device")
        assert enroll(controller, enrollment.token, csr_pem()).status == 200  # type: ignore[attr-defined]

        entry = AuditRecord.objects.get(action=Action.ENROLLMENT_SUCCEEDED)
        assert (entry.actor_kind, entry.actor_name, entry.actor_ref, entry.actor_address, entry.channel) == (
            "identity",
            "kiosk",
            identity.pk,
            "127.0.0.1",
            "client-api",
        )
        assert entry.detail["method"] == "ott"
        assert enrollment.token not in trail_text()

    def test_a_refused_enrollment_is_recorded_with_the_wire_code(self, controller: object) -> None:
        identity, enrollment = create_identity(name="kiosk", identity_type="Device")
        assert enroll(controller, enrollment.token, "not a CSR").status == 400  # type: ignore[attr-defined]
        assert enroll(controller, "no-such-token", csr_pem()).status == 400  # type: ignore[attr-defined]

        bad_csr, unknown = AuditRecord.objects.filter(action=Action.ENROLLMENT_REFUSED).order_by("pk")
        assert (bad_csr.outcome, bad_csr.object_id, bad_csr.detail["code"]) == (
            Outcome.REFUSED,
            identity.pk,
            "COULD_NOT_PROCESS_CSR",
        )
        assert (bad_csr.actor_kind, bad_csr.actor_address) == ("device", "127.0.0.1")
        assert (unknown.object_id, unknown.detail["code"]) == ("", "INVALID_ENROLLMENT_TOKEN")
        assert "no-such-token" not in trail_text()
        assert enrollment.token not in trail_text()


@pytest.mark.django_db
class TestCertificatesAndAutoEnrollment:
    def test_a_renewal_is_recorded_when_asked_for_and_when_taken_up(self) -> None:
        from authorities.pki import issue_identity_certificate
        from enrollment.services import redeem_ott
        from identities.services import complete_extension, hold_extension, request_certificate_extension
        from tests.helpers import ec_key

        identity, enrollment = create_identity(name="kiosk", identity_type="Device")
        redeem_ott(enrollment.token, csr_pem())
        authenticator = identity.authenticators.get()
        old_serial = authenticator.serial
        request_certificate_extension(authenticator, roll_keys=True)
        renewed = issue_identity_certificate(ec_key().public_key(), identity.pk)
        hold_extension(authenticator, renewed)
        complete_extension(authenticator, renewed)

        requested = AuditRecord.objects.get(action=Action.RENEWAL_REQUESTED)
        assert requested.detail == {"serial": old_serial, "roll_keys": True}
        renewal = AuditRecord.objects.get(action=Action.CERTIFICATE_RENEWED)
        assert renewal.detail["previous_serial"] == old_serial
        assert renewal.detail["serial"] == format(renewed.serial_number, "x")
        assert renewal.detail["rekeyed"] is True
        # The renewal's own record names the certificate it revoked (superseded).
        assert not AuditRecord.objects.filter(action=Action.CERTIFICATE_REVOKED).exists()

    def test_an_auto_enrollment_records_the_new_identity_and_its_ca(self) -> None:
        from enrollment.services import enroll_with_ca

        fleet = make_ca("Fleet CA")
        ca = create_certificate_authority(name="Fleet", certificate_pem=fleet.pem, auto_ca_enrollment=True)
        proof, _ = fleet.issue(ca.verification_token, client_auth=False)
        verify_certificate_authority(ca, proof.public_bytes(Encoding.PEM))
        certificate, _ = fleet.issue("sensor-7")
        with acting_as(Actor("device", "", address="203.0.113.5", channel="client-api")):
            identity = enroll_with_ca(certificate, None)

        entry = AuditRecord.objects.get(action=Action.ENROLLMENT_SUCCEEDED)
        assert (entry.object_id, entry.object_name) == (identity.pk, "Fleet-sensor-7")
        assert (entry.actor_kind, entry.actor_address, entry.detail["method"], entry.detail["ca"]) == (
            "device",
            "203.0.113.5",
            "ca",
            "Fleet",
        )


@pytest.mark.django_db
class TestRefusalBudget:
    def refuse(self, address: str) -> None:
        from enrollment.errors import InvalidEnrollmentToken
        from enrollment.services import refusals_recorded
        from kernel.actors import Actor, acting_as

        device = Actor("device", "", address=address, channel="client-api")
        with (
            acting_as(device),
            pytest.raises(InvalidEnrollmentToken),
            refusals_recorded("ott", "no-such-token"),
        ):
            raise InvalidEnrollmentToken()

    def test_a_flood_of_refusals_from_one_address_is_counted_not_stored(self, time_machine: object) -> None:
        from audit.services import REFUSAL_WINDOW_S, REFUSALS_PER_WINDOW

        time_machine.move_to("2026-03-01T10:00:00Z", tick=False)  # type: ignore[attr-defined]
        for _ in range(REFUSALS_PER_WINDOW + 5):
            self.refuse("192.0.2.7")
        self.refuse("198.51.100.1")  # another address has its own budget

        refused = AuditRecord.objects.filter(action=Action.ENROLLMENT_REFUSED)
        assert refused.filter(actor_address="192.0.2.7").count() == REFUSALS_PER_WINDOW
        assert refused.filter(actor_address="198.51.100.1").count() == 1

        time_machine.shift(REFUSAL_WINDOW_S)  # type: ignore[attr-defined]
        self.refuse("192.0.2.7")
        latest = refused.filter(actor_address="192.0.2.7").latest("pk")
        assert latest.detail["left_out"] == 5
        assert "left_out" not in refused.filter(actor_address="198.51.100.1").get().detail
