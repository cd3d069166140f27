"""Every console page, light and dark, passes axe-core's WCAG 2.1 AA rules (contrast of
every colour pair among them), in the real browser and in the colour mode it prefers."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from authorities.services import create_certificate_authority
from identities.services import import_identities, read_identity_csv, start_identity_import
from tests.console.accessibility import assert_accessible
from tests.console.conftest import IdentityFactory
from tests.console.test_ca_views import registered_ca, verified
from tests.helpers import make_ca
from tests.identities.test_import import GOOD

pytestmark = [pytest.mark.browser, pytest.mark.http_errors(404)]

SCHEMES = pytest.mark.parametrize("color_scheme", ["light", "dark"])


@SCHEMES
def test_the_theme_follows_the_browser(page: Page, color_scheme: str) -> None:
    page.goto("/login/")

    expect(page.locator("html")).to_have_attribute("data-bs-theme", color_scheme)
    page.emulate_media(color_scheme="light" if color_scheme == "dark" else "dark")
    expect(page.locator("html")).not_to_have_attribute("data-bs-theme", color_scheme)


@SCHEMES
def test_the_signed_out_pages_are_accessible(page: Page, admin, color_scheme: str) -> None:
    assert_accessible(page, "/login/", "/no/such/page/")
    page.goto("/login/")
    page.get_by_role("button", name="Log in").click()  # empty: errors shown
    assert_accessible(page)


@SCHEMES
def test_every_identity_page_is_accessible(
    console: Page, make_identity: IdentityFactory, color_scheme: str
) -> None:
    pending = make_identity("laptop", role_attributes=("sales", "laptops"))
    enrolled = make_identity("phone", "enrolled")
    disabled = make_identity("kiosk", "expired")
    disabled.is_disabled = True
    disabled.save()
    make_identity("printer", "none")
    batch = start_identity_import(read_identity_csv(GOOD + b"robot,droid,,\n"), "fleet.csv")
    done = import_identities(b"name,type\ntablet,device\n", file_name="tablets.csv")

    assert_accessible(
        console,
        "/identities/",
        "/identities/?q=zzz",
        "/identities/new/",
        f"/identities/{pending.pk}/",
        f"/identities/{enrolled.pk}/",
        f"/identities/{disabled.pk}/",
        f"/identities/{pending.pk}/delete/",
        f"/identities/{enrolled.pk}/reset/",
        "/identities/import/",
        f"/identities/import/{batch.pk}/",
        f"/identities/import/{done.pk}/",
        "/account/password/",
        "/identities/no-such-identity/",
    )
    console.goto("/identities/new/")
    console.get_by_role("button", name="Create identity").click()  # errors shown
    assert_accessible(console)


@SCHEMES
def test_every_ca_page_is_accessible(console: Page, color_scheme: str) -> None:
    unverified, _ = registered_ca("Plant CA")
    fleet, key = registered_ca("Fleet CA", ott_ca_enrollment=True, auto_ca_enrollment=True)
    verified(fleet, key)

    assert_accessible(
        console,
        "/certificate-authorities/",
        "/certificate-authorities/new/",
        f"/certificate-authorities/{unverified.pk}/",
        f"/certificate-authorities/{fleet.pk}/",
        f"/certificate-authorities/{fleet.pk}/edit/",
        f"/certificate-authorities/{fleet.pk}/delete/",
    )
    console.goto("/certificate-authorities/new/")
    console.get_by_label("Or paste the PEM").fill("hello")
    console.get_by_role("button", name="Add CA").click()  # errors shown
    assert_accessible(console)
    create_certificate_authority(name="Spare CA", certificate_pem=make_ca().pem)


@SCHEMES
def test_the_audit_pages_filtered_lists_and_bulk_confirmation_are_accessible(
    console: Page, make_identity: IdentityFactory, color_scheme: str
) -> None:
    laptop = make_identity("laptop", role_attributes=("sales",))
    make_identity("phone", "enrolled")
    fleet, key = registered_ca("Fleet CA", ott_ca_enrollment=True)
    verified(fleet, key)

    assert_accessible(
        console,
        "/audit/",
        "/audit/?action=identity.created&object_type=identity",
        f"/audit/?object={laptop.pk}",
        "/identities/?identity_type=device&state=pending&sort=-created",
        "/identities/?role=sales&sort=name",
        "/certificate-authorities/?sort=-expiry&use=ott",
    )
    console.goto("/identities/")
    console.get_by_role("checkbox", name="Select all rows on this page").check()
    console.get_by_role("button", name="Disable").click()
    expect(console.get_by_role("heading", name="Disable 2 identities?")).to_be_visible()
    assert_accessible(console)
