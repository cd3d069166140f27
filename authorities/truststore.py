"""What the TLS server trusts for client certificates, kept current without a restart.

Python's `ssl` aborts a handshake when a requested client certificate does not verify,
so the server's trust store must hold every CA whose certificates the application may
want to judge: the internal CA and every third-party CA. Application code then decides
(wire-protocol.md, "Mutual TLS on the controller").
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable

from authorities.pki import ControllerPKI

# OpenSSL's X509_V_FLAG_NO_CHECK_TIME: an expired device certificate still completes the
# handshake, so the API can answer CERT_FAILED_VALIDATION in words instead of a TLS
# alert. Every use of a client certificate re-verifies it, dates included, in
# application code.
VERIFY_NO_CHECK_TIME = 0x200000


def _tls_context(pki: ControllerPKI, trusted_pem: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.server_cert_path, pki.server_key_path)
    # Ask for a certificate, but let clients without one in (enrollment, console).
    context.verify_mode = ssl.CERT_OPTIONAL
    # Third-party CAs are often intermediates: trust them as anchors on their own.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | VERIFY_NO_CHECK_TIME
    context.load_verify_locations(cadata=trusted_pem)
    return context


class TrustStore:
    """Hands every TLS handshake a context that trusts the CAs of this moment.

    `trusted_pems` returns the PEM certificates of the third-party CAs; it runs on every
    handshake, so it must be cheap. A context is rebuilt only when that set changes.
    """

    def __init__(self, pki: ControllerPKI, trusted_pems: Callable[[], list[str]]) -> None:
        self._pki = pki
        self._trusted_pems = trusted_pems
        self._lock = threading.Lock()
        self._trusted: list[str] | None = None  # the third-party PEMs `_current` was built with
        self._current: ssl.SSLContext | None = None
        self.base_context = _tls_context(pki, pki.ca_bundle_pem)
        # Runs on every handshake, also when the client sends no SNI (an IP address URL).
        self.base_context.sni_callback = self._select_context

    def current_context(self) -> ssl.SSLContext:
        trusted = self._trusted_pems()
        with self._lock:
            if self._current is None or trusted != self._trusted:
                self._current = _tls_context(self._pki, "".join([self._pki.ca_bundle_pem, *trusted]))
                self._trusted = trusted
            return self._current

    def _select_context(self, ssl_object: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        ssl_object.context = self.current_context()
