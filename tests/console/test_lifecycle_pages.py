"""Reissue, reset, revoke, renewal requests, the QR code and expiry on the console."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from authorities.models import RevokedCertificate
from identities.models import Authenticator, Enrollment
from identities.services import set_identity_disabled
from tests.conftest import LiveController
from tests.console.conftest import IdentityFactory


@pytest.mark.browser
def test_an_expired_token_is_reissued_from_the_identity_page(
    console: Page, controller: LiveController, make_identity: IdentityFactory
) -> None:
    identity = make_identity("kiosk", state="expired")
    old_token = identity.enrollments.get().token
    console.goto(f"/identities/{identity.pk}/")
    expect(console.get_by_role("link", name="Download JWT")).to_have_count(0)
    expect(console.locator("svg.jwt-qr")).to_have_count(0)  # no QR code for an expired token

    console.get_by_label("New token valid for (hours)").fill("6")
    console.get_by_role("button", name="Reissue token").click()

    expect(console.get_by_role("status")).to_contain_text("Issued a new enrollment token for kiosk")
    enrollment = Enrollment.objects.get()
    assert enrollment.token != old_token
    assert abs(enrollment.expires_at - (timezone.now() + dt.timedelta(hours=6))) < dt.timedelta(minutes=2)
    expect(console.get_by_role("link", name="Download JWT")).to_be_visible()
    qr = console.locator("svg.jwt-qr")
    expect(qr).to_be_visible()
    # Drawn on the server: no script from elsewhere (the only one is our own Bootstrap).
    sources = console.locator("script[src]").evaluate_all("s => s.map(e => e.getAttribute('src'))")
    assert all(src.startswith("/static/") for src in sources)


@pytest.mark.browser
def test_reset_asks_for_confirmation_then_revokes_and_issues_a_token(
    console: Page, controller: LiveController, make_identity: IdentityFactory
) -> None:
    identity = make_identity("laptop", state="enrolled", role_attributes=("sales",))
    serial = identity.authenticators.get().serial
    console.goto(f"/identities/{identity.pk}/")
    expect(console.get_by_text(re.compile(r"\d+ days? left"))).to_be_visible()

    console.get_by_role("link", name="Reset enrollment").click()
    expect(console.get_by_role("heading", name="Reset the enrollment of laptop?")).to_be_visible()
    assert not RevokedCertificate.objects.exists()  # nothing happens before the confirmation
    console.get_by_role("button", name="Reset enrollment").click()

    expect(console.get_by_role("status")).to_contain_text("Reset the enrollment of laptop")
    assert RevokedCertificate.objects.get().serial == serial
    assert not Authenticator.objects.exists()
    identity.refresh_from_db()
    assert identity.role_attributes == ["sales"]
    expect(console.get_by_role("link", name="Download JWT")).to_be_visible()


@pytest.mark.browser
def test_a_certificate_is_revoked_from_the_identity_page_with_a_reason(
    console: Page, controller: LiveController, make_identity: IdentityFactory
) -> None:
    identity = make_identity("laptop", state="enrolled")
    console.goto(f"/identities/{identity.pk}/")

    console.get_by_label("Reason").select_option("keyCompromise")
    console.get_by_role("button", name="Revoke").click()

    expect(console.get_by_role("status")).to_contain_text("Revoked the certificate with serial")
    assert RevokedCertificate.objects.get().reason == "keyCompromise"
    expect(console.get_by_text("Revoked", exact=True)).to_be_visible()
    expect(console.get_by_role("button", name="Revoke")).to_have_count(0)


# Without a browser: what the pages answer.


def test_a_disabled_identitys_jwt_is_not_offered(signed_in, make_identity: IdentityFactory) -> None:
    identity = make_identity("kiosk")
    set_identity_disabled(identity, True)

    page = signed_in.get(f"/identities/{identity.pk}/").content.decode()
    listing = signed_in.get("/identities/").content.decode()

    assert "Download JWT" not in page
    assert "jwt-qr" not in page
    assert 'aria-label="Download JWT"' not in listing
    assert signed_in.get(f"/identities/{identity.pk}/jwt/").status_code == 404


def test_the_qr_code_is_inline_svg_of_the_jwt(signed_in, make_identity: IdentityFactory) -> None:
    identity = make_identity("kiosk")

    page = signed_in.get(f"/identities/{identity.pk}/").content.decode()

    assert re.search(r'<svg [^>]*class="jwt-qr"', page)
    assert "<path" in page
    assert "cdn" not in page.lower()


def test_a_used_token_has_no_qr_code(signed_in, make_identity: IdentityFactory) -> None:
    identity = make_identity("kiosk", state="enrolled")

    page = signed_in.get(f"/identities/{identity.pk}/").content.decode()

    assert "jwt-qr" not in page
    assert "Reissue token" not in page  # enrolled: reset, not reissue


def test_reissue_of_an_enrolled_identity_is_refused_in_words(
    signed_in, make_identity: IdentityFactory
) -> None:
    identity = make_identity("laptop", state="enrolled")
    before = list(Enrollment.objects.values_list("token", "consumed_at"))

    response = signed_in.post(f"/identities/{identity.pk}/reissue/", {"hours": "24"}, follow=True)

    assert "is enrolled: reset its enrollment" in response.content.decode()
    assert list(Enrollment.objects.values_list("token", "consumed_at")) == before


def test_reset_of_an_identity_without_a_certificate_is_refused_in_words(
    signed_in, make_identity: IdentityFactory
) -> None:
    identity = make_identity("kiosk")
    token = identity.enrollments.get().token

    response = signed_in.post(f"/identities/{identity.pk}/reset/", {"hours": "24"})

    assert response.status_code == 200
    assert "has no certificate to reset" in response.content.decode()
    assert Enrollment.objects.get().token == token


def test_revoking_twice_is_refused_in_words(signed_in, make_identity: IdentityFactory) -> None:
    identity = make_identity("laptop", state="enrolled")
    authenticator = identity.authenticators.get()
    url = f"/identities/{identity.pk}/authenticators/{authenticator.pk}/revoke/"
    signed_in.post(url, {"reason": "keyCompromise"})

    response = signed_in.post(url, {"reason": "superseded"}, follow=True)

    assert "already revoked" in response.content.decode()
    assert RevokedCertificate.objects.get().reason == "keyCompromise"


def test_disable_with_revoke_revokes(signed_in, make_identity: IdentityFactory) -> None:
    identity = make_identity("laptop", state="enrolled")

    signed_in.post(f"/identities/{identity.pk}/disable/", {"revoke": "on"})

    identity.refresh_from_db()
    assert identity.is_disabled
    assert RevokedCertificate.objects.get().reason == "privilegeWithdrawn"


def test_request_renewal_sets_the_flags(signed_in, make_identity: IdentityFactory) -> None:
    identity = make_identity("laptop", state="enrolled")
    authenticator = identity.authenticators.get()

    signed_in.post(
        f"/identities/{identity.pk}/authenticators/{authenticator.pk}/request-extend/", {"roll_keys": "on"}
    )

    authenticator.refresh_from_db()
    assert authenticator.is_extend_requested
    assert authenticator.is_key_roll_requested


def test_the_list_shows_identities_whose_certificates_expire_within_n_days(
    signed_in, make_identity: IdentityFactory
) -> None:
    soon, later = make_identity("soon", state="enrolled"), make_identity("later", state="enrolled")
    make_identity("never-enrolled")
    Authenticator.objects.filter(identity=soon).update(not_after=timezone.now() + dt.timedelta(days=5))
    Authenticator.objects.filter(identity=later).update(not_after=timezone.now() + dt.timedelta(days=90))

    page = signed_in.get("/identities/?expiring=30").content.decode()

    assert ">soon<" in page
    assert ">later<" not in page
    assert ">never-enrolled<" not in page
    assert "expiring within 30 days" in page
