"""Bodies too large: the API answers in its envelope, the console with the form and words."""

from __future__ import annotations

import http.client
import json

import pytest
from playwright.sync_api import Page, expect

from authorities.models import CertificateAuthority
from tests.conftest import LiveController
from tests.console.test_ca_pages import add_ca

THREE_MB = 3 * 1024 * 1024


def test_an_oversized_console_form_comes_back_to_the_form_with_a_message(signed_in):
    body = b"name=huge&certificate_pem=" + b"A" * THREE_MB

    reply = signed_in.post(
        "/certificate-authorities/new/", data=body, content_type="application/x-www-form-urlencoded"
    )

    assert (reply.status_code, reply["Location"]) == (303, "/certificate-authorities/new/")
    page = signed_in.get(reply["Location"]).content.decode()
    assert "more than the 2.5\xa0MB a form may hold, so nothing was saved" in page
    assert not CertificateAuthority.objects.exists()


def test_past_the_server_s_own_limit_the_console_gets_a_page_not_a_reset(controller: LiveController):
    body = b"A" * (10 * 1024 * 1024 + 1)
    connection = http.client.HTTPSConnection(
        "localhost", controller.port, context=controller.ssl_context(), timeout=30
    )
    connection.putrequest("POST", "/certificate-authorities/new/")
    connection.putheader("Content-Type", "application/x-www-form-urlencoded")
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()  # the answer comes at the headers; the body is never read
    reply = connection.getresponse()
    page = reply.read().decode()
    connection.close()

    assert reply.status == 413
    assert reply.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "Nothing was saved" in page


def test_past_the_server_s_own_limit_the_api_gets_its_envelope(controller: LiveController):
    connection = http.client.HTTPSConnection(
        "localhost", controller.port, context=controller.ssl_context(), timeout=30
    )
    connection.putrequest("POST", "/edge/client/v1/enroll?method=ca")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(2 * 1024 * 1024))
    connection.endheaders()
    reply = connection.getresponse()
    body = json.loads(reply.read())
    connection.close()

    assert (reply.status, body["error"]["code"]) == (413, "REQUEST_TOO_LARGE")


@pytest.mark.browser
def test_pasting_a_huge_pem_in_the_browser_keeps_the_admin_on_the_form(console: Page):
    add_ca(console, "Huge", pem="-----BEGIN CERTIFICATE-----\n" + "A" * THREE_MB)

    expect(console.get_by_text("so nothing was saved")).to_be_visible()
    expect(console.get_by_role("button", name="Add CA")).to_be_visible()
    assert not CertificateAuthority.objects.exists()
