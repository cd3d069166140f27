"""Creating, editing, disabling and deleting identities in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from identities.models import Identity, IdentityType
from tests.conftest import LiveController
from tests.console.conftest import IdentityFactory

pytestmark = pytest.mark.browser


def test_a_new_identity_is_listed_as_pending(console: Page, controller: LiveController) -> None:
    console.get_by_role("link", name="New identity").click()
    expect(console).to_have_title("New identity · Ziti Controller")
    console.get_by_label("Name").fill("warehouse-scanner")
    console.get_by_label("Service").check()
    console.get_by_label("Role attributes").fill("scanners, warehouse")
    console.get_by_role("button", name="Create identity").click()

    identity = Identity.objects.get(name="warehouse-scanner")
    assert identity.identity_type == IdentityType.SERVICE
    assert identity.role_attributes == ["scanners", "warehouse"]
    expect(console).to_have_url(f"{controller.url}/identities/{identity.pk}/")
    expect(console.get_by_role("status")).to_contain_text("Created identity warehouse-scanner")

    console.get_by_role("navigation", name="Main").get_by_role("link", name="Identities").click()
    row = console.get_by_role("row").filter(has=console.get_by_role("link", name="warehouse-scanner"))
    expect(row.get_by_role("cell")).to_have_text(
        ["", "warehouse-scanner", "Service", "scanners warehouse", "Pending", "now", ""]
    )


def test_a_duplicate_name_is_refused_under_the_name_field(
    console: Page, make_identity: IdentityFactory
) -> None:
    make_identity("front-door")
    console.goto("/identities/new/")
    console.get_by_label("Name").fill("front-door")
    console.get_by_role("button", name="Create identity").click()

    name = console.get_by_label("Name")
    expect(name).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(name).to_have_value("front-door")
    expect(console.locator("#div_id_name")).to_contain_text('an identity named "front-door" already exists')
    assert Identity.objects.filter(name="front-door").count() == 1


def test_the_detail_page_shows_the_identity_and_its_certificate(
    console: Page, make_identity: IdentityFactory
) -> None:
    identity = make_identity(
        "lobby-kiosk", state="enrolled", identity_type="User", role_attributes=("lobby", "kiosks")
    )
    authenticator = identity.authenticators.get()
    console.goto(f"/identities/{identity.pk}/")

    expect(console).to_have_title("lobby-kiosk · Ziti Controller")
    expect(console.get_by_role("heading", name="lobby-kiosk")).to_be_visible()
    overview = console.get_by_role("region", name="Overview")
    expect(overview.get_by_role("definition")).to_have_text(
        [
            identity.pk,
            "User",
            "lobby kiosks",
            "Enabled",
            "365 days for certificates this controller issues",
            re.compile(r"\S"),
        ]
    )
    expect(console.get_by_role("region", name="Enrollment").get_by_role("cell")).to_have_text(
        ["One-time token", re.compile(r"\bUsed\b"), re.compile(r"\S")]
    )
    certificates = console.get_by_role("region", name="Authenticators").get_by_role("cell")
    expect(certificates).to_have_text(
        [
            authenticator.fingerprint,
            authenticator.serial,
            "Internal PKI",
            re.compile(r"days? left"),
            re.compile("Revoke"),
        ]
    )


def test_the_edit_form_changes_name_and_roles_but_offers_no_type(
    console: Page, make_identity: IdentityFactory
) -> None:
    identity = make_identity("lobby-kiosk", role_attributes=("lobby",))
    console.goto(f"/identities/{identity.pk}/")
    edit = console.get_by_role("region", name="Edit")
    expect(edit.get_by_role("textbox")).to_have_count(2)
    expect(edit.get_by_label("Type")).to_have_count(0)
    expect(edit.locator("[name=identity_type]")).to_have_count(0)
    expect(edit.get_by_role("radio")).to_have_count(0)
    expect(edit.get_by_role("combobox")).to_have_count(0)

    edit.get_by_label("Name").fill("reception-kiosk")
    expect(edit.get_by_label("Role attributes")).to_have_value("lobby")
    edit.get_by_label("Role attributes").fill("lobby, reception")
    edit.get_by_role("button", name="Save changes").click()

    expect(console.get_by_role("status")).to_contain_text("Saved identity reception-kiosk")
    expect(console.get_by_role("heading", name="reception-kiosk")).to_be_visible()
    identity.refresh_from_db()
    assert (identity.name, identity.role_attributes) == ("reception-kiosk", ["lobby", "reception"])
    assert identity.identity_type == IdentityType.DEVICE


def test_disable_and_enable_toggle_the_identity(console: Page, make_identity: IdentityFactory) -> None:
    identity = make_identity("lobby-kiosk")
    console.goto(f"/identities/{identity.pk}/")

    console.get_by_role("button", name="Disable").click()
    expect(console.get_by_role("status")).to_contain_text("Disabled identity lobby-kiosk")
    expect(console.get_by_role("region", name="Overview")).to_contain_text("Disabled: it cannot authenticate")
    identity.refresh_from_db()
    assert identity.is_disabled

    console.get_by_role("button", name="Enable").click()
    expect(console.get_by_role("status")).to_contain_text("Enabled identity lobby-kiosk")
    expect(console.get_by_role("button", name="Disable")).to_be_visible()
    identity.refresh_from_db()
    assert not identity.is_disabled


def test_delete_asks_for_confirmation_first(
    console: Page, make_identity: IdentityFactory, controller: LiveController
) -> None:
    identity = make_identity("lobby-kiosk")
    make_identity("front-door")
    console.goto(f"/identities/{identity.pk}/")

    console.get_by_role("link", name="Delete").click()
    expect(console.get_by_role("heading", name="Delete identity lobby-kiosk?")).to_be_visible()
    assert Identity.objects.filter(pk=identity.pk).exists()

    console.get_by_role("link", name="Cancel").click()
    expect(console).to_have_url(f"{controller.url}/identities/{identity.pk}/")
    console.get_by_role("link", name="Delete").click()
    console.get_by_role("button", name="Delete identity").click()

    expect(console).to_have_url(f"{controller.url}/identities/")
    expect(console.get_by_role("status")).to_contain_text("Deleted identity lobby-kiosk")
    expect(console.get_by_role("link", name="lobby-kiosk")).to_have_count(0)
    expect(console.get_by_role("link", name="front-door")).to_be_visible()
    assert not Identity.objects.filter(pk=identity.pk).exists()
