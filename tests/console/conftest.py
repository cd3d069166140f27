"""Console fixtures: an admin account, identities in each enrollment state, and a real
Chromium (Debian's, driven by Playwright) pointed at the live HTTPS controller."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, expect, sync_playwright

from enrollment.services import redeem_ott
from identities.models import Identity
from identities.services import create_identity
from tests.conftest import CHROMIUM, LiveController
from tests.helpers import csr_pem

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "a long and unguessable passphrase"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Failure bounds, not assertions: a broken page fails after this long instead of hanging.
PAGE_TIMEOUT_MS = 15_000


@pytest.fixture
def admin(db: None) -> AbstractBaseUser:
    return get_user_model().objects.create_superuser(
        username=ADMIN_USERNAME, email="admin@example.com", password=ADMIN_PASSWORD
    )


@pytest.fixture
def signed_in(client: Client, admin: AbstractBaseUser) -> Client:
    """Django's test client, logged in as the admin."""
    client.force_login(admin)
    return client


@pytest.fixture
def strict(admin: AbstractBaseUser) -> Client:
    """Logged in as the admin, and checking CSRF tokens as a browser's requests are checked."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    return client


def make_enrolled(identity: Identity) -> Identity:
    """Enroll `identity` the way a device does: redeem its token with a CSR."""
    redeem_ott(identity.enrollments.get().token, csr_pem())
    return identity


def make_expired(identity: Identity) -> Identity:
    identity.enrollments.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    return identity


IdentityFactory = Callable[..., Identity]


@pytest.fixture
def make_identity(db: None) -> IdentityFactory:
    """Create an identity through the service, then bring it into `state`."""

    def make(
        name: str,
        state: str = "pending",
        identity_type: str = "Device",
        role_attributes: tuple[str, ...] = (),
    ) -> Identity:
        identity, _ = create_identity(name=name, identity_type=identity_type, role_attributes=role_attributes)
        if state == "enrolled":
            return make_enrolled(identity)
        if state == "expired":
            return make_expired(identity)
        if state == "none":
            identity.enrollments.all().delete()
        return identity

    return make


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing: the console tests need Chromium"
        # Skipping in CI would turn a broken set-up into a green run.
        if "CI" in os.environ:
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class BrowserErrors:
    """What the page complained about: console errors and uncaught exceptions.

    A test that opens an error page on purpose names its status with
    @pytest.mark.http_errors(403, ...): the browser's note about it is then expected.
    """

    messages: list[str] = field(default_factory=list)
    expected_statuses: tuple[int, ...] = ()

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(f"status of {status} " in message.text for status in self.expected_statuses):
            return
        self.messages.append(f"console error at {message.location.get('url')}: {message.text}")

    def on_page_error(self, error: Error) -> None:
        self.messages.append(f"uncaught exception: {error}")


@pytest.fixture
def color_scheme() -> str:
    """The colour scheme the browser prefers; parametrize this name to run a test in "dark"."""
    return "light"


@pytest.fixture
def page(
    request: pytest.FixtureRequest, chromium: Browser, controller: LiveController, color_scheme: str
) -> Iterator[Page]:
    """A fresh, signed-out tab on the live controller; every JavaScript error fails the test."""
    context = chromium.new_context(
        ignore_https_errors=True,
        accept_downloads=True,
        base_url=controller.url,
        color_scheme=color_scheme,  # type: ignore[arg-type]
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    expect.set_options(timeout=PAGE_TIMEOUT_MS)
    tab = context.new_page()
    marker = request.node.get_closest_marker("http_errors")
    errors = BrowserErrors(expected_statuses=tuple(marker.args) if marker else ())
    tab.on("console", errors.on_console)
    tab.on("pageerror", errors.on_page_error)
    try:
        yield tab
    finally:
        context.close()
    assert errors.messages == [], "the browser reported errors"


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


@pytest.fixture
def console(page: Page, admin: AbstractBaseUser) -> Page:
    """A tab signed in as the admin, through the login form."""
    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Identities", exact=True)).to_be_visible()
    return page
