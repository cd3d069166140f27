"""Long names and role attributes wrap or end in an ellipsis with the full value as the
tooltip, and no page scrolls sideways at 400 px."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from authorities.services import create_certificate_authority
from kernel.names import MAX_NAME_LENGTH, MAX_ROLE_ATTRIBUTE_LENGTH
from tests.console.conftest import IdentityFactory
from tests.console.layout import NARROW, assert_no_sideways_scroll
from tests.helpers import make_ca

pytestmark = pytest.mark.browser

LONG_NAME = "n" * MAX_NAME_LENGTH
LONG_ROLE = "r" * MAX_ROLE_ATTRIBUTE_LENGTH


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_long_values_never_push_a_page_sideways_at_400_px(
    console: Page, make_identity: IdentityFactory, color_scheme: str
) -> None:
    identity = make_identity(LONG_NAME, "enrolled", role_attributes=(LONG_ROLE, "sales"))
    pending = make_identity("p" * 200 + " with spaces", role_attributes=(LONG_ROLE,))
    ca = create_certificate_authority(
        name="c" * MAX_NAME_LENGTH, certificate_pem=make_ca().pem, identity_roles=[LONG_ROLE]
    )
    console.set_viewport_size(NARROW)

    for path in (
        f"/identities/{identity.pk}/",
        f"/identities/{pending.pk}/",
        f"/identities/{identity.pk}/delete/",
        f"/identities/{identity.pk}/reset/",
        "/identities/new/",
        f"/certificate-authorities/{ca.pk}/",
        f"/certificate-authorities/{ca.pk}/edit/",
        f"/certificate-authorities/{ca.pk}/delete/",
        "/certificate-authorities/new/",
        "/identities/import/",
        "/account/password/",
        "/audit/",
        f"/audit/?object_type=identity&object={identity.pk}",
        "/api-docs/",
    ):
        assert_no_sideways_scroll(console, path)


def test_a_long_name_ends_in_an_ellipsis_in_the_breadcrumb_with_the_full_name_as_tooltip(
    console: Page, make_identity: IdentityFactory
) -> None:
    identity = make_identity(LONG_NAME, role_attributes=(LONG_ROLE,))

    console.goto(f"/identities/{identity.pk}/")

    crumb = console.get_by_role("navigation", name="Breadcrumb").locator("[aria-current=page]")
    expect(crumb).to_have_attribute("title", LONG_NAME)
    assert crumb.evaluate("c => c.scrollWidth > c.clientWidth")  # ends in an ellipsis
    badge = console.locator(".role-attribute", has_text=LONG_ROLE)
    expect(badge).to_have_attribute("title", LONG_ROLE)
    assert badge.evaluate("b => b.scrollWidth > b.clientWidth")  # cut short, not wrapped over lines
    expect(console.get_by_role("heading", name=LONG_NAME)).to_be_visible()


def test_the_login_and_error_pages_fit_400_px_signed_out(page: Page) -> None:
    page.set_viewport_size(NARROW)

    assert_no_sideways_scroll(page, "/login/")


def test_at_400_px_a_certificate_s_actions_stay_in_view(
    console: Page, make_identity: IdentityFactory
) -> None:
    identity = make_identity("phone", "enrolled")
    console.set_viewport_size(NARROW)

    console.goto(f"/identities/{identity.pk}/")

    for name in ("Revoke", "Request renewal"):
        box = console.get_by_role("button", name=name).bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= NARROW["width"], f"{name} is out of view"
