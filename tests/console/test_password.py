"""The admin changes their password in the console; a command resets a forgotten one."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Page, expect

from audit.models import Action, AuditRecord
from tests.conftest import LiveController
from tests.console.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, log_in

NEW_PASSWORD = "another long passphrase, just as unguessable"


def can_log_in(password: str) -> bool:
    return get_user_model().objects.get(username=ADMIN_USERNAME).check_password(password)


def test_the_password_page_needs_a_login(db: None) -> None:
    response = Client().get(reverse("password_change"))

    assert response["Location"] == f"/login/?next={reverse('password_change')}"


def test_changing_the_password_needs_the_form_s_csrf_token(strict: Client) -> None:
    response = strict.post(
        reverse("password_change"),
        {"old_password": ADMIN_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 403
    assert can_log_in(ADMIN_PASSWORD)


def test_a_weak_or_mistyped_password_is_refused_and_nothing_changes(signed_in: Client) -> None:
    weak = signed_in.post(
        reverse("password_change"),
        {"old_password": ADMIN_PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    wrong_old = signed_in.post(
        reverse("password_change"),
        {"old_password": "not it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert "This password is too common." in weak.content.decode()
    assert "Your old password was entered incorrectly" in wrong_old.content.decode()
    assert can_log_in(ADMIN_PASSWORD)
    assert not can_log_in(NEW_PASSWORD)


@pytest.mark.browser
def test_in_the_browser_the_admin_changes_the_password_from_the_navbar(
    console: Page, controller: LiveController
) -> None:
    console.get_by_role("navigation", name="Main").get_by_role("link", name="Change password").click()
    expect(console.get_by_role("heading", name="Change password")).to_be_visible()
    console.get_by_label("Old password").fill(ADMIN_PASSWORD)
    console.get_by_label(re.compile(r"^\s*New password\W*$")).fill(NEW_PASSWORD)
    console.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    console.get_by_role("button", name="Change password").click()
    expect(console.get_by_role("heading", name="Password changed")).to_be_visible()

    console.get_by_role("button", name="Log out").click()
    log_in(console, ADMIN_USERNAME, ADMIN_PASSWORD)
    expect(console.get_by_role("alert")).to_contain_text("Please enter a correct username and password")
    log_in(console, ADMIN_USERNAME, NEW_PASSWORD)
    expect(console).to_have_url(f"{controller.url}/identities/")


def reset(*args: str) -> str:
    err = io.StringIO()
    call_command("reset_admin_password", *args, stdout=io.StringIO(), stderr=err)
    return err.getvalue()


def test_the_command_sets_the_password_from_a_file_and_lifts_the_throttle(
    admin: AbstractBaseUser, tmp_path: Path
) -> None:
    AccessAttempt.objects.create(username=ADMIN_USERNAME, ip_address="10.0.0.1", failures_since_start=50)
    secret = tmp_path / "password"
    secret.write_text(NEW_PASSWORD + "\n")

    said = reset("--password-file", str(secret))

    assert 'set a new password for the console account "admin"' in said
    assert NEW_PASSWORD not in said
    assert can_log_in(NEW_PASSWORD)
    assert not AccessAttempt.objects.exists()


def test_the_command_generates_a_password_into_a_private_file(admin: AbstractBaseUser) -> None:
    said = reset("--generate")

    path = Path(settings.DATA_DIR) / "admin-password"
    password = path.read_text().strip()
    assert str(path) in said
    assert password not in said
    assert path.stat().st_mode & 0o777 == 0o600
    assert can_log_in(password)


def test_the_command_refuses_a_weak_password_an_unknown_account_and_no_terminal(
    admin: AbstractBaseUser, tmp_path: Path
) -> None:
    weak = tmp_path / "weak"
    weak.write_text("password\n")

    with pytest.raises(CommandError, match="This password is too common"):
        reset("--password-file", str(weak))
    with pytest.raises(CommandError, match='there is no console account "root"'):
        reset("root", "--generate")
    with pytest.raises(CommandError, match="no terminal to ask on"):
        reset()
    assert can_log_in(ADMIN_PASSWORD)


def test_a_password_change_and_a_reset_are_in_the_audit_trail_without_the_password(
    signed_in: Client, tmp_path: Path
) -> None:
    changed = signed_in.post(
        reverse("password_change"),
        {"old_password": ADMIN_PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    secret = tmp_path / "password"
    secret.write_text(ADMIN_PASSWORD + "\n")
    reset("--password-file", str(secret))

    assert changed.status_code == 302
    records = AuditRecord.objects.filter(action__in=[Action.PASSWORD_CHANGED, Action.PASSWORD_RESET])
    assert [(r.action, r.actor_kind, r.channel, r.object_name) for r in records.order_by("pk")] == [
        (Action.PASSWORD_CHANGED, "admin", "console", ADMIN_USERNAME),
        (Action.PASSWORD_RESET, "command", "cli", ADMIN_USERNAME),
    ]
    stored = str(list(AuditRecord.objects.values()))
    assert NEW_PASSWORD not in stored
    assert ADMIN_PASSWORD not in stored
