"""An API session is only as good as what it was opened with, and it does not live forever."""

from __future__ import annotations

import datetime as dt

import pytest

from authorities.models import CertificateAuthority
from enrollment.models import ApiSession
from identities.models import Authenticator, Identity
from identities.services import set_identity_disabled
from tests.enrollment.test_third_party_api import authenticate, device, enroll_ca, fleet, get, register

__all__ = ["device", "fleet"]  # fixtures


@pytest.fixture
def session(controller, fleet, device) -> str:
    register(fleet)
    assert enroll_ca(controller, device[1]).status == 200
    reply = authenticate(controller, device[1])
    assert reply.status == 200, reply.body
    return reply.json()["data"]["token"]


def current_identity(controller, token: str):
    return get(controller, "/current-identity", headers={"zt-session": token})


CHANGES = {
    "its CA is deleted": lambda: CertificateAuthority.objects.all().delete(),
    "its CA turns authentication off": lambda: CertificateAuthority.objects.update(is_auth_enabled=False),
    "its CA is unverified": lambda: CertificateAuthority.objects.update(is_verified=False),
    "its authenticator is deleted": lambda: Authenticator.objects.all().delete(),
    "its identity is disabled": lambda: set_identity_disabled(Identity.objects.get(), True),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_session_dies_with_what_it_was_opened_with(controller, session, change):
    assert current_identity(controller, session).status == 200

    CHANGES[change]()
    reply = current_identity(controller, session)

    assert (reply.status, reply.error_code) == (401, "UNAUTHORIZED")
    assert not ApiSession.objects.exists()


def test_disabling_an_identity_ends_its_sessions_at_once(controller, session):
    set_identity_disabled(Identity.objects.get(), True)

    assert not ApiSession.objects.exists()  # not only at the next use


def test_a_session_dies_when_its_certificate_expires(controller, session, time_machine):
    not_after = Authenticator.objects.get().not_after
    time_machine.move_to(not_after + dt.timedelta(seconds=1))

    assert current_identity(controller, session).status == 401


def test_a_session_idles_out(controller, session, settings, time_machine):
    settings.ZITI_API_SESSION_IDLE_MINUTES = 5
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6))

    assert current_identity(controller, session).status == 401


def test_use_does_not_keep_a_session_past_its_absolute_lifetime(controller, session, settings, time_machine):
    settings.ZITI_API_SESSION_IDLE_MINUTES = 30
    settings.ZITI_API_SESSION_MAX_MINUTES = 60
    start = dt.datetime.now(dt.UTC)
    for minutes in (20, 40, 59):
        time_machine.move_to(start + dt.timedelta(minutes=minutes))
        assert current_identity(controller, session).status == 200

    time_machine.move_to(start + dt.timedelta(minutes=61))
    reply = current_identity(controller, session)

    assert reply.status == 401
    assert "maximum lifetime" in reply.json()["error"]["message"]
