"""Downloading an identity's enrollment JWT through the certificate icon."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from playwright.sync_api import Page, expect

from authorities.pki import ControllerPKI
from identities.models import Identity
from tests.conftest import LiveController
from tests.console.conftest import IdentityFactory

pytestmark = pytest.mark.browser


def download_jwt(page: Page, scope_name: str | None = None) -> tuple[str, str]:
    """Click the "Download JWT" link (in the row of `scope_name`, if given): (file name, content)."""
    scope = page
    if scope_name is not None:
        scope = page.get_by_role("row").filter(has=page.get_by_role("link", name=scope_name, exact=True))
    with page.expect_download() as info:
        scope.get_by_role("link", name="Download JWT", exact=True).click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_text()


def assert_is_enrollment_jwt(
    token: str, identity: Identity, pki: ControllerPKI, controller: LiveController
) -> None:
    # Verified as a device does: the algorithm and the key pinned, never read from the header.
    claims = jwt.decode(
        token,
        key=pki.server_cert.public_key(),
        algorithms=["RS256"],
        issuer=controller.url,
        options={"require": ["iss", "sub", "jti", "exp", "em"]},
    )
    assert claims["em"] == "ott"
    assert claims["sub"] == identity.pk
    assert claims["jti"] == identity.enrollments.get().token


def test_the_certificate_icon_in_the_list_downloads_the_jwt(
    console: Page, make_identity: IdentityFactory, pki: ControllerPKI, controller: LiveController
) -> None:
    identity = make_identity("lobby-kiosk")
    make_identity("front-door")
    console.reload()

    link = console.get_by_role("row").filter(has_text="lobby-kiosk").get_by_role("link", name="Download JWT")
    expect(link).to_have_attribute("title", "Download JWT")
    expect(link.locator("i.bi")).to_have_class("bi bi-patch-check")
    name, token = download_jwt(console, "lobby-kiosk")

    assert name == "lobby-kiosk.jwt"
    assert_is_enrollment_jwt(token, identity, pki, controller)


def test_the_detail_page_downloads_the_same_jwt(
    console: Page, make_identity: IdentityFactory, pki: ControllerPKI, controller: LiveController
) -> None:
    identity = make_identity("lobby-kiosk")
    console.goto(f"/identities/{identity.pk}/")

    name, token = download_jwt(console)

    assert name == "lobby-kiosk.jwt"
    assert_is_enrollment_jwt(token, identity, pki, controller)


@pytest.mark.parametrize(("state", "label"), [("enrolled", "Enrolled"), ("expired", "Expired")])
def test_there_is_no_jwt_once_the_token_is_used_or_expired(
    console: Page, make_identity: IdentityFactory, state: str, label: str
) -> None:
    make_identity("front-door")  # pending: its icon shows the list does render icons
    identity = make_identity("lobby-kiosk", state=state)
    console.reload()

    expect(console.get_by_role("link", name="Download JWT")).to_have_count(1)
    row = console.get_by_role("row").filter(has=console.get_by_role("link", name="lobby-kiosk"))
    expect(row.get_by_role("cell").nth(4)).to_have_text(label)
    expect(row.get_by_role("link", name="Download JWT")).to_have_count(0)

    console.goto(f"/identities/{identity.pk}/")
    expect(console.get_by_role("heading", name="lobby-kiosk")).to_be_visible()
    expect(console.get_by_text(label, exact=True).first).to_be_visible()
    expect(console.get_by_role("link", name="Download JWT")).to_have_count(0)

    # Asked for directly, the URL answers 404, not a server error.
    response = console.request.get(f"/identities/{identity.pk}/jwt/")
    assert response.status == 404
