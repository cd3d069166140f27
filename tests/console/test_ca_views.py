"""The CA console through Django's test client: access control, CSRF, the CA's JWT, and
what the pages say about certificates the services refuse."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from authorities.models import CertificateAuthority
from authorities.services import create_certificate_authority, verify_certificate_authority
from identities.models import EnrollmentMethod, Identity
from tests.helpers import TestCA, form_csrf_token, make_ca


def pem_of(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def registered_ca(
    name: str = "Fleet CA", test_ca: TestCA | None = None, **flags: bool
) -> tuple[CertificateAuthority, TestCA]:
    """A CA registered through the service, unverified, with the key that made it."""
    test_ca = test_ca or make_ca(name)
    return create_certificate_authority(name=name, certificate_pem=test_ca.pem, **flags), test_ca


def verified(ca: CertificateAuthority, test_ca: TestCA) -> CertificateAuthority:
    """Prove possession the way an admin does: CN = the token, signed by the CA's key."""
    proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
    return verify_certificate_authority(ca, pem_of(proof))


def text_of(response: object) -> str:
    """The page as a reader sees its words: entities decoded, runs of white space as one."""
    return " ".join(html.unescape(response.content.decode()).split())  # type: ignore[attr-defined]


def days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=days)


@pytest.fixture
def fleet(db: None) -> tuple[CertificateAuthority, TestCA]:
    return registered_ca()


def ca_urls(ca: CertificateAuthority) -> list[tuple[str, str]]:
    pk = ca.pk
    return [
        ("get", reverse("authorities:list")),
        ("get", reverse("authorities:create")),
        ("post", reverse("authorities:create")),
        ("get", reverse("authorities:detail", args=[pk])),
        ("post", reverse("authorities:verify", args=[pk])),
        ("get", reverse("authorities:edit", args=[pk])),
        ("post", reverse("authorities:edit", args=[pk])),
        ("get", reverse("authorities:jwt", args=[pk])),
        ("get", reverse("authorities:delete", args=[pk])),
        ("post", reverse("authorities:delete", args=[pk])),
    ]


def test_the_pages_live_under_certificate_authorities_not_the_enrollment_apis_cas(db: None) -> None:
    assert reverse("authorities:list") == "/certificate-authorities/"


class TestAccess:
    def test_every_ca_page_sends_anonymous_visitors_to_log_in(
        self, client: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        for method, url in ca_urls(ca):
            if method == "post":
                response = client.post(url, {"name": "renamed", "certificate_pem": make_ca().pem})
            else:
                response = client.get(url)
            assert response.status_code == 302, (method, url)
            assert response["Location"] == f"{reverse('login')}?next={url}", (method, url)
        ca.refresh_from_db()
        assert (ca.name, ca.is_verified) == ("Fleet CA", False)
        assert CertificateAuthority.objects.count() == 1


class TestCsrf:
    def test_posts_without_a_csrf_token_are_rejected(
        self, strict: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, test_ca = fleet
        proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
        attempts = [
            (reverse("authorities:create"), {"name": "Intruder CA", "certificate_pem": make_ca().pem}),
            (reverse("authorities:verify", args=[ca.pk]), {"certificate_pem": pem_of(proof)}),
            (reverse("authorities:edit", args=[ca.pk]), {"name": "Hijacked", "is_auth_enabled": "on"}),
            (reverse("authorities:delete", args=[ca.pk]), {}),
        ]
        for url, data in attempts:
            assert strict.post(url, data).status_code == 403, url
        ca.refresh_from_db()
        assert (ca.name, ca.is_verified, ca.is_auth_enabled) == ("Fleet CA", False, False)
        assert list(CertificateAuthority.objects.values_list("name", flat=True)) == ["Fleet CA"]

    def test_the_same_post_with_the_pages_token_goes_through(
        self, strict: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        page = strict.get(reverse("authorities:delete", args=[ca.pk]))
        token = form_csrf_token(page.content.decode())
        response = strict.post(reverse("authorities:delete", args=[ca.pk]), {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        assert not CertificateAuthority.objects.exists()


class TestJwtDownload:
    def test_a_verified_ca_with_auto_enrollment_gets_its_jwt_as_an_attachment(
        self, signed_in: Client, db: None
    ) -> None:
        ca = verified(*registered_ca("Plant CA", auto_ca_enrollment=True))
        response = signed_in.get(reverse("authorities:jwt", args=[ca.pk]))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/jwt"
        assert response["Content-Disposition"] == 'attachment; filename="Plant CA.jwt"'
        assert "no-store" in response["Cache-Control"]
        assert response.content.count(b".") == 2

    @pytest.mark.parametrize(
        ("is_verified", "auto_enrollment"), [(False, True), (False, False), (True, False)]
    )
    def test_there_is_no_jwt_unless_verified_with_auto_enrollment_on(
        self, signed_in: Client, db: None, is_verified: bool, auto_enrollment: bool
    ) -> None:
        ca, test_ca = registered_ca(auto_ca_enrollment=auto_enrollment)
        if is_verified:
            verified(ca, test_ca)
        assert signed_in.get(reverse("authorities:jwt", args=[ca.pk])).status_code == 404
        page = signed_in.get(reverse("authorities:detail", args=[ca.pk])).content.decode()
        assert reverse("authorities:jwt", args=[ca.pk]) not in page
        assert "Download JWT" not in page

    def test_turning_auto_enrollment_off_takes_the_jwt_away(self, signed_in: Client, db: None) -> None:
        ca = verified(*registered_ca(auto_ca_enrollment=True))
        url = reverse("authorities:jwt", args=[ca.pk])
        assert signed_in.get(url).status_code == 200
        signed_in.post(reverse("authorities:edit", args=[ca.pk]), {"name": ca.name})
        assert signed_in.get(url).status_code == 404

    def test_an_unknown_ca_has_no_jwt(self, signed_in: Client, db: None) -> None:
        assert signed_in.get(reverse("authorities:jwt", args=["nosuchid00"])).status_code == 404


class TestCreate:
    @pytest.mark.parametrize(
        ("certificate", "message"),
        [
            (lambda: "hello, I am not a certificate", "no certificate found in the CA certificate"),
            (
                lambda: "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
                "the CA certificate is damaged",
            ),
            (lambda: pem_of(make_ca().issue("device")[0]), "this is not a CA certificate"),
            (
                lambda: make_ca(days=2, not_before=days_ago(10)).pem,
                "the CA certificate expired on",
            ),
            (
                lambda: make_ca().pem + make_ca().pem,
                "the CA certificate must hold exactly one PEM certificate, found 2 PEM blocks",
            ),
        ],
        ids=["garbage", "bad DER", "not a CA", "expired", "two certificates"],
    )
    def test_a_certificate_the_service_refuses_is_explained_and_nothing_is_saved(
        self, signed_in: Client, db: None, certificate: object, message: str
    ) -> None:
        response = signed_in.post(
            reverse("authorities:create"),
            {"name": "Fleet CA", "certificate_pem": certificate(), "is_auth_enabled": "on"},  # type: ignore[operator]
        )
        assert response.status_code == 200
        page = text_of(response)
        assert message in page
        # Under the textarea it came from, not somewhere else.
        field = page.split('id="div_id_certificate_pem"', 1)[1].split('id="div_id_is_ott', 1)[0]
        assert message in field
        assert not CertificateAuthority.objects.exists()

    def test_a_file_upload_registers_the_ca(self, signed_in: Client, db: None) -> None:
        fleet = make_ca()
        upload = SimpleUploadedFile("fleet-ca.pem", fleet.pem.encode(), content_type="application/x-pem-file")
        response = signed_in.post(
            reverse("authorities:create"),
            {
                "name": "Fleet CA",
                "certificate_file": upload,
                "is_ott_ca_enrollment_enabled": "on",
                "identity_roles": "fleet, , sensors",
                "identity_name_format": "[caName]/[requestedName]",
            },
        )
        ca = CertificateAuthority.objects.get()
        assert response["Location"] == reverse("authorities:detail", args=[ca.pk])
        assert ca.certificate == fleet.cert
        assert (ca.is_ott_ca_enrollment_enabled, ca.is_auto_ca_enrollment_enabled, ca.is_auth_enabled) == (
            True,
            False,
            False,
        )
        assert ca.identity_roles == ["fleet", "sensors"]
        assert ca.identity_name_format == "[caName]/[requestedName]"
        assert not ca.is_verified

    def test_a_refused_upload_is_explained_under_the_file_input(self, signed_in: Client, db: None) -> None:
        device = make_ca().issue("device")[0].public_bytes(serialization.Encoding.DER)
        upload = SimpleUploadedFile("device.cer", device)
        response = signed_in.post(
            reverse("authorities:create"), {"name": "Fleet CA", "certificate_file": upload}
        )
        page = text_of(response)
        field = page.split('id="div_id_certificate_file"', 1)[1].split('id="div_id_certificate_pem"', 1)[0]
        assert "this is not a CA certificate" in field
        assert not CertificateAuthority.objects.exists()

    def test_a_der_file_registers_the_ca(self, signed_in: Client, db: None) -> None:
        fleet = make_ca()
        upload = SimpleUploadedFile("fleet-ca.cer", fleet.cert.public_bytes(serialization.Encoding.DER))
        signed_in.post(reverse("authorities:create"), {"name": "Fleet CA", "certificate_file": upload})

        assert CertificateAuthority.objects.get().certificate == fleet.cert

    @pytest.mark.parametrize(
        ("with_file", "with_text", "message"),
        [
            (True, True, "Upload a file or paste the PEM, not both."),
            (False, False, "Upload a PEM file or paste the PEM."),
        ],
    )
    def test_exactly_one_certificate_source_is_accepted(
        self, signed_in: Client, db: None, with_file: bool, with_text: bool, message: str
    ) -> None:
        fleet = make_ca()
        data: dict[str, object] = {"name": "Fleet CA"}
        if with_file:
            data["certificate_file"] = SimpleUploadedFile("fleet-ca.pem", fleet.pem.encode())
        if with_text:
            data["certificate_pem"] = fleet.pem
        response = signed_in.post(reverse("authorities:create"), data)
        assert response.status_code == 200
        assert re.search(
            rf'<div class="alert alert-danger" role="alert">\s*<p[^>]*>{re.escape(message)}',
            text_of(response),
        )
        assert not CertificateAuthority.objects.exists()

    def test_a_duplicate_certificate_or_name_is_refused(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, test_ca = fleet
        url = reverse("authorities:create")
        same_cert = signed_in.post(url, {"name": "Other CA", "certificate_pem": test_ca.pem})
        assert 'this certificate is already registered as CA "Fleet CA"' in text_of(same_cert)
        same_name = signed_in.post(url, {"name": "Fleet CA", "certificate_pem": make_ca().pem})
        page = text_of(same_name)
        field = page.split('id="div_id_name"', 1)[1].split('id="ca-certificate"', 1)[0]
        assert 'a CA named "Fleet CA" already exists' in field
        assert list(CertificateAuthority.objects.values_list("pk", flat=True)) == [ca.pk]


class TestVerify:
    @pytest.mark.parametrize(
        ("proof", "message"),
        [
            (lambda ca, key: key.issue("someone-else", client_auth=False)[0], "wrong CN"),
            (
                # The same subject name as the CA, but another key signed it.
                lambda ca, key: make_ca("Fleet CA").issue(ca.verification_token, client_auth=False)[0],
                "wrong issuer",
            ),
            (
                lambda ca, key: key.issue(ca.verification_token, days=1, not_before=days_ago(5))[0],
                "the verification certificate expired on",
            ),
            (lambda ca, key: None, "the verification certificate holds a private key"),
        ],
        ids=["wrong CN", "wrong issuer", "expired", "a private key"],
    )
    def test_a_failed_proof_is_explained_and_changes_nothing(
        self,
        signed_in: Client,
        fleet: tuple[CertificateAuthority, TestCA],
        proof: object,
        message: str,
    ) -> None:
        ca, test_ca = fleet
        cert = proof(ca, test_ca)  # type: ignore[operator]
        text = (
            pem_of(cert)
            if cert is not None
            else "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        )
        response = signed_in.post(reverse("authorities:verify", args=[ca.pk]), {"certificate_pem": text})
        assert response.status_code == 200
        page = text_of(response)
        field = page.split('id="div_id_certificate_pem"', 1)[1]
        assert message in field.split("</fieldset>", 1)[0]
        assert ca.verification_token in page  # the recipe is still there to try again
        token = ca.verification_token
        ca.refresh_from_db()
        assert (ca.is_verified, ca.verification_token) == (False, token)

    def test_the_right_proof_verifies_the_ca(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, test_ca = fleet
        proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
        upload = SimpleUploadedFile("verify.pem", pem_of(proof).encode())
        response = signed_in.post(
            reverse("authorities:verify", args=[ca.pk]), {"certificate_file": upload}, follow=True
        )
        assert response.redirect_chain == [(reverse("authorities:detail", args=[ca.pk]), 302)]
        page = text_of(response)
        assert "Verified CA Fleet CA." in page
        assert "Verification token" not in page
        ca.refresh_from_db()
        assert ca.is_verified
        assert ca.verification_token == ""

    def test_a_second_proof_for_a_verified_ca_says_so(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, test_ca = fleet
        proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
        verify_certificate_authority(ca, pem_of(proof))
        response = signed_in.post(
            reverse("authorities:verify", args=[ca.pk]), {"certificate_pem": pem_of(proof)}, follow=True
        )
        assert response.redirect_chain == [(reverse("authorities:detail", args=[ca.pk]), 302)]
        assert "this CA is already verified" in text_of(response)

    def test_verification_takes_a_post(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        assert signed_in.get(reverse("authorities:verify", args=[ca.pk])).status_code == 405


class TestEdit:
    def test_it_changes_name_flags_roles_and_name_format(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        response = signed_in.post(
            reverse("authorities:edit", args=[ca.pk]),
            {
                "name": "Fleet CA 2",
                "is_auto_ca_enrollment_enabled": "on",
                "is_auth_enabled": "on",
                "identity_roles": "fleet, sensors",
                "identity_name_format": "[caId]-[commonName]",
            },
        )
        assert response["Location"] == reverse("authorities:detail", args=[ca.pk])
        ca.refresh_from_db()
        assert ca.name == "Fleet CA 2"
        assert (ca.is_ott_ca_enrollment_enabled, ca.is_auto_ca_enrollment_enabled, ca.is_auth_enabled) == (
            False,
            True,
            True,
        )
        assert ca.identity_roles == ["fleet", "sensors"]
        assert ca.identity_name_format == "[caId]-[commonName]"

    def test_the_form_starts_from_the_cas_values_and_names_the_placeholders(
        self, signed_in: Client, db: None
    ) -> None:
        ca, _ = registered_ca(auth_enabled=True, identity_roles=["fleet", "sensors"])
        page = text_of(signed_in.get(reverse("authorities:edit", args=[ca.pk])))
        assert re.search(r'<input type="checkbox" name="is_auth_enabled"[^>]* checked', page)
        assert not re.search(
            r'<input type="checkbox" name="is_auto_ca_enrollment_enabled"[^>]* checked', page
        )
        assert 'value="fleet, sensors"' in page
        assert 'value="[caName]-[commonName]"' in page
        for placeholder in ("[caName]", "[caId]", "[commonName]", "[requestedName]", "[identityId]"):
            assert placeholder in page.split('id="div_id_identity_name_format"', 1)[1]

    def test_a_rename_to_a_taken_name_keeps_the_old_name(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        registered_ca("Plant CA")
        response = signed_in.post(
            reverse("authorities:edit", args=[ca.pk]), {"name": "Plant CA", "is_auth_enabled": "on"}
        )
        page = text_of(response)
        assert response.status_code == 200
        assert 'a CA named "Plant CA" already exists' in page
        assert re.search(r"<h1[^>]*>Edit CA Fleet CA</h1>", page)
        ca.refresh_from_db()
        assert (ca.name, ca.is_auth_enabled) == ("Fleet CA", False)

    def test_a_name_format_too_long_is_refused_under_its_field(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        response = signed_in.post(
            reverse("authorities:edit", args=[ca.pk]), {"name": "Fleet CA", "identity_name_format": "x" * 256}
        )
        assert response.status_code == 200
        field = text_of(response).split('id="div_id_identity_name_format"', 1)[1]
        assert "Ensure this value has at most 255 characters" in field
        ca.refresh_from_db()
        assert ca.identity_name_format == "[caName]-[commonName]"

    def test_an_unknown_ca_is_404(self, signed_in: Client, db: None) -> None:
        for name in ("detail", "edit", "delete"):
            assert signed_in.get(reverse(f"authorities:{name}", args=["nosuchid00"])).status_code == 404


class TestDelete:
    def test_get_only_asks_and_warns(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet
        page = text_of(signed_in.get(reverse("authorities:delete", args=[ca.pk])))
        assert "Delete CA Fleet CA?" in page
        assert "identities enrolled with certificates it issued can no longer authenticate" in page
        assert CertificateAuthority.objects.filter(pk=ca.pk).exists()

    def test_post_deletes(self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]) -> None:
        ca, _ = fleet
        response = signed_in.post(reverse("authorities:delete", args=[ca.pk]), follow=True)
        assert response.redirect_chain == [(reverse("authorities:list"), 302)]
        assert "Deleted CA Fleet CA." in text_of(response)
        assert not CertificateAuthority.objects.exists()


class TestIdentityWithCa:
    def test_only_cas_a_device_can_enroll_with_are_offered(self, signed_in: Client, db: None) -> None:
        usable = verified(*registered_ca("Fleet CA", ott_ca_enrollment=True))
        registered_ca("Unverified CA", ott_ca_enrollment=True)
        verified(*registered_ca("No OTT CA"))
        page = text_of(signed_in.get(reverse("identities:create")))
        options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', page)
        assert options == [("", "None: a certificate from the internal PKI"), (usable.pk, "Fleet CA")]

    def test_choosing_a_ca_makes_an_ottca_enrollment(self, signed_in: Client, db: None) -> None:
        ca = verified(*registered_ca(ott_ca_enrollment=True))
        response = signed_in.post(
            reverse("identities:create"), {"name": "lobby-kiosk", "identity_type": "Device", "ca": ca.pk}
        )
        identity = Identity.objects.get()
        assert response["Location"] == reverse("identities:detail", args=[identity.pk])
        enrollment = identity.enrollments.get()
        assert (enrollment.method, enrollment.ca) == (EnrollmentMethod.OTTCA, ca)

    def test_no_ca_makes_an_ott_enrollment(self, signed_in: Client, db: None) -> None:
        verified(*registered_ca(ott_ca_enrollment=True))
        signed_in.post(
            reverse("identities:create"), {"name": "lobby-kiosk", "identity_type": "Device", "ca": ""}
        )
        enrollment = Identity.objects.get().enrollments.get()
        assert (enrollment.method, enrollment.ca) == (EnrollmentMethod.OTT, None)

    def test_a_ca_that_cannot_enroll_is_refused(
        self, signed_in: Client, fleet: tuple[CertificateAuthority, TestCA]
    ) -> None:
        ca, _ = fleet  # unverified
        response = signed_in.post(
            reverse("identities:create"), {"name": "lobby-kiosk", "identity_type": "Device", "ca": ca.pk}
        )
        assert response.status_code == 200
        assert "Select a valid choice" in text_of(response)
        assert not Identity.objects.exists()
