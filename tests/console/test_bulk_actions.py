"""Bulk actions on the selected rows of the identity list: confirm, then act, audited."""

from __future__ import annotations

import io
import zipfile

import jwt
import pytest
from django.test import Client
from django.urls import reverse

from audit.models import Action, AuditRecord
from identities.models import Identity
from identities.services import set_identity_disabled
from tests.console.conftest import IdentityFactory
from tests.helpers import form_csrf_token

BULK = reverse("identities:bulk")


@pytest.fixture
def three(make_identity: IdentityFactory) -> list[Identity]:
    return [make_identity("kiosk-1"), make_identity("kiosk-2"), make_identity("printer", state="enrolled")]


def ids(identities: list[Identity]) -> list[str]:
    return [identity.pk for identity in identities]


class TestConfirmation:
    @pytest.mark.parametrize(
        ("action", "heading"),
        [
            ("disable", "Disable 3 identities?"),
            ("enable", "Enable 3 identities?"),
            ("delete", "Delete 3 identities?"),
            ("jwts", "Download the JWTs of 3 identities?"),
        ],
    )
    def test_an_action_first_names_how_many_and_changes_nothing(
        self, signed_in: Client, three: list[Identity], action: str, heading: str
    ) -> None:
        recorded = AuditRecord.objects.count()
        response = signed_in.post(BULK, {"action": action, "ids": ids(three)})

        assert response.status_code == 200
        html = response.content.decode()
        assert heading in html
        assert all(f"<li>{i.name}</li>" in html for i in three)
        assert Identity.objects.filter(is_disabled=False).count() == 3
        assert AuditRecord.objects.count() == recorded

    def test_the_jwt_confirmation_says_which_have_no_token(
        self, signed_in: Client, three: list[Identity]
    ) -> None:
        html = signed_in.post(BULK, {"action": "jwts", "ids": ids(three)}).content.decode()
        assert "1 of them has no token to hand out" in html
        assert "Download 2 JWTs" in html

    def test_a_long_selection_is_counted_and_cut_short(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        many = [make_identity(f"node-{n:02}") for n in range(25)]
        html = signed_in.post(BULK, {"action": "disable", "ids": ids(many)}).content.decode()
        assert "Disable 25 identities?" in html
        assert "and 5 more" in html


class TestActions:
    def confirm(self, client: Client, action: str, identities: list[Identity], **extra: str) -> object:
        return client.post(BULK, {"action": action, "ids": ids(identities), "confirmed": "True", **extra})

    def test_disable_then_enable_each_through_the_service_audited(
        self, signed_in: Client, three: list[Identity]
    ) -> None:
        response = self.confirm(signed_in, "disable", three[:2])
        assert response["Location"] == reverse("identities:list")  # type: ignore[index]
        assert sorted(Identity.objects.filter(is_disabled=True).values_list("name", flat=True)) == [
            "kiosk-1",
            "kiosk-2",
        ]
        records = AuditRecord.objects.filter(action=Action.IDENTITY_DISABLED)
        assert sorted(records.values_list("object_name", flat=True)) == ["kiosk-1", "kiosk-2"]
        assert set(records.values_list("actor_name", "channel")) == {("admin", "console")}

        self.confirm(signed_in, "enable", three[:2])
        assert not Identity.objects.filter(is_disabled=True).exists()
        assert AuditRecord.objects.filter(action=Action.IDENTITY_ENABLED).count() == 2

    def test_delete_removes_them_and_records_each(self, signed_in: Client, three: list[Identity]) -> None:
        self.confirm(signed_in, "delete", three)
        assert not Identity.objects.exists()
        assert AuditRecord.objects.filter(action=Action.IDENTITY_DELETED).count() == 3
        assert "Deleted 3 identities." in signed_in.get(reverse("identities:list")).content.decode()

    def test_download_gives_one_zip_of_the_pending_jwts(
        self, signed_in: Client, three: list[Identity], pki: object
    ) -> None:
        response = self.confirm(signed_in, "jwts", three)

        assert response["Content-Type"] == "application/zip"  # type: ignore[index]
        assert response["Content-Disposition"].startswith('attachment; filename="enrollment-jwts-')  # type: ignore[index]
        assert "no-store" in response["Cache-Control"]  # type: ignore[index]
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined,arg-type]
        assert sorted(archive.namelist()) == ["kiosk-1.jwt", "kiosk-2.jwt"]
        claims = jwt.decode(
            archive.read("kiosk-1.jwt").decode().strip(),
            pki.server_cert.public_key(),  # type: ignore[attr-defined]
            algorithms=["RS256"],
            options={"verify_aud": False},
        )
        assert claims["sub"] == three[0].pk
        assert AuditRecord.objects.filter(action=Action.JWT_DOWNLOADED).count() == 2

    def test_a_name_cannot_climb_out_of_the_zip(
        self, signed_in: Client, make_identity: IdentityFactory
    ) -> None:
        sneaky = make_identity("../../etc/cron.d/x")
        response = self.confirm(signed_in, "jwts", [sneaky])
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined,arg-type]
        assert archive.namelist() == ["_.._etc_cron.d_x.jwt"]

    def test_a_disabled_identity_hands_out_no_jwt(self, signed_in: Client, three: list[Identity]) -> None:
        set_identity_disabled(three[0], True)
        response = self.confirm(signed_in, "jwts", three[:2])
        archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined,arg-type]
        assert archive.namelist() == ["kiosk-2.jwt"]

    def test_it_goes_back_to_the_list_with_its_filters(
        self, signed_in: Client, three: list[Identity]
    ) -> None:
        back = "/identities/?q=kiosk&sort=-name"
        response = self.confirm(signed_in, "disable", three[:1], next=back)
        assert response["Location"] == back  # type: ignore[index]

    @pytest.mark.parametrize("elsewhere", ["https://evil.example/identities/", "//evil.example/", "/audit/"])
    def test_it_never_goes_back_elsewhere(
        self, signed_in: Client, three: list[Identity], elsewhere: str
    ) -> None:
        response = self.confirm(signed_in, "disable", three[:1], next=elsewhere)
        assert response["Location"] == reverse("identities:list")  # type: ignore[index]


class TestBadRequests:
    @pytest.mark.parametrize(
        "data",
        [
            {"action": "disable"},
            {"action": "disable", "ids": [""]},
            {"action": "explode", "ids": ["abc"]},
            {"action": "disable", "ids": ["../etc"]},
            {"action": "disable", "ids": [f"id{n}" for n in range(501)]},
            {},
        ],
    )
    def test_a_bad_selection_changes_nothing_and_says_why(
        self, signed_in: Client, three: list[Identity], data: dict[str, object]
    ) -> None:
        response = signed_in.post(BULK, {**data, "confirmed": "True"})
        assert response.status_code == 302
        assert "Nothing was changed" in signed_in.get(reverse("identities:list")).content.decode()
        assert not Identity.objects.filter(is_disabled=True).exists()

    def test_identities_gone_meanwhile_change_nothing(self, signed_in: Client, db: None) -> None:
        response = signed_in.post(BULK, {"action": "delete", "ids": ["gone1", "gone2"], "confirmed": "True"})
        assert response.status_code == 302
        assert "no longer exist" in signed_in.get(reverse("identities:list")).content.decode()

    def test_get_is_not_allowed(self, signed_in: Client, db: None) -> None:
        assert signed_in.get(BULK).status_code == 405

    def test_it_needs_a_login(self, client: Client, three: list[Identity]) -> None:
        response = client.post(BULK, {"action": "delete", "ids": ids(three), "confirmed": "True"})
        assert response.status_code == 302
        assert Identity.objects.count() == 3

    def test_it_needs_the_csrf_token(self, strict: Client, three: list[Identity]) -> None:
        data = {"action": "delete", "ids": ids(three), "confirmed": "True"}
        assert strict.post(BULK, data).status_code == 403
        assert Identity.objects.count() == 3
        token = form_csrf_token(strict.get(reverse("identities:list")).content.decode())
        assert strict.post(BULK, {**data, "csrfmiddlewaretoken": token}).status_code == 302
        assert not Identity.objects.exists()
