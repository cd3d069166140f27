"""Signing in and out of the console in a real browser."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AbstractBaseUser
from playwright.sync_api import Page, expect

from tests.conftest import LiveController
from tests.console.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, IdentityFactory, log_in

pytestmark = pytest.mark.browser


def test_a_wrong_password_is_refused_with_an_error(page: Page, admin: AbstractBaseUser) -> None:
    log_in(page, ADMIN_USERNAME, "not the passphrase")
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)


def test_the_right_password_lands_on_the_identity_list(
    page: Page, admin: AbstractBaseUser, controller: LiveController
) -> None:
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(page).to_have_url(f"{controller.url}/identities/")
    expect(page).to_have_title("Identities · Ziti Controller")
    expect(page.get_by_role("heading", name="Identities", exact=True)).to_be_visible()


def test_an_anonymous_visitor_is_sent_to_log_in_and_then_back(
    page: Page, admin: AbstractBaseUser, make_identity: IdentityFactory, controller: LiveController
) -> None:
    identity = make_identity("lobby-kiosk")
    page.goto(f"/identities/{identity.pk}/")
    expect(page).to_have_url(f"{controller.url}/login/?next=/identities/{identity.pk}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.get_by_label("Username").fill(ADMIN_USERNAME)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{controller.url}/identities/{identity.pk}/")
    expect(page.get_by_role("heading", name="lobby-kiosk")).to_be_visible()


def test_logging_out_from_the_navbar_ends_the_session(console: Page, controller: LiveController) -> None:
    navbar = console.get_by_role("navigation", name="Main")
    expect(navbar.get_by_text(ADMIN_USERNAME)).to_be_visible()
    navbar.get_by_role("button", name="Log out").click()
    expect(console).to_have_url(f"{controller.url}/login/")

    console.goto("/identities/")
    expect(console).to_have_url(f"{controller.url}/login/?next=/identities/")
