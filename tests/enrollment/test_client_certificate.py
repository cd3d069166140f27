"""Where a request's client certificate comes from: the TLS peer, or a proxy that proved itself."""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from authorities.pki import PROXY_URI, issue_proxy_certificate
from enrollment.middleware import client_certificate
from tests.helpers import ec_key, make_ca


@pytest.fixture
def certs():
    ca = make_ca()
    return ca.issue("direct")[0], ca.issue("forwarded")[0]


@pytest.fixture
def proxy_cert(pki) -> x509.Certificate:
    return issue_proxy_certificate(ec_key().public_key(), "nginx")


def seen_request(
    remote_addr: str,
    direct=None,
    forwarded=None,
    *,
    via_socket: bool = False,
    header: str = "HTTP_X_CLIENT_CERT",
    **extra: str,
):
    meta = {"REMOTE_ADDR": remote_addr, "ziti.peer_certificate": direct, "ziti.via_proxy_socket": via_socket}
    if forwarded is not None:
        meta[header] = urllib.parse.quote(forwarded.public_bytes(Encoding.PEM).decode())
    request = RequestFactory().post("/enroll", **meta, **extra)
    client_certificate(lambda r: HttpResponse())(request)
    return request


def seen_certificate(*args, **kwargs):
    return seen_request(*args, **kwargs).client_certificate


def test_a_direct_peer_is_judged_by_its_own_certificate_and_the_header_is_ignored(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = []
    direct, forwarded = certs

    assert seen_certificate("127.0.0.1", direct, forwarded) == direct
    assert seen_certificate("127.0.0.1", None, forwarded) is None


def test_an_address_alone_proves_nothing(settings, certs):
    """Any local process connects from 127.0.0.1; it must not claim a victim's certificate."""
    settings.ZITI_TRUSTED_PROXIES = ["127.0.0.1"]
    direct, victim = certs

    assert seen_certificate("127.0.0.1", None, victim) is None
    assert seen_certificate("127.0.0.1", direct, victim) == direct


def test_on_the_proxy_socket_only_the_header_counts(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = []
    _direct, forwarded = certs

    assert seen_certificate("unix", None, forwarded, via_socket=True) == forwarded
    assert seen_certificate("unix", None, None, via_socket=True) is None


def test_a_proxy_certificate_of_our_pki_makes_the_header_count(settings, certs, proxy_cert):
    settings.ZITI_TRUSTED_PROXIES = []
    _direct, forwarded = certs

    assert seen_certificate("10.0.0.7", proxy_cert, forwarded) == forwarded
    # The proxy's own certificate never stands in for the device's.
    assert seen_certificate("10.0.0.7", proxy_cert, None) is None


def test_trusted_proxies_narrow_the_proxy_certificate_to_those_addresses(settings, certs, proxy_cert):
    settings.ZITI_TRUSTED_PROXIES = ["10.0.0.0/24", "::1"]
    _direct, forwarded = certs

    assert seen_certificate("10.0.0.7", proxy_cert, forwarded) == forwarded
    assert seen_certificate("::1", proxy_cert, forwarded) == forwarded
    assert seen_certificate("10.0.1.7", proxy_cert, forwarded) == proxy_cert


def test_a_look_alike_proxy_certificate_from_another_ca_is_not_a_proof(settings, certs, pki):
    settings.ZITI_TRUSTED_PROXIES = []
    stranger = make_ca("Stranger CA")
    key = ec_key()
    now = dt.datetime.now(dt.UTC)
    fake = (
        x509.CertificateBuilder()
        .subject_name(pki.signing_cert.subject)
        .issuer_name(pki.signing_cert.subject)  # claims our signing CA as its issuer
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(PROXY_URI)]), critical=False
        )
        .sign(stranger.key, hashes.SHA256())
    )
    _direct, victim = certs

    assert seen_certificate("127.0.0.1", fake, victim) == fake


def test_an_expired_proxy_certificate_is_not_a_proof(settings, certs, proxy_cert, time_machine):
    settings.ZITI_TRUSTED_PROXIES = []
    _direct, forwarded = certs
    time_machine.move_to(proxy_cert.not_valid_after_utc + dt.timedelta(seconds=1))

    assert seen_certificate("127.0.0.1", proxy_cert, forwarded) == proxy_cert


def test_behind_the_proxy_the_client_address_is_the_one_it_forwards(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = []
    _direct, forwarded = certs

    request = seen_request("unix", None, forwarded, via_socket=True, HTTP_X_REAL_IP="192.0.2.9")

    assert request.META["REMOTE_ADDR"] == "192.0.2.9"


def test_the_header_name_is_configurable(settings, certs):
    settings.ZITI_CLIENT_CERT_HEADER = "SSL-Client-Cert"
    _direct, forwarded = certs

    assert (
        seen_certificate("unix", None, forwarded, via_socket=True, header="HTTP_SSL_CLIENT_CERT") == forwarded
    )


def test_garbage_in_the_header_is_no_certificate(settings):
    request = RequestFactory().post(
        "/enroll", REMOTE_ADDR="unix", HTTP_X_CLIENT_CERT="not%20a%20cert", **{"ziti.via_proxy_socket": True}
    )
    client_certificate(lambda r: HttpResponse())(request)

    assert request.client_certificate is None


def test_a_bad_proxy_list_is_a_configuration_error(settings, proxy_cert):
    settings.ZITI_TRUSTED_PROXIES = ["not-an-address"]

    with pytest.raises(ImproperlyConfigured, match="ZITI_TRUSTED_PROXIES"):
        seen_certificate("127.0.0.1", proxy_cert)
