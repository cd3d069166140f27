"""Talking to the controller over TLS with the standard library only.

Three kinds of connection, in the order trust is built up:
- `fetch_leaf`: unverified TLS, only to read the certificate the server presents;
- `get_ca_bundle`: unverified TLS pinned to that (now JWT-authenticated) certificate;
- `Channel`: TLS verified against the CA bundle with a hostname check, optionally
  presenting the device's certificate.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import (
    ControllerNotTrusted,
    ControllerUnreachable,
    EnrollmentRefused,
    InputUnreadable,
    ProtocolError,
)
from .tokens import ControllerAddress

CACERTS_PATH = "/.well-known/est/cacerts"
ENROLL_PATH = "/enroll"
USER_AGENT = "ziti-enroller/1"
# Replies are certificates and small envelopes; cap what a hostile server can make us read.
MAX_REPLY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str  # media type only, lower case, no parameters
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


def _unverified_context() -> ssl.SSLContext:
    # Deliberately unverified: we have no trust anchor yet. Whatever this connection
    # yields is checked against the JWT signature (leaf) or pinned to it (bundle).
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def verified_context(ca_bundle_pem: str, client_cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    """Trust exactly the controller's CA bundle (no system roots), hostname checked."""
    context = ssl.create_default_context(cadata=ca_bundle_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if client_cert is not None:
        cert_path, key_path = client_cert
        try:
            context.load_cert_chain(cert_path, key_path)
        except (OSError, ssl.SSLError) as exc:
            raise InputUnreadable(f"cannot use {cert_path} and {key_path} for TLS: {exc}") from exc
    return context


@contextlib.contextmanager
def network_errors(controller: ControllerAddress) -> Iterator[None]:
    """Turn socket, TLS and HTTP exceptions into one-sentence enroller errors."""
    where = f"the controller at {controller.netloc}"
    try:
        yield
    except ssl.SSLCertVerificationError as exc:
        raise ControllerNotTrusted(f"TLS verification of {where} failed: {exc.verify_message}") from exc
    except ssl.SSLError as exc:
        raise ControllerNotTrusted(f"the TLS handshake with {where} failed: {exc.reason or exc}") from exc
    except socket.gaierror as exc:
        raise ControllerUnreachable(
            f"cannot reach {where}: the host name does not resolve ({exc.strerror})"
        ) from exc
    except ConnectionRefusedError as exc:
        raise ControllerUnreachable(f"cannot reach {where}: connection refused") from exc
    except TimeoutError as exc:
        raise ControllerUnreachable(f"cannot reach {where}: timed out") from exc
    except http.client.HTTPException as exc:
        raise ProtocolError(f"{where} sent a malformed HTTP reply ({type(exc).__name__})") from exc
    except OSError as exc:
        raise ControllerUnreachable(f"cannot reach {where}: {exc.strerror or exc}") from exc


def fetch_leaf(controller: ControllerAddress, timeout: float) -> bytes:
    """The DER leaf certificate the controller presents (not verified here)."""
    with (
        network_errors(controller),
        socket.create_connection((controller.host, controller.port), timeout=timeout) as raw,
        _unverified_context().wrap_socket(raw, server_hostname=controller.host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ControllerNotTrusted(f"the controller at {controller.netloc} presented no certificate")
    return der


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Unverified TLS that insists on the very certificate that verified the JWT."""

    def __init__(self, controller: ControllerAddress, pinned_der: bytes, timeout: float) -> None:
        super().__init__(controller.host, controller.port, timeout=timeout, context=_unverified_context())
        self._pinned_der = pinned_der

    def connect(self) -> None:
        super().connect()
        if self.sock.getpeercert(binary_form=True) != self._pinned_der:
            self.close()
            raise ControllerNotTrusted(
                "the controller presented a different certificate than the one that verified the JWT"
            )


def get_ca_bundle(controller: ControllerAddress, pinned_der: bytes, timeout: float) -> bytes:
    """The raw body of /.well-known/est/cacerts, from the server holding the JWT's key."""
    connection = _PinnedHTTPSConnection(controller, pinned_der, timeout)
    reply = _exchange(connection, controller, "GET", CACERTS_PATH, None, {"Accept": "application/pkcs7-mime"})
    if reply.status != 200:
        raise ProtocolError(f"the controller answered HTTP {reply.status} for its CA bundle")
    return reply.body


class Channel:
    """Verified TLS to the controller, used once trust is established."""

    def __init__(
        self,
        controller: ControllerAddress,
        ca_bundle_pem: str,
        timeout: float,
        client_cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.controller = controller
        self._context = verified_context(ca_bundle_pem, client_cert)
        self._timeout = timeout

    def post(self, target: str, body: bytes | None, content_type: str, session: str | None = None) -> Reply:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        if session is not None:
            headers["zt-session"] = session
        connection = http.client.HTTPSConnection(
            self.controller.host, self.controller.port, timeout=self._timeout, context=self._context
        )
        return _exchange(connection, self.controller, "POST", target, body, headers)


def _exchange(
    connection: http.client.HTTPSConnection,
    controller: ControllerAddress,
    method: str,
    target: str,
    body: bytes | None,
    headers: dict[str, str],
) -> Reply:
    headers = {"User-Agent": USER_AGENT, **headers}
    with network_errors(controller), contextlib.closing(connection):
        # Content-Length even when empty: wire-protocol.md allows a bodyless ottca/ca POST.
        if body is None and method == "POST":
            body = b""
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read(MAX_REPLY_BYTES + 1)
        if len(data) > MAX_REPLY_BYTES:
            raise ProtocolError("the controller's reply is too large")
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        return Reply(response.status, media_type, data, {k.lower(): v for k, v in response.getheaders()})


def envelope_data(reply: Reply) -> Any:
    """The `data` of a JSON success envelope; an error envelope raises EnrollmentRefused."""
    document = _json_or_none(reply.body) if reply.content_type == "application/json" else None
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        raise EnrollmentRefused(
            _printable(error.get("code"), "UNKNOWN"),
            _printable(error.get("message"), "no message"),
            reply.status,
        )
    if reply.status >= 400:
        raise ProtocolError(f"the controller answered HTTP {reply.status} without an error envelope")
    if not isinstance(document, dict) or not isinstance(document.get("data"), dict):
        raise ProtocolError("the controller's reply is not a JSON envelope with a data object")
    return document["data"]


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None


def _printable(value: object, default: str) -> str:
    """Server text goes to a terminal: drop control characters (escape sequences, newlines)."""
    if not isinstance(value, str) or not value.strip():
        return default
    return "".join(ch if ch.isprintable() else " " for ch in value).strip()
