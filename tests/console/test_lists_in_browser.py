"""Both lists in a real browser: sorting and filters that live in the URL, bulk actions on
selected rows, and a phone's 400 px width without sideways scrolling."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from playwright.sync_api import Page, expect

from authorities.models import CertificateAuthority
from authorities.services import create_certificate_authority
from identities.models import Identity
from kernel.names import MAX_ROLE_ATTRIBUTE_LENGTH
from tests.console.conftest import IdentityFactory
from tests.helpers import make_ca

pytestmark = pytest.mark.browser


def names_in_order(page: Page) -> list[str]:
    return page.locator("tbody tr td:nth-child(2) a").all_inner_texts()


def test_sorting_by_a_header_is_in_the_url_and_survives_a_reload(
    console: Page, make_identity: IdentityFactory
) -> None:
    make_identity("bravo", state="enrolled", identity_type="User")
    make_identity("alpha", identity_type="Service")
    make_identity("charlie", identity_type="Device")
    console.reload()
    assert names_in_order(console) == ["alpha", "bravo", "charlie"]

    console.get_by_role("link", name="Type").click()
    expect(console).to_have_url(re.compile(r"\?sort=type$"))
    expect(console.get_by_role("columnheader", name="Type")).to_have_attribute("aria-sort", "ascending")
    assert names_in_order(console) == ["charlie", "alpha", "bravo"]

    console.get_by_role("link", name="Type").click()
    expect(console).to_have_url(re.compile(r"\?sort=-type$"))
    assert names_in_order(console) == ["bravo", "alpha", "charlie"]

    console.reload()
    expect(console.get_by_role("columnheader", name="Type")).to_have_attribute("aria-sort", "descending")
    assert names_in_order(console) == ["bravo", "alpha", "charlie"]


def test_filters_are_in_the_url_so_a_bookmark_shows_the_same(
    console: Page, make_identity: IdentityFactory
) -> None:
    make_identity("eu-laptop", identity_type="Device", role_attributes=("sales", "emea"))
    make_identity("us-laptop", identity_type="Device", role_attributes=("sales",))
    make_identity("eu-printer", identity_type="Device", role_attributes=("emea",))
    make_identity("eu-user", identity_type="User", role_attributes=("emea",))
    console.reload()

    console.get_by_label("Type").select_option("Device")
    console.get_by_label("Role attribute", exact=True).fill("emea")
    console.get_by_role("button", name="Search").click()
    expect(console).to_have_url(re.compile(r"identity_type=Device.*role=emea"))
    assert names_in_order(console) == ["eu-laptop", "eu-printer"]
    bookmark = console.url

    console.goto("/identities/")
    console.goto(bookmark)
    assert names_in_order(console) == ["eu-laptop", "eu-printer"]
    expect(console.get_by_label("Type")).to_have_value("Device")
    expect(console.get_by_label("Role attribute", exact=True)).to_have_value("emea")

    console.get_by_role("link", name="Name").click()  # sorting keeps the filters
    expect(console).to_have_url(re.compile(r"sort=-name"))
    assert names_in_order(console) == ["eu-printer", "eu-laptop"]

    console.get_by_role("searchbox").fill("SALES")
    console.get_by_role("button", name="Search").click()  # and searching keeps the sort
    assert names_in_order(console) == ["eu-laptop"]


def test_selected_rows_are_disabled_after_a_confirmation(
    console: Page, make_identity: IdentityFactory
) -> None:
    for name in ("kiosk-1", "kiosk-2", "printer"):
        make_identity(name)
    console.goto("/identities/?q=kiosk")
    disable = console.get_by_role("button", name="Disable")
    expect(disable).to_be_disabled()  # nothing selected yet

    console.get_by_role("checkbox", name="Select all rows on this page").check()
    expect(console.get_by_text("2 selected")).to_be_visible()
    disable.click()

    expect(console.get_by_role("heading", name="Disable 2 identities?")).to_be_visible()
    assert not Identity.objects.filter(is_disabled=True).exists()
    console.get_by_role("button", name="Disable 2 identities").click()

    expect(console).to_have_url(re.compile(r"/identities/\?q=kiosk$"))
    expect(console.get_by_role("status")).to_contain_text("Disabled 2 identities.")
    expect(console.get_by_text("Disabled", exact=True)).to_have_count(2)
    assert sorted(Identity.objects.filter(is_disabled=True).values_list("name", flat=True)) == [
        "kiosk-1",
        "kiosk-2",
    ]


def test_a_cancelled_delete_deletes_nothing(console: Page, make_identity: IdentityFactory) -> None:
    make_identity("kiosk-1")
    console.reload()
    console.get_by_role("checkbox", name="Select kiosk-1").check()
    console.get_by_role("button", name="Delete").click()
    expect(console.get_by_role("heading", name="Delete 1 identity?")).to_be_visible()
    console.get_by_role("link", name="Cancel").click()
    expect(console.get_by_role("link", name="kiosk-1")).to_be_visible()
    assert Identity.objects.count() == 1


def test_the_jwts_of_selected_rows_download_as_one_zip(console: Page, make_identity: IdentityFactory) -> None:
    make_identity("kiosk-1")
    make_identity("kiosk-2")
    make_identity("enrolled-one", state="enrolled")
    console.reload()
    console.get_by_role("checkbox", name="Select all rows on this page").check()
    console.get_by_role("button", name="Download JWTs").click()
    expect(console.get_by_text("1 of them has no token to hand out")).to_be_visible()
    with console.expect_download() as download:
        console.get_by_role("button", name="Download 2 JWTs").click()
    assert re.fullmatch(r"enrollment-jwts-\d{8}-\d{6}\.zip", download.value.suggested_filename)
    path = download.value.path()
    archive = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    assert sorted(archive.namelist()) == ["kiosk-1.jwt", "kiosk-2.jwt"]


PHONE = {"width": 400, "height": 800}


def assert_fits_and_shows(page: Page, action_name: str) -> None:
    """No sideways scroll, and every row's action within the width, not scrolled off."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    actions = page.get_by_role("link", name=action_name)
    expect(actions.first).to_be_visible()
    for action in actions.all():
        action.scroll_into_view_if_needed()
        expect(action).to_be_in_viewport()
        box = action.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= PHONE["width"]


def test_the_identity_list_fits_a_phone_with_its_row_actions_in_view(
    console: Page, make_identity: IdentityFactory
) -> None:
    make_identity("x" * 255, role_attributes=("r" * MAX_ROLE_ATTRIBUTE_LENGTH, "sales"))
    make_identity("lobby-kiosk", role_attributes=("lobby",))
    console.set_viewport_size(PHONE)
    console.reload()
    assert_fits_and_shows(console, "Download JWT")
    expect(console.get_by_role("link", name="Download JWT")).to_have_count(2)


def test_the_ca_list_fits_a_phone_with_its_row_actions_in_view(console: Page) -> None:
    ca = create_certificate_authority(
        name="Fleet " + "y" * 240, certificate_pem=make_ca("Fleet CA").pem, auto_ca_enrollment=True
    )
    CertificateAuthority.objects.filter(pk=ca.pk).update(is_verified=True)
    console.set_viewport_size(PHONE)
    console.goto("/certificate-authorities/")
    assert_fits_and_shows(console, "Download JWT")


def test_the_ca_list_sorts_and_filters_in_the_url(console: Page) -> None:
    for name, days in (("short", 30), ("long", 900), ("middle", 400)):
        create_certificate_authority(name=name, certificate_pem=make_ca(name, days=days).pem)
    console.goto("/certificate-authorities/")
    console.get_by_role("link", name="Expires").click()
    expect(console).to_have_url(re.compile(r"\?sort=expiry$"))
    expect(console.locator("tbody tr td:first-child a")).to_have_text(["short", "middle", "long"])
    console.get_by_role("searchbox").fill("o")
    console.get_by_role("button", name="Search").click()
    expect(console).to_have_url(re.compile(r"q=o.*sort=expiry|sort=expiry.*q=o"))
    expect(console.locator("tbody tr td:first-child a")).to_have_text(["short", "long"])
