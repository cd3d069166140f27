"""The TLS client certificate of a request, as the server (or a trusted proxy) saw it."""

from __future__ import annotations

import ipaddress
import logging
import urllib.parse
from collections.abc import Callable
from functools import cache

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_proxies(configured: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in configured if entry)
    except ValueError as exc:
        raise ImproperlyConfigured(f"ZITI_TRUSTED_PROXIES: {exc}") from exc


def _from_trusted_proxy(request: HttpRequest) -> bool:
    proxies = _trusted_proxies(tuple(settings.ZITI_TRUSTED_PROXIES))
    if not proxies:
        return False
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in proxies)


def _forwarded_pem(request: HttpRequest) -> str | None:
    """nginx's $ssl_client_escaped_cert: the client's PEM, URL-encoded."""
    meta_key = "HTTP_" + settings.ZITI_CLIENT_CERT_HEADER.upper().replace("-", "_")
    escaped = request.META.get(meta_key)
    return urllib.parse.unquote(escaped) if escaped else None


def _certificate_from(request: HttpRequest) -> x509.Certificate | None:
    # Behind a trusted proxy the TLS peer is the proxy, so only the forwarded header
    # speaks for the client; from anyone else that header is ignored.
    pem = _forwarded_pem(request) if _from_trusted_proxy(request) else request.META.get("SSL_CLIENT_CERT")
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        log.info("ignoring an unparseable client certificate from %s", request.META.get("REMOTE_ADDR"))
        return None


def client_certificate_of(request: object) -> x509.Certificate | None:
    """The certificate the middleware found; works on Django and DRF requests alike."""
    return getattr(request, "client_certificate", None)


def client_certificate(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Set `request.client_certificate`: the leaf the client presented, or None.

    Directly, the TLS server has verified the chain; through a proxy nothing has. Every
    use of the certificate verifies it again in application code either way.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        request.client_certificate = _certificate_from(request)  # type: ignore[attr-defined]
        return get_response(request)

    return middleware
