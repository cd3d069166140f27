"""The identity list in a real browser: what each row says, searching, the empty state."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.console.conftest import IdentityFactory

pytestmark = pytest.mark.browser

# The first column holds the row's selection checkbox.
COLUMNS = ["", "Name", "Type", "Role attributes", "Enrollment", "Created", "Actions"]


def row_of(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("link", name=name, exact=True))


def test_an_empty_console_invites_to_create_the_first_identity(console: Page) -> None:
    expect(console.get_by_role("heading", name="No identities yet")).to_be_visible()
    expect(console.get_by_role("table")).to_have_count(0)
    console.get_by_role("link", name="Create an identity").click()
    expect(console).to_have_url(re.compile(r"/identities/new/$"))


@pytest.mark.parametrize(
    ("state", "identity_type", "label"),
    [
        ("pending", "Device", "Pending"),
        ("enrolled", "User", "Enrolled"),
        ("expired", "Service", "Expired"),
        ("none", "Device", "Not enrolled"),
    ],
)
def test_a_row_shows_name_type_state_and_creation_time(
    console: Page, make_identity: IdentityFactory, state: str, identity_type: str, label: str
) -> None:
    identity = make_identity(
        f"{state}-node", state=state, identity_type=identity_type, role_attributes=("edge",)
    )
    identity.refresh_from_db()
    console.reload()

    expect(console.get_by_role("columnheader")).to_have_text(COLUMNS)
    cells = row_of(console, f"{state}-node").get_by_role("cell")
    expect(cells).to_have_text(
        ["", f"{state}-node", identity_type, "edge", label, re.compile(r"\S"), re.compile(".*")]
    )
    expect(cells.nth(5).locator("time")).to_have_attribute("datetime", identity.created_at.isoformat())


def test_searching_by_name_narrows_the_list(console: Page, make_identity: IdentityFactory) -> None:
    make_identity("kitchen-sensor")
    make_identity("office-laptop")
    console.reload()
    expect(console.get_by_role("row")).to_have_count(3)  # the header and two identities

    console.get_by_role("searchbox", name="Search by name or role attribute").fill("LAPTOP")
    console.get_by_role("button", name="Search").click()
    expect(console).to_have_url(re.compile(r"\?q=LAPTOP&"))
    expect(row_of(console, "office-laptop")).to_be_visible()
    expect(console.get_by_role("link", name="kitchen-sensor")).to_have_count(0)
    expect(console.get_by_role("searchbox", name="Search by name or role attribute")).to_have_value("LAPTOP")

    console.get_by_role("link", name="Clear").click()
    expect(console.get_by_role("row")).to_have_count(3)


def test_a_disabled_identity_is_marked_in_the_list(console: Page, make_identity: IdentityFactory) -> None:
    make_identity("office-laptop")
    identity = make_identity("stolen-laptop")
    identity.is_disabled = True
    identity.save(update_fields=["is_disabled"])
    console.reload()
    expect(row_of(console, "stolen-laptop").get_by_text("Disabled")).to_be_visible()
    expect(row_of(console, "office-laptop").get_by_text("Disabled")).to_have_count(0)
