"""Every error the console can give is a page in its own look that says what to do,
and tells nothing an attacker could use."""

from __future__ import annotations

import http.client
import json

import pytest
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from authorities.models import CertificateAuthority
from identities.models import Identity
from tests.console.accessibility import assert_accessible
from tests.console.conftest import ADMIN_USERNAME
from tests.helpers import form_csrf_token


def test_a_stale_csrf_token_says_the_form_is_out_of_date_and_keeps_nothing_secret(strict: Client) -> None:
    page = strict.get(reverse("identities:create")).content.decode()
    token = form_csrf_token(page)
    strict.cookies.pop("csrftoken", None)  # as after a restart with another secret, or a log-in elsewhere

    response = strict.post(
        reverse("identities:create"),
        {"csrfmiddlewaretoken": token, "name": "laptop", "identity_type": "Device"},
    )

    body = response.content.decode()
    assert response.status_code == 403
    assert "This form is out of date, reload the page and send it again." in body
    assert "Certificate Authorities" in body  # the console's navbar
    for secret_or_debug in (token, "CSRF cookie", "DEBUG", "More information"):
        assert secret_or_debug not in body
    assert not Identity.objects.exists()


def test_a_stale_login_form_offers_to_log_in_again(admin) -> None:
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("login"), {"username": ADMIN_USERNAME, "password": "x"})

    assert response.status_code == 403
    assert "This form is out of date" in response.content.decode()
    assert 'href="/login/">Log in</a>' in response.content.decode()


def test_too_many_fields_get_the_oversized_form_words_not_a_bare_400(signed_in: Client) -> None:
    fields = {f"field{k}": "x" for k in range(1500)} | {"name": "Fleet"}

    response = signed_in.post(reverse("authorities:create"), fields)

    assert (response.status_code, response["Location"]) == (303, reverse("authorities:create"))
    page = signed_in.get(response["Location"]).content.decode()
    assert "What you sent was more than a form may hold, so nothing was saved" in page
    assert not CertificateAuthority.objects.exists()


def test_another_bad_request_is_a_styled_400_page(signed_in: Client) -> None:
    response = signed_in.get(reverse("identities:list"), HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert "The request could not be understood" in response.content.decode()
    assert "Ziti Controller" in response.content.decode()


@pytest.mark.urls("tests.console.broken_urls")
def test_a_failing_page_is_a_styled_500_that_shows_nothing_of_the_failure(admin) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(admin)

    response = client.get("/broken/")

    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on the controller" in body
    assert "bootstrap.min.css" in body  # the console's look
    assert "hunter2" not in body
    assert "RuntimeError" not in body


@pytest.mark.urls("tests.console.broken_urls")
def test_a_refusal_is_a_styled_403_that_keeps_its_reason_to_itself(signed_in: Client) -> None:
    response = signed_in.get("/forbidden/")

    body = response.content.decode()
    assert response.status_code == 403
    assert "This account may not do that. Nothing was changed." in body
    assert "Certificate Authorities" in body
    assert "hunter2" not in body


@pytest.mark.urls("tests.console.broken_urls")
def test_a_failing_api_request_keeps_the_api_s_envelope(db: None) -> None:
    response = Client(raise_request_exception=False).get("/edge/client/v1/broken/")

    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "UNHANDLED"
    assert "hunter2" not in response.content.decode()


@pytest.mark.browser
@pytest.mark.http_errors(403, 404)
@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_in_the_browser_a_stale_form_and_a_missing_page_look_like_the_console(
    console: Page, color_scheme: str
) -> None:
    console.goto("/identities/new/")
    # What a stale tab holds: a token from another session.
    console.locator("input[name=csrfmiddlewaretoken]").first.evaluate("input => input.value = 'x'.repeat(64)")
    console.context.clear_cookies(name="csrftoken")
    console.get_by_label("Name").fill("laptop")
    console.get_by_role("button", name="Create identity").click()

    expect(console.get_by_role("heading", name="This form is out of date")).to_be_visible()
    expect(console.get_by_text("reload the page and send it again")).to_be_visible()
    assert_accessible(console)
    assert not Identity.objects.exists()

    console.goto("/identities/no-such-identity/")
    expect(console.get_by_role("heading", name="Not found")).to_be_visible()
    expect(console.get_by_role("navigation", name="Main")).to_contain_text("Certificate Authorities")


def test_a_body_past_the_server_s_own_limit_gets_a_page_in_the_console_s_look(controller) -> None:
    connection = http.client.HTTPSConnection(
        "localhost", controller.port, context=controller.ssl_context(), timeout=30
    )
    connection.putrequest("POST", "/identities/import/")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(64 * 1024 * 1024))
    connection.endheaders()  # refused at the headers; the body is never sent
    reply = connection.getresponse()
    page = reply.read().decode()
    connection.close()

    assert reply.status == 413
    assert "/static/vendor/bootstrap/bootstrap.min.css" in page
    assert "/static/js/theme.js" in page
    assert "Nothing was saved" in page
