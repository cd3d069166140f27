"""The console shows the services' rules under the field at fault: names unique in any
case, role attributes limited, a CA's name format with a known placeholder."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from authorities.models import CertificateAuthority
from identities.models import Identity
from kernel.names import MAX_ROLE_ATTRIBUTE_LENGTH
from tests.console.conftest import IdentityFactory
from tests.console.layout import NARROW
from tests.console.test_ca_pages import NAME
from tests.helpers import make_ca

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_a_name_in_another_case_and_a_long_role_are_refused_under_their_fields(
    console: Page, make_identity: IdentityFactory, color_scheme: str
) -> None:
    make_identity("laptop")
    console.set_viewport_size(NARROW)
    console.goto("/identities/new/")
    console.get_by_label("Name").fill("LAPTOP")
    console.get_by_role("button", name="Create identity").click()
    expect(console.locator("#div_id_name")).to_contain_text('an identity named "LAPTOP" already exists')

    console.get_by_label("Name").fill("desk")
    console.get_by_label("Role attributes").fill("sales, " + "x" * (MAX_ROLE_ATTRIBUTE_LENGTH + 1))
    console.get_by_role("button", name="Create identity").click()
    expect(console.locator("#div_id_role_attributes")).to_contain_text(
        f"at most {MAX_ROLE_ATTRIBUTE_LENGTH} are allowed"
    )
    assert list(Identity.objects.values_list("name", flat=True)) == ["laptop"]


def test_a_name_format_without_a_placeholder_is_refused_under_its_field(console: Page) -> None:
    console.goto("/certificate-authorities/new/")
    console.get_by_label(NAME).fill("Fleet CA")
    console.get_by_label("Or paste the PEM").fill(make_ca().pem)
    console.get_by_label("Identity name format").fill("[bogus]")
    console.get_by_role("button", name="Add CA").click()

    expect(console.locator("#div_id_identity_name_format")).to_contain_text("[bogus] is not a placeholder")
    assert not CertificateAuthority.objects.exists()
