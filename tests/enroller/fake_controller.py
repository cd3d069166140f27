"""A stand-in controller for what the real one cannot (yet) do: ottca and ca enrollment,
raw PEM replies, and misbehaviour that the enroller must catch (wrong chain, SANs,
swapped certificates, bad replies).

It is the standard library's HTTPS server with a scripted /enroll; it records each
request and the client certificate presented in the handshake.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from authorities.pki import ControllerPKI


@dataclass
class Seen:
    """One request as the fake controller received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_cert_der: bytes | None


@dataclass
class ScriptedReply:
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b'{"data":{},"meta":{}}'

    @classmethod
    def json(cls, document: Any, status: int = 200) -> ScriptedReply:
        return cls(status, "application/json", json.dumps(document).encode())

    @classmethod
    def error(cls, code: str, message: str, status: int = 400) -> ScriptedReply:
        return cls.json({"error": {"code": code, "message": message}, "meta": {}}, status)


EnrollScript = Callable[[Seen], ScriptedReply]


@dataclass
class ServerIdentity:
    """What the fake presents in TLS: files for ssl, and the key that signs its JWTs."""

    cert_path: Path
    key_path: Path
    key: CertificateIssuerPrivateKeyTypes


@dataclass
class FakeController:
    identity: ServerIdentity
    bundle: list[x509.Certificate]
    enroll: EnrollScript = lambda seen: ScriptedReply()
    client_cas_pem: str | None = None
    cacerts_body: bytes | None = None  # None: the bundle, as the real controller sends it
    later_identity: ServerIdentity | None = None  # presented from the second handshake on
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    def sign(self, claims: dict[str, Any], key: CertificateIssuerPrivateKeyTypes | None = None) -> str:
        """A JWT from this controller (iss = its URL), signed with its server key by default."""
        return jwt.encode({"iss": self.url, **claims}, key or self.identity.key, algorithm="RS256")

    def enroll_requests(self) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith("/enroll")]


def _context(identity: ServerIdentity, client_cas_pem: str | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(identity.cert_path, identity.key_path)
    if client_cas_pem:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cadata=client_cas_pem)
    return context


def _handler(fake: FakeController) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _seen(self) -> Seen:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                client_cert_der=self.connection.getpeercert(binary_form=True),  # type: ignore[attr-defined]
            )
            fake.seen.append(seen)
            return seen

        def _reply(self, reply: ScriptedReply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def do_GET(self) -> None:
            self._seen()
            if self.path != "/.well-known/est/cacerts":
                self._reply(ScriptedReply.error("NOT_FOUND", "no such path", 404))
                return
            body = fake.cacerts_body
            if body is None:
                body = base64.encodebytes(
                    pkcs7.serialize_certificates(fake.bundle, serialization.Encoding.DER)
                )
            self._reply(ScriptedReply(200, "application/pkcs7-mime", body))

        def do_POST(self) -> None:
            self._reply(fake.enroll(self._seen()))

    return Handler


@contextmanager
def running(fake: FakeController) -> Iterator[FakeController]:
    """Serve `fake` on a free loopback port for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    first = _context(fake.identity, fake.client_cas_pem)
    if fake.later_identity is not None:
        later = _context(fake.later_identity, fake.client_cas_pem)
        handshakes = iter(range(1_000_000))

        def switch(ssl_object: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
            if next(handshakes) > 0:
                ssl_object.context = later

        first.sni_callback = switch
    server.socket = first.wrap_socket(server.socket, server_side=True)
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="fake-controller", daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def real_server_identity(pki: ControllerPKI) -> ServerIdentity:
    """The real controller's server certificate and key: chains to the real bundle."""
    return ServerIdentity(pki.server_cert_path, pki.server_key_path, pki.server_key)


def self_signed_identity(
    directory: Path,
    *,
    sans: list[x509.GeneralName] | None = None,
    key: CertificateIssuerPrivateKeyTypes | None = None,
    not_after: dt.datetime | None = None,
    stem: str = "rogue",
) -> ServerIdentity:
    """A server certificate no bundle vouches for; by default covering localhost."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    names = sans or [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue controller")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=2))
        .not_valid_after(not_after or now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return ServerIdentity(cert_path, key_path, key)
