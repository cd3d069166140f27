"""A device whose answer was lost retries with the same key and gets its certificate."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pytest
from cryptography import x509

from identities.models import Authenticator, Enrollment
from identities.services import create_identity, set_identity_disabled
from tests.enrollment.test_ott_api import enroll
from tests.helpers import csr_pem, ec_key


@pytest.fixture
def enrollment(db) -> Enrollment:
    _identity, enrollment = create_identity(name="flaky-link", identity_type="device")
    return enrollment


def send_and_hang_up(controller, token: str, csr: str) -> None:
    """The request reaches the server; the client is gone before the answer comes."""
    body = csr.encode()
    request = (
        f"POST /enroll?method=ott&token={token} HTTP/1.1\r\nHost: localhost\r\n"
        f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", controller.port)) as plain:
        tls = controller.ssl_context().wrap_socket(plain, server_hostname="localhost")
        tls.sendall(request)
        tls.close()  # no read: the answer is lost
    deadline = time.monotonic() + 10
    while Enrollment.objects.get(token=token).consumed_at is None:
        assert time.monotonic() < deadline, "the server never redeemed the token"
        time.sleep(0.05)


def certificate_of(reply) -> x509.Certificate:
    return x509.load_pem_x509_certificates(reply.json()["data"]["cert"].encode())[0]


def test_a_retry_with_the_same_key_gets_the_same_certificate(controller, enrollment):
    key = ec_key()
    send_and_hang_up(controller, enrollment.token, csr_pem(key))

    retry = enroll(controller, enrollment.token, csr_pem(key))  # a fresh CSR, the same key

    assert retry.status == 200, retry.body
    issued = Authenticator.objects.get()
    assert format(certificate_of(retry).serial_number, "x") == issued.serial
    assert Authenticator.objects.count() == 1  # nothing new was issued


def test_a_retry_with_another_key_is_still_refused(controller, enrollment):
    send_and_hang_up(controller, enrollment.token, csr_pem(ec_key()))

    replay = enroll(controller, enrollment.token, csr_pem(ec_key()))

    assert (replay.status, replay.error_code) == (400, "INVALID_ENROLLMENT_TOKEN")


def test_a_retry_after_the_window_is_refused(controller, enrollment, time_machine, settings):
    settings.ZITI_ENROLLMENT_RETRY_SECONDS = 60
    key = ec_key()
    send_and_hang_up(controller, enrollment.token, csr_pem(key))
    time_machine.move_to(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=61))

    late = enroll(controller, enrollment.token, csr_pem(key))

    assert (late.status, late.error_code) == (400, "INVALID_ENROLLMENT_TOKEN")


def test_no_retry_for_an_identity_disabled_meanwhile(controller, enrollment):
    key = ec_key()
    send_and_hang_up(controller, enrollment.token, csr_pem(key))
    set_identity_disabled(enrollment.identity, True)

    assert enroll(controller, enrollment.token, csr_pem(key)).status == 400
