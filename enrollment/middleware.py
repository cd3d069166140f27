"""The TLS client certificate of a request, as the server (or a trusted proxy) saw it."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import urllib.parse
from collections.abc import Callable
from functools import cache

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from authorities.pki import is_proxy_certificate

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _trusted_proxies(configured: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in configured if entry)
    except ValueError as exc:
        raise ImproperlyConfigured(f"ZITI_TRUSTED_PROXIES: {exc}") from exc


def _address_allowed(request: HttpRequest) -> bool:
    proxies = _trusted_proxies(tuple(settings.ZITI_TRUSTED_PROXIES))
    if not proxies:
        return True
    try:
        peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(peer in network for network in proxies)


def _from_proven_proxy(request: HttpRequest) -> bool:
    """Whether the peer proved it is our proxy: by the Unix socket, or by its certificate.

    An address proves nothing (any local process can connect from 127.0.0.1), so
    ZITI_TRUSTED_PROXIES only narrows a proof, never replaces one.
    """
    if request.META.get("ziti.via_proxy_socket"):
        return True  # only the proxy's user can connect to it (mode 0660)
    peer_certificate = request.META.get("ziti.peer_certificate")
    return (
        peer_certificate is not None and is_proxy_certificate(peer_certificate) and _address_allowed(request)
    )


def _forwarded_pem(request: HttpRequest) -> str | None:
    """nginx's $ssl_client_escaped_cert: the client's PEM, URL-encoded."""
    meta_key = "HTTP_" + settings.ZITI_CLIENT_CERT_HEADER.upper().replace("-", "_")
    escaped = request.META.get(meta_key)
    return urllib.parse.unquote(escaped) if escaped else None


def _forwarded_certificate(request: HttpRequest) -> x509.Certificate | None:
    pem = _forwarded_pem(request)
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        log.info(
            "ignoring an unparseable forwarded client certificate from %s", request.META.get("REMOTE_ADDR")
        )
        return None


def _certificate_from(request: HttpRequest) -> x509.Certificate | None:
    # Behind the proxy the TLS peer is the proxy, so only the forwarded header speaks
    # for the client; from anyone else that header is ignored.
    if _from_proven_proxy(request):
        real_ip = request.META.get("HTTP_X_REAL_IP", "")
        with contextlib.suppress(ValueError):
            request.META["REMOTE_ADDR"] = str(ipaddress.ip_address(real_ip))
        return _forwarded_certificate(request)
    certificate: x509.Certificate | None = request.META.get("ziti.peer_certificate")
    return certificate


def client_certificate_of(request: object) -> x509.Certificate | None:
    """The certificate the middleware found; works on Django and DRF requests alike."""
    return getattr(request, "client_certificate", None)


def client_certificate(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Set `request.client_certificate`: the leaf the client presented, or None.

    Nobody has verified it yet: the TLS server accepts any certificate (the peer has
    proved it holds the key), and the proxy forwards what it got. Every use of the
    certificate verifies it in application code.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        request.client_certificate = _certificate_from(request)  # type: ignore[attr-defined]
        return get_response(request)

    return middleware
