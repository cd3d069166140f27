"""The TLS client certificate of a request, as the server (or a trusted proxy) saw it."""

from __future__ import annotations

from collections.abc import Callable

from cryptography import x509
from django.http import HttpRequest, HttpResponse


def _certificate_from(request: HttpRequest) -> x509.Certificate | None:
    pem = request.META.get("SSL_CLIENT_CERT")
    if not pem:
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def client_certificate(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Set `request.client_certificate`: the verified leaf the client presented, or None."""

    def middleware(request: HttpRequest) -> HttpResponse:
        request.client_certificate = _certificate_from(request)  # type: ignore[attr-defined]
        return get_response(request)

    return middleware
