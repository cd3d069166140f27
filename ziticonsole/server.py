"""The HTTPS server: cheroot's thread pool behind our mutual-TLS trust store.

The TLS handshake runs in a worker thread, not in cheroot's single acceptor thread, so
a client that opens a connection and stalls cannot hold up everyone else.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from django.db import close_old_connections

from authorities.truststore import TrustStore

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024


class MutualTLSAdapter(BuiltinSSLAdapter):
    """Wraps accepted sockets for TLS without doing the handshake yet."""

    def __init__(self, trust_store: TrustStore) -> None:
        # The base class would build its own context from files; ours comes from the
        # trust store and switches per handshake through its SNI callback.
        self.trust_store = trust_store
        self.context = trust_store.base_context
        self.certificate = self.private_key = self.certificate_chain = self.ciphers = None
        self._server_env: dict[str, Any] = {}

    def wrap(self, sock: Any) -> tuple[ssl.SSLSocket, dict[str, Any]]:
        return self.context.wrap_socket(sock, do_handshake_on_connect=False, server_side=True), {}


class _RequestLineReader:
    """Reads the request line, turning a target of `//enroll` into `/enroll`.

    Some SDKs join base URL and path naively. HTTP parsers (cheroot's too) read a
    leading `//` as the start of an authority, so it is fixed before parsing; repeated
    slashes later in a path are collapsed by Django middleware.
    """

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile

    def readline(self, *args: Any) -> bytes:
        line: bytes = self._rfile.readline(*args)
        method, space, rest = line.partition(b" ")
        if rest.startswith(b"//"):
            line = method + space + b"/" + rest.lstrip(b"/")
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rfile, name)


class ControllerRequest(cheroot_server.HTTPRequest):
    def read_request_line(self) -> Any:
        rfile = self.rfile
        self.rfile = _RequestLineReader(rfile)
        try:
            return super().read_request_line()
        finally:
            self.rfile = rfile


class TLSConnection(cheroot_server.HTTPConnection):
    """Completes the handshake in the worker thread that serves the connection."""

    RequestHandlerClass = ControllerRequest

    handshake_done = False
    client_cert_pem: str | None = None

    def communicate(self) -> bool:
        try:
            if not self.handshake_done and not self._handshake():
                return False
            return bool(super().communicate())
        finally:
            # The handshake's trust-store query runs outside Django's request cycle,
            # so nothing else would release this thread's database connection.
            close_old_connections()

    def _handshake(self) -> bool:
        try:
            self.socket.do_handshake()
        except (ssl.SSLError, OSError) as exc:
            log.info("TLS handshake with %s failed: %s", self.remote_addr, exc)
            return False
        self.handshake_done = True
        der = self.socket.getpeercert(binary_form=True)
        self.client_cert_pem = ssl.DER_cert_to_PEM_cert(der) if der else None
        return True


class MutualTLSGateway(wsgi.Gateway_10):
    """Puts the verified client leaf into the WSGI environ, as mod_ssl names it."""

    def get_environ(self) -> dict[str, Any]:  # type: ignore[override]  # cheroot annotates None
        environ = super().get_environ()
        environ["wsgi.url_scheme"] = "https"
        environ["HTTPS"] = "on"
        pem = getattr(self.req.conn, "client_cert_pem", None)
        if pem:
            environ["SSL_CLIENT_CERT"] = pem
        return environ


class ControllerServer(wsgi.Server):
    ConnectionClass = TLSConnection

    def __init__(
        self,
        bind: tuple[str, int],
        app: Any,
        trust_store: TrustStore,
        *,
        threads: int,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(
            bind,
            app,
            numthreads=threads,
            timeout=30,
            reuse_port=reuse_port,
            server_name="ziti-controller",
            # cheroot's default backlog of 5 drops SYNs when a fleet connects at once,
            # and each drop costs the client a one-second retransmit.
            request_queue_size=LISTEN_BACKLOG,
        )
        self.gateway = MutualTLSGateway
        self.ssl_adapter = MutualTLSAdapter(trust_store)
