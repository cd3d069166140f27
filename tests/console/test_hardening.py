"""Login throttling, security headers, and a console free of CSP violations."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.test import Client
from playwright.sync_api import Page, expect

from tests.console.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, log_in
from ziticonsole.views import THROTTLED


def login(client: Client, username: str, password: str, address: str = "192.0.2.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def low_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def test_failed_logins_throttle_the_account_even_with_the_right_password(low_limit, admin: AbstractBaseUser):
    client = Client()
    statuses = [login(client, ADMIN_USERNAME, "wrong").status_code for _ in range(3)]

    throttled = login(client, ADMIN_USERNAME, ADMIN_PASSWORD)

    assert statuses == [200, 200, 429]  # the limit's own failure is refused as throttled
    assert throttled.status_code == 429
    assert THROTTLED in throttled.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_account_is_throttled_from_every_address(low_limit, admin: AbstractBaseUser):
    for n in range(3):
        login(Client(), ADMIN_USERNAME, "wrong", address=f"192.0.2.{n + 10}")

    assert login(Client(), ADMIN_USERNAME, ADMIN_PASSWORD, address="198.51.100.7").status_code == 429


def test_an_address_is_throttled_across_accounts(low_limit, admin: AbstractBaseUser):
    for name in ("alice", "bob", "carol"):
        login(Client(), name, "guess", address="203.0.113.5")

    assert login(Client(), ADMIN_USERNAME, ADMIN_PASSWORD, address="203.0.113.5").status_code == 429
    assert login(Client(), ADMIN_USERNAME, ADMIN_PASSWORD, address="203.0.113.6").status_code == 302


def test_the_answer_does_not_tell_whether_the_account_exists(low_limit, admin: AbstractBaseUser):
    def answers(username: str, address: str) -> list[tuple[int, bool]]:
        client = Client()
        replies = [login(client, username, "wrong", address) for _ in range(4)]
        return [(r.status_code, THROTTLED in r.content.decode()) for r in replies]

    assert answers(ADMIN_USERNAME, "192.0.2.50") == answers("nobody-by-this-name", "192.0.2.51")


def test_a_success_before_the_limit_resets_the_count(low_limit, admin: AbstractBaseUser):
    client = Client()
    login(client, ADMIN_USERNAME, "wrong")
    login(client, ADMIN_USERNAME, "wrong")
    assert login(client, ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 302
    client.logout()

    for _ in range(2):
        login(client, ADMIN_USERNAME, "wrong")
    assert login(client, ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 302


@pytest.mark.parametrize("path", ["/login/", "/version", "/.well-known/est/cacerts", "/no-such-page/"])
def test_every_response_carries_hsts_and_the_csp(client: Client, path: str, db: None):
    reply = client.get(path, secure=True)

    assert reply["Strict-Transport-Security"].startswith("max-age=31536000")
    csp = reply["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "default-src 'self'" in csp


@pytest.mark.browser
def test_the_console_runs_without_csp_violations(page: Page, admin: AbstractBaseUser) -> None:
    """The page fixture fails the test on any console message, CSP reports included."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security" in message.text else None,
    )

    log_in(page, ADMIN_USERNAME, ADMIN_PASSWORD)
    for path in (
        "/identities/",
        "/identities/new/",
        "/certificate-authorities/",
        "/certificate-authorities/new/",
    ):
        page.goto(path)
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    page.get_by_role("button", name="Log out").click()

    assert violations == []
