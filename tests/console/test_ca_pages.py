"""Adding, verifying, editing and deleting third-party CAs in a real browser, and handing
out their JWTs."""

from __future__ import annotations

import re
from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Locator, Page, expect

from authorities.models import CertificateAuthority
from authorities.pki import ControllerPKI
from authorities.services import verification_recipe
from identities.models import Identity
from tests.conftest import LiveController
from tests.console.test_ca_views import pem_of, registered_ca, verified
from tests.console.test_jwt_download import download_jwt
from tests.helpers import make_ca

pytestmark = pytest.mark.browser

# "Name*" (required), and not "Identity name format".
NAME = re.compile(r"^\s*Name\b")


def add_ca(page: Page, name: str, *, pem: str | None = None, pem_file: Path | None = None) -> None:
    page.goto("/certificate-authorities/new/")
    page.get_by_label(NAME).fill(name)
    if pem is not None:
        page.get_by_label("Or paste the PEM").fill(pem)
    if pem_file is not None:
        page.get_by_label("Certificate file").set_input_files(pem_file)
    page.get_by_role("button", name="Add CA").click()


def verification_field(page: Page) -> Locator:
    return page.get_by_role("region", name="Verification").locator("#div_id_certificate_pem")


def paste_proof(page: Page, pem: str) -> None:
    page.get_by_role("region", name="Verification").get_by_label("Or paste the PEM").fill(pem)
    page.get_by_role("button", name="Verify CA").click()


def assert_is_ca_jwt(
    token: str, ca: CertificateAuthority, pki: ControllerPKI, controller: LiveController
) -> None:
    # As a device checks it: algorithm and key pinned, never taken from the header.
    claims = jwt.decode(
        token,
        key=pki.server_cert.public_key(),
        algorithms=["RS256"],
        issuer=controller.url,
        options={"require": ["iss", "sub", "jti", "em"]},
    )
    assert claims["em"] == "ca"
    assert claims["sub"] == ca.pk


def test_a_pasted_ca_is_verified_and_then_hands_out_its_jwt(
    console: Page, controller: LiveController, pki: ControllerPKI
) -> None:
    fleet = make_ca("Fleet CA")
    console.get_by_role("navigation", name="Main").get_by_role("link", name="Certificate Authorities").click()
    expect(console.get_by_role("heading", name="No certificate authorities yet")).to_be_visible()
    console.get_by_role("link", name="New CA").click()
    expect(console).to_have_title("New certificate authority · Ziti Controller")
    console.get_by_label(NAME).fill("Fleet CA")
    console.get_by_label("Or paste the PEM").fill(fleet.pem)
    console.get_by_label("OTT CA enrollment").check()
    console.get_by_role("button", name="Add CA").click()

    ca = CertificateAuthority.objects.get(name="Fleet CA")
    expect(console).to_have_url(f"{controller.url}/certificate-authorities/{ca.pk}/")
    expect(console.get_by_role("status")).to_contain_text("Added CA Fleet CA")
    expect(console.get_by_role("heading", name="Fleet CA", exact=True)).to_be_visible()
    expect(console.get_by_text("Unverified", exact=True)).to_be_visible()
    verification = console.get_by_role("region", name="Verification")
    expect(verification.locator("#verification-token")).to_have_text(ca.verification_token)
    for line in verification_recipe(ca):
        expect(verification.locator("pre")).to_contain_text(line)
    expect(console.get_by_role("link", name="Download JWT")).to_have_count(0)

    # A certificate signed by the CA, but for another CN.
    paste_proof(console, pem_of(fleet.issue("not-the-token", client_auth=False)[0]))
    expect(verification_field(console)).to_contain_text(
        "wrong CN: the verification certificate's CN is not-the-token, expected the verification token"
    )
    # The right CN under a CA of the same name, but signed by another key.
    impostor = make_ca("Fleet CA")
    paste_proof(console, pem_of(impostor.issue(ca.verification_token, client_auth=False)[0]))
    expect(verification_field(console)).to_contain_text(
        "wrong issuer: the verification certificate is not signed by this CA's key"
    )
    ca.refresh_from_db()
    assert not ca.is_verified

    paste_proof(console, pem_of(fleet.issue(ca.verification_token, client_auth=False)[0]))
    expect(console.get_by_role("status")).to_contain_text("Verified CA Fleet CA")
    expect(console).to_have_url(f"{controller.url}/certificate-authorities/{ca.pk}/")
    expect(console.get_by_text("Verified", exact=True)).to_be_visible()
    expect(console.get_by_role("region", name="Verification")).to_have_count(0)
    # Verified, but auto enrollment is still off: no JWT yet.
    expect(console.get_by_role("link", name="Download JWT")).to_have_count(0)
    ca.refresh_from_db()
    assert ca.is_verified

    console.get_by_role("link", name="Edit", exact=True).click()
    expect(console.get_by_label("OTT CA enrollment")).to_be_checked()
    console.get_by_label("Auto enrollment").check()
    console.get_by_role("button", name="Save changes").click()
    expect(console.get_by_role("status")).to_contain_text("Saved CA Fleet CA")

    link = console.get_by_role("link", name="Download JWT")
    expect(link.locator("i.bi")).to_have_class("bi bi-patch-check")
    name, token = download_jwt(console)
    assert name == "Fleet CA.jwt"
    assert_is_ca_jwt(token, ca, pki, controller)

    # The list offers the same JWT through the certificate icon in the CA's row.
    console.get_by_role("link", name="Certificate Authorities", exact=True).first.click()
    row = console.get_by_role("row").filter(has=console.get_by_role("link", name="Fleet CA"))
    expect(row.get_by_role("cell")).to_have_text(
        [
            "Fleet CA",
            "Verified",
            re.compile(r"[0-9a-f]{40}"),
            re.compile(r"\d{4}-\d\d-\d\d"),
            "OTT CA enrollment Auto enrollment",
            re.compile(r"\bago\b|^now$"),
            "",
        ]
    )
    name, token = download_jwt(console, "Fleet CA")
    assert name == "Fleet CA.jwt"
    assert_is_ca_jwt(token, ca, pki, controller)


def test_a_ca_uploaded_as_a_file_is_verified_with_a_file(
    console: Page, controller: LiveController, tmp_path: Path
) -> None:
    plant = make_ca("Plant Root")
    ca_file = tmp_path / "plant-ca.pem"
    ca_file.write_text(plant.pem)
    add_ca(console, "Plant CA", pem_file=ca_file)

    ca = CertificateAuthority.objects.get(name="Plant CA")
    assert ca.certificate == plant.cert
    expect(console.get_by_role("status")).to_contain_text("Added CA Plant CA")
    certificate = console.get_by_role("region", name="CA certificate")
    expect(certificate.get_by_role("definition")).to_have_text(
        [
            ca.fingerprint,
            "CN=Plant Root",
            "CN=Plant Root",
            format(plant.cert.serial_number, "x"),
            re.compile(r"\b2\d{3}, .* UTC\b"),
            re.compile(r"\b2\d{3}, .* UTC\b"),
        ]
    )
    times = certificate.locator("time")
    expect(times.nth(0)).to_have_attribute("datetime", plant.cert.not_valid_before_utc.isoformat())
    expect(times.nth(1)).to_have_attribute("datetime", plant.cert.not_valid_after_utc.isoformat())
    expect(console.get_by_role("region", name="Verification")).to_contain_text(ca.verification_token)

    proof_file = tmp_path / "verify.pem"
    proof_file.write_text(pem_of(plant.issue(ca.verification_token, client_auth=False)[0]))
    console.get_by_role("region", name="Verification").get_by_label("Certificate file").set_input_files(
        proof_file
    )
    console.get_by_role("button", name="Verify CA").click()
    expect(console.get_by_role("status")).to_contain_text("Verified CA Plant CA")
    ca.refresh_from_db()
    assert ca.is_verified


def test_a_certificate_that_is_no_ca_is_refused(console: Page) -> None:
    leaf, _ = make_ca().issue("device-1")
    add_ca(console, "Fleet CA", pem=pem_of(leaf))

    pasted = console.get_by_label("Or paste the PEM")
    expect(pasted).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(console.locator("#div_id_certificate_pem")).to_contain_text(
        "this is not a CA certificate: its basic constraints do not say CA:TRUE"
    )
    expect(console.get_by_label(NAME)).to_have_value("Fleet CA")
    assert not CertificateAuthority.objects.exists()


def test_a_certificate_registered_already_is_refused(console: Page) -> None:
    _, fleet = registered_ca("Fleet CA")
    add_ca(console, "Fleet CA again", pem=fleet.pem)

    expect(console.locator("#div_id_certificate_pem")).to_contain_text(
        'this certificate is already registered as CA "Fleet CA"'
    )
    assert list(CertificateAuthority.objects.values_list("name", flat=True)) == ["Fleet CA"]


def test_garbage_and_two_sources_are_explained(console: Page, tmp_path: Path) -> None:
    add_ca(console, "Fleet CA", pem="hello")
    expect(console.locator("#div_id_certificate_pem")).to_contain_text(
        "no certificate found in the CA certificate"
    )
    both = tmp_path / "fleet.pem"
    both.write_text(make_ca().pem)
    add_ca(console, "Fleet CA", pem=make_ca().pem, pem_file=both)
    expect(console.get_by_role("alert")).to_have_text("Upload a file or paste the PEM, not both.")
    assert not CertificateAuthority.objects.exists()


def test_the_recipe_copies_to_the_clipboard(console: Page, controller: LiveController) -> None:
    ca, _ = registered_ca()
    console.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=controller.url)
    console.goto(f"/certificate-authorities/{ca.pk}/")

    console.get_by_role("button", name="Copy").click()
    expect(console.get_by_text("Copied.")).to_be_visible()
    assert console.evaluate("navigator.clipboard.readText()") == "\n".join(verification_recipe(ca))


def test_without_a_clipboard_the_copy_button_says_so_without_an_error(console: Page) -> None:
    ca, _ = registered_ca()
    # As in browsers that keep the Clipboard API from the page.
    console.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    console.goto(f"/certificate-authorities/{ca.pk}/")

    console.get_by_role("button", name="Copy").click()
    expect(console.get_by_text("Could not copy")).to_be_visible()
    # The recipe is selected instead, ready for the keyboard.
    assert console.evaluate("window.getSelection().toString()").startswith("openssl req")


def test_delete_asks_for_confirmation_first(console: Page, controller: LiveController) -> None:
    ca, _ = registered_ca("Fleet CA")
    registered_ca("Plant CA")
    console.goto(f"/certificate-authorities/{ca.pk}/")

    console.get_by_role("link", name="Delete").click()
    expect(console.get_by_role("heading", name="Delete CA Fleet CA?")).to_be_visible()
    expect(console.get_by_role("main")).to_contain_text(
        "identities enrolled with certificates it issued can no longer authenticate"
    )
    assert CertificateAuthority.objects.filter(pk=ca.pk).exists()

    console.get_by_role("link", name="Cancel").click()
    expect(console).to_have_url(f"{controller.url}/certificate-authorities/{ca.pk}/")
    console.get_by_role("link", name="Delete").click()
    console.get_by_role("button", name="Delete CA").click()

    expect(console).to_have_url(f"{controller.url}/certificate-authorities/")
    expect(console.get_by_role("status")).to_contain_text("Deleted CA Fleet CA")
    expect(console.get_by_role("link", name="Fleet CA")).to_have_count(0)
    expect(console.get_by_role("link", name="Plant CA")).to_be_visible()
    assert not CertificateAuthority.objects.filter(pk=ca.pk).exists()


def test_an_identity_created_with_a_ca_gets_an_ottca_jwt(
    console: Page, controller: LiveController, pki: ControllerPKI
) -> None:
    verified(*registered_ca("Fleet CA", ott_ca_enrollment=True))
    console.get_by_role("link", name="New identity").click()
    console.get_by_label("Name").fill("lobby-kiosk")
    console.get_by_label("Certificate authority").select_option(label="Fleet CA")
    console.get_by_role("button", name="Create identity").click()

    identity = Identity.objects.get(name="lobby-kiosk")
    expect(console).to_have_url(f"{controller.url}/identities/{identity.pk}/")
    expect(console.get_by_role("region", name="Enrollment").get_by_role("cell").first).to_have_text(
        re.compile(r"One-time token with third-party CA\s+Fleet CA")
    )
    name, token = download_jwt(console)
    assert name == "lobby-kiosk.jwt"
    claims = jwt.decode(token, key=pki.server_cert.public_key(), algorithms=["RS256"], issuer=controller.url)
    assert (claims["em"], claims["sub"], claims["jti"]) == (
        "ottca",
        identity.pk,
        identity.enrollments.get().token,
    )
