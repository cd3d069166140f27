"""Where a request's client certificate comes from: the TLS server, or a trusted proxy."""

from __future__ import annotations

import urllib.parse

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import RequestFactory

from enrollment.middleware import client_certificate
from tests.helpers import make_ca


@pytest.fixture
def certs():
    ca = make_ca()
    return ca.issue("direct")[0], ca.issue("forwarded")[0]


def seen_certificate(remote_addr: str, direct=None, forwarded=None, header: str = "HTTP_X_CLIENT_CERT"):
    meta = {"REMOTE_ADDR": remote_addr}
    if direct is not None:
        meta["SSL_CLIENT_CERT"] = direct.public_bytes(Encoding.PEM).decode()
    if forwarded is not None:
        meta[header] = urllib.parse.quote(forwarded.public_bytes(Encoding.PEM).decode())
    request = RequestFactory().post("/enroll", **meta)
    client_certificate(lambda r: HttpResponse())(request)
    return request.client_certificate


def test_without_trusted_proxies_the_header_is_ignored(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = []
    direct, forwarded = certs

    assert seen_certificate("127.0.0.1", direct, forwarded) == direct
    assert seen_certificate("127.0.0.1", None, forwarded) is None


def test_from_a_trusted_proxy_only_the_header_counts(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = ["10.0.0.0/24", "::1"]
    direct, forwarded = certs

    assert seen_certificate("10.0.0.7", direct, forwarded) == forwarded
    assert seen_certificate("::1", direct, forwarded) == forwarded
    # The proxy's own TLS client certificate never stands in for the device's.
    assert seen_certificate("10.0.0.7", direct, None) is None


def test_from_any_other_address_the_header_is_ignored(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = ["10.0.0.0/24"]
    direct, forwarded = certs

    assert seen_certificate("10.0.1.7", direct, forwarded) == direct


def test_the_header_name_is_configurable(settings, certs):
    settings.ZITI_TRUSTED_PROXIES = ["127.0.0.1"]
    settings.ZITI_CLIENT_CERT_HEADER = "SSL-Client-Cert"
    _direct, forwarded = certs

    assert seen_certificate("127.0.0.1", None, forwarded, header="HTTP_SSL_CLIENT_CERT") == forwarded


def test_garbage_in_the_header_is_no_certificate(settings):
    settings.ZITI_TRUSTED_PROXIES = ["127.0.0.1"]
    request = RequestFactory().post("/enroll", REMOTE_ADDR="127.0.0.1", HTTP_X_CLIENT_CERT="not%20a%20cert")
    client_certificate(lambda r: HttpResponse())(request)

    assert request.client_certificate is None


def test_a_bad_proxy_list_is_a_configuration_error(settings):
    settings.ZITI_TRUSTED_PROXIES = ["not-an-address"]

    with pytest.raises(ImproperlyConfigured, match="ZITI_TRUSTED_PROXIES"):
        seen_certificate("127.0.0.1")
