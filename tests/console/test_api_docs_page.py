"""The console's API page: both OpenAPI documents, browsable, served from here."""

from __future__ import annotations

from django.test import Client
from playwright.sync_api import Page, expect


def test_the_api_page_needs_a_login() -> None:
    response = Client().get("/api-docs/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/api-docs/"


def test_the_api_page_links_both_documents(signed_in: Client) -> None:
    html = signed_in.get("/api-docs/?api=client").content.decode()

    assert 'href="/edge/client/v1/specs"' in html
    assert 'data-spec-url="/edge/client/v1/specs"' in html
    assert 'href="?api=management"' in html
    assert "cdn" not in html.lower()


def test_swagger_ui_shows_the_management_api_without_breaking_the_csp(console: Page) -> None:
    console.get_by_role("link", name="API", exact=True).click()

    expect(console.get_by_role("heading", name="API documentation")).to_be_visible()
    expect(console.get_by_text("/edge/management/v1/identities", exact=True).first).to_be_visible()
    console.get_by_role("link", name="Edge client API").click()
    expect(console.get_by_text("/edge/client/v1/enroll", exact=True).first).to_be_visible()
    # The page fixture fails the test on any console error, CSP violations included.
