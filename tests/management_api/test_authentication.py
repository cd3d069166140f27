"""Management API authentication: admin accounts by password, admin identities by
certificate, the zt-session header, idle expiry, logging out, and throttling."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from identities.services import identity_disabled, update_identity
from kernel.actors import Actor, current_actor
from tests.lifecycle import enroll_device
from tests.management_api.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    BASE,
    ManagementClient,
    create_identity,
)


def test_a_password_session_answers_like_openziti_and_its_token_goes_in_zt_session(anonymous, admin):
    reply = anonymous.login()

    assert reply.status == 200
    data = reply.json()["data"]
    assert reply.headers["zt-session"] == data["token"]
    assert data["identity"]["name"] == ADMIN_USERNAME
    assert data["expiresAt"].endswith("Z")
    assert reply.json()["meta"] == {}
    current = anonymous.get("/current-api-session")
    assert current.status == 200
    assert current.json()["data"]["id"] == data["id"]
    assert anonymous.get("/identities").status == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": ADMIN_USERNAME, "password": "wrong"},
        {"username": "nobody", "password": ADMIN_PASSWORD},
    ],
)
def test_wrong_credentials_are_invalid_auth_in_the_same_words(anonymous, admin, credentials):
    reply = anonymous.call("POST", "/authenticate?method=password", credentials)

    assert reply.status == 401
    assert reply.error_code == "INVALID_AUTH"
    assert reply.json()["error"]["message"] == "the username or password is wrong"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"username": ADMIN_USERNAME}, "password"), ({"username": 7, "password": "x"}, "username")],
)
def test_a_malformed_login_is_could_not_validate_with_its_field(anonymous, admin, body, field):
    reply = anonymous.call("POST", "/authenticate?method=password", body)

    assert reply.status == 400
    assert reply.error_code == "COULD_NOT_VALIDATE"
    assert reply.json()["error"]["cause"]["field"] == field


def test_an_unknown_method_is_refused(anonymous, admin):
    reply = anonymous.call("POST", "/authenticate?method=updb", {"username": "a", "password": "b"})

    assert reply.status == 401
    assert reply.error_code == "INVALID_AUTH"


@pytest.mark.parametrize("token", [None, "", "not-a-session"])
def test_without_a_live_session_every_resource_is_unauthorized(anonymous, admin, token):
    anonymous.session = token

    for path in ["/identities", "/cas", "/enrollments", "/authenticators", "/current-api-session"]:
        reply = anonymous.get(path)
        assert (reply.status, reply.error_code) == (401, "UNAUTHORIZED"), path


def test_a_device_session_of_the_client_api_is_not_a_management_session(mgmt, controller, tmp_path):
    device = enroll_device("sensor", tmp_path)
    client = ManagementClient(controller, cert=(device.cert_path, device.key_path))
    reply = client.call("POST", "/authenticate?method=cert")
    assert (reply.status, reply.error_code) == (401, "INVALID_AUTH")

    from tests.helpers import https_request

    opened = https_request(
        controller.url,
        "POST",
        "/edge/client/v1/authenticate?method=cert",
        context=controller.ssl_context(device.cert_path, device.key_path),
        headers={"Content-Type": "application/json"},
    )
    client.session = opened.json()["data"]["token"]
    assert client.get("/identities").status == 401


def test_an_admin_identity_authenticates_with_its_certificate(mgmt, controller, tmp_path):
    device = enroll_device("automation", tmp_path, is_admin=True)
    client = ManagementClient(controller, cert=(device.cert_path, device.key_path))

    reply = client.call("POST", "/authenticate?method=cert")

    assert reply.status == 200, reply.body
    assert reply.json()["data"]["identity"]["name"] == "automation"
    client.session = reply.json()["data"]["token"]
    assert client.get("/identities").status == 200
    # Withdrawing the flag ends what the session may do at once.
    update_identity(device.identity, name="automation", role_attributes=[], is_admin=False)
    assert client.get("/identities").status == 401


def test_a_session_idles_out(mgmt, settings, time_machine):
    settings.ZITI_API_SESSION_IDLE_MINUTES = 5
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4))
    assert mgmt.get("/identities").status == 200  # use restarts the idle clock

    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6))

    reply = mgmt.get("/identities")
    assert (reply.status, reply.error_code) == (401, "UNAUTHORIZED")


def test_delete_current_api_session_logs_out(mgmt):
    reply = mgmt.call("DELETE", "/current-api-session")

    assert reply.status == 200
    assert reply.json() == {"data": {}, "meta": {}}
    assert mgmt.get("/identities").status == 401


def test_an_inactive_account_loses_its_session(mgmt, admin):
    admin.is_active = False
    admin.save()

    assert mgmt.get("/identities").status == 401


def test_changes_run_on_behalf_of_the_admin_account(mgmt, admin):
    seen: list[Actor | None] = []

    def record(sender: object, **_: object) -> None:
        seen.append(current_actor())

    identity_disabled.connect(record)
    try:
        pk = create_identity(mgmt, "laptop")
        assert mgmt.post(f"/identities/{pk}/disable", {"durationMinutes": 0}).status == 200
    finally:
        identity_disabled.disconnect(record)

    assert seen == [
        Actor("admin", ADMIN_USERNAME, ref=str(admin.pk), address="127.0.0.1", channel="management-api")
    ]


def test_changes_by_an_admin_identity_run_on_its_behalf(mgmt, controller, tmp_path):
    device = enroll_device("automation", tmp_path, is_admin=True)
    client = ManagementClient(controller, cert=(device.cert_path, device.key_path))
    client.session = client.call("POST", "/authenticate?method=cert").json()["data"]["token"]
    target = create_identity(mgmt, "laptop")
    seen: list[Actor | None] = []

    def record(sender: object, **_: object) -> None:
        seen.append(current_actor())

    identity_disabled.connect(record)
    try:
        assert client.post(f"/identities/{target}/disable", {"durationMinutes": 0}).status == 200
    finally:
        identity_disabled.disconnect(record)

    identity = device.identity
    assert seen == [
        Actor("identity", identity.name, ref=identity.id, address="127.0.0.1", channel="management-api")
    ]


# Throttling: the console's django-axes, one count for both ways in.


def api_login(username: str, password: str, address: str = "192.0.2.1"):
    return Client().post(
        f"{BASE}/authenticate?method=password",
        json.dumps({"username": username, "password": password}),
        content_type="application/json",
        REMOTE_ADDR=address,
    )


@pytest.fixture
def low_limit(settings):
    settings.AXES_FAILURE_LIMIT = 3


def test_failed_logins_throttle_the_account_with_rate_limited(low_limit, admin):
    statuses = [api_login(ADMIN_USERNAME, "wrong").status_code for _ in range(3)]

    throttled = api_login(ADMIN_USERNAME, ADMIN_PASSWORD)

    assert statuses == [401, 401, 429]
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "RATE_LIMITED"
    assert "token" not in throttled.content.decode()


def test_the_account_is_throttled_from_every_address(low_limit, admin):
    for n in range(3):
        api_login(ADMIN_USERNAME, "wrong", address=f"192.0.2.{n + 10}")

    assert api_login(ADMIN_USERNAME, ADMIN_PASSWORD, address="198.51.100.7").status_code == 429


def test_an_address_is_throttled_across_accounts(low_limit, admin):
    for name in ("alice", "bob", "carol"):
        api_login(name, "guess", address="203.0.113.5")

    assert api_login(ADMIN_USERNAME, ADMIN_PASSWORD, address="203.0.113.5").status_code == 429
    assert api_login(ADMIN_USERNAME, ADMIN_PASSWORD, address="203.0.113.6").status_code == 200


def test_api_failures_throttle_the_console_login_too(low_limit, admin):
    for _ in range(3):
        api_login(ADMIN_USERNAME, "wrong", address="192.0.2.80")

    console = Client().post(
        "/login/", {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}, REMOTE_ADDR="192.0.2.81"
    )
    assert console.status_code == 429


def test_a_success_before_the_limit_resets_the_count(low_limit, admin):
    for _ in range(2):
        api_login(ADMIN_USERNAME, "wrong")
    assert api_login(ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 200

    statuses = [api_login(ADMIN_USERNAME, "wrong").status_code for _ in range(2)]

    assert statuses == [401, 401]
    assert api_login(ADMIN_USERNAME, ADMIN_PASSWORD).status_code == 200
