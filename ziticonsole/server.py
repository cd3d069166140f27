"""The HTTPS server: Twisted's event loop holds the connections, a thread pool runs Django.

A controller faces the whole network. With a thread per connection, a few hundred
sockets that connect and send nothing starve every worker; here a connection costs a
few kilobytes and a timer until its request is complete, and only complete requests
reach the thread pool. TLS is pyOpenSSL behind Twisted's memory BIO, which lets the
handshake accept any client certificate and leave the judgement to the application
(wire-protocol.md, "Mutual TLS on the controller").

Limits, each configurable in settings: a deadline for the handshake plus the request
headers, another for the body, the request line (414), the header block and count
(431), and the body (413, as the JSON error envelope on API paths). Misbehaving clients
get one escaped log line each, rate-limited per address, never a traceback.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import time
from collections.abc import Callable, Generator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from django.conf import settings
from OpenSSL import SSL
from twisted.internet import address, defer, interfaces, threads, unix
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import connectionDone
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from twisted.web import http, resource, server
from zope.interface import implementer

from enrollment.errors import error_envelope
from kernel.allowance import WindowedAllowance
from ziticonsole.middleware import is_api_path

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 1024
PROXY_SOCKET_MODE = 0o660  # the proxy's user or group, nobody else
REFUSAL_LINGER_S = 2.0
# Python's own default for TLS servers: forward secrecy and AEAD ciphers only.
TLS12_CIPHERS = b"@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"


@dataclass(frozen=True)
class Limits:
    """What one connection may cost before it is refused or closed."""

    header_timeout_s: float  # from accept (or the previous response) to complete headers
    body_timeout_s: float  # from complete headers to the complete body
    max_request_line: int  # bytes; longer answers 414
    max_header_bytes: int  # the whole header block; larger answers 431
    max_headers: int  # header fields; more answers 431
    max_api_body: int  # bytes; larger answers 413 in the JSON envelope
    max_console_body: int  # bytes; larger answers 413 with a page

    @classmethod
    def from_settings(cls, *, idle_timeout_s: float | None = None) -> Limits:
        header_timeout = settings.ZITI_HEADER_TIMEOUT if idle_timeout_s is None else idle_timeout_s
        return cls(
            header_timeout_s=header_timeout,
            body_timeout_s=settings.ZITI_BODY_TIMEOUT,
            max_request_line=settings.ZITI_MAX_REQUEST_LINE,
            max_header_bytes=settings.ZITI_MAX_HEADER_BYTES,
            max_headers=settings.ZITI_MAX_HEADERS,
            max_api_body=settings.ZITI_MAX_API_BODY,
            max_console_body=settings.ZITI_MAX_CONSOLE_BODY,
        )


class PeerLog:
    """One line per refused connection, at most one per address per window.

    A flood from one address must not flood the log: lines beyond the first in a
    window are counted and the count rides on the next line that is written.
    """

    WINDOW_S = 10.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._allowance = WindowedAllowance(1, self.WINDOW_S, clock=clock)

    def refused(self, peer: str, what: str) -> None:
        suppressed = self._allowance.take(peer)
        if suppressed is None:
            return
        more = f" ({suppressed} more from this address not logged)" if suppressed else ""
        log.info("refused %s: %s%s", peer, what, more)


def _accept_any_certificate(_conn: SSL.Connection, _cert: Any, _errno: int, _depth: int, _ok: int) -> bool:
    # Devices present certificates of CAs added at run time, of CAs since deleted, or
    # expired ones; the application answers each in words, so TLS accepts them all.
    # OpenSSL still checks the client's CertificateVerify: the peer holds the key.
    return True


@implementer(interfaces.IOpenSSLServerConnectionCreator)
class ServerTLS:
    """The server side of TLS: the controller's certificate, any client certificate."""

    def __init__(self, cert_path: str, key: Any) -> None:
        context = SSL.Context(SSL.TLS_SERVER_METHOD)
        context.set_min_proto_version(SSL.TLS1_2_VERSION)
        context.set_options(SSL.OP_NO_COMPRESSION | SSL.OP_CIPHER_SERVER_PREFERENCE | SSL.OP_NO_RENEGOTIATION)
        context.set_cipher_list(TLS12_CIPHERS)
        context.use_certificate_chain_file(cert_path)
        # The key object, not its file: the file may be encrypted at rest.
        context.use_privatekey(key)
        context.check_privatekey()
        # Ask for a certificate without requiring one: enrollment and the console go without.
        context.set_verify(SSL.VERIFY_PEER, _accept_any_certificate)
        context.set_session_id(b"ziti-controller")
        self._context = context

    def serverConnectionForTLS(self, _protocol: object) -> SSL.Connection:
        return SSL.Connection(self._context, None)


class ControllerRequest(server.Request):
    """A request whose body is bounded, also when it comes chunked."""

    channel: ControllerChannel
    _body_seen = 0

    def handleContentChunk(self, data: bytes) -> None:
        self._body_seen += len(data)
        if self._body_seen > self.channel.body_limit:
            self.channel.refuse_body(self._body_seen)
            return
        super().handleContentChunk(data)

    def getClientAddress(self) -> Any:
        peer = super().getClientAddress()
        if isinstance(peer, address.UNIXAddress):
            # WSGI wants a host; who the client really is, the middleware takes from the
            # proxy's header once it knows the peer is the proxy.
            return address.IPv4Address("TCP", "unix", 0)
        return peer

    def getHost(self) -> Any:
        host = super().getHost()
        if isinstance(host, address.UNIXAddress):
            return address.IPv4Address("TCP", "127.0.0.1", settings.ZITI_CTRL_PORT)
        return host


class ControllerChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 parser with deadlines and HTTP's own refusal codes."""

    site: ControllerSite
    _deadline: IDelayedCall | None = None
    _refused = False
    connection_lost = False
    _peer_certificate: x509.Certificate | None = None
    _peer_certificate_read = False
    body_limit = 0
    api_request = False  # whether the request being read is for the JSON API

    # --- deadlines -----------------------------------------------------------------
    def connectionMade(self) -> None:
        super().connectionMade()
        self.MAX_LENGTH = self.site.limits.max_request_line
        self.totalHeadersSize = self.site.limits.max_header_bytes
        self.maxHeaders = self.site.limits.max_headers
        self.site.channels.add(self)
        self._arm(self.site.limits.header_timeout_s, "no complete request in time")

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connection_lost = True
        self._disarm()
        self.site.channels.discard(self)
        super().connectionLost(reason)

    def _arm(self, seconds: float, why: str) -> None:
        self._disarm()
        self._deadline = self.site.reactor.callLater(seconds, self._deadline_passed, why)

    def _disarm(self) -> None:
        if self._deadline is not None and self._deadline.active():
            self._deadline.cancel()
        self._deadline = None

    def _deadline_passed(self, why: str) -> None:
        self._deadline = None
        self.site.peer_log.refused(self._peer_host(), why)
        # No goodbye owed to a peer that stalls; abort frees the socket at once.
        abort(self)

    # --- the request's phases -----------------------------------------------------
    def dataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        self._disarm()
        limits = self.site.limits
        self.api_request = self._is_api(self._path)
        self.body_limit = limits.max_api_body if self.api_request else limits.max_console_body
        if self.length is not None and self.length > self.body_limit:
            self.refuse_body(self.length)
            return
        super().allHeadersReceived()
        if self.length != 0:
            self._arm(limits.body_timeout_s, "request body not complete in time")

    def allContentReceived(self) -> None:
        if self._refused:
            return
        self._disarm()
        super().allContentReceived()

    def requestDone(self, request: http.Request) -> None:
        super().requestDone(request)
        if self.persistent and not self._refused:
            self._arm(self.site.limits.header_timeout_s, "idle after a response")

    # --- refusals -------------------------------------------------------------------
    def lineLengthExceeded(self, line: bytes) -> None:
        # `_command` exists from the parsed request line until the request is complete.
        if getattr(self, "_command", None) is None:
            target = line.split(b" ", 2)[1] if line.count(b" ") else b""
            self._refuse(414, "URI Too Long", "the request line is too long", self._is_api(target))
        else:
            self._refuse(
                431, "Request Header Fields Too Large", "a header line is too long", self._api_so_far()
            )

    def _respondToBadRequestAndDisconnect(self) -> None:
        if self._receivedHeaderSize > self.totalHeadersSize or self._receivedHeaderCount > self.maxHeaders:
            self._refuse(
                431, "Request Header Fields Too Large", "too many or too large headers", self._api_so_far()
            )
        else:
            self._refuse(400, "Bad Request", "the request is not valid HTTP/1.1", self._api_so_far())

    def refuse_body(self, size: int) -> None:
        self._refuse(
            413,
            "Content Too Large",
            f"the request body is larger than {self.body_limit} bytes",
            self.api_request,
            logged=f"a body of {size} bytes or more",
        )

    def _api_so_far(self) -> bool:
        path = getattr(self, "_path", None)  # there from the request line to the complete request
        return self._is_api(path) if path is not None else self.api_request

    def _refuse(self, status: int, phrase: str, message: str, api: bool, *, logged: str = "") -> None:
        if self._refused or self.transport is None:
            return
        self._refused = True
        self._disarm()
        self.site.peer_log.refused(self._peer_host(), f"{status} {logged or message}")
        content_type, body = refusal_body(status, message, api=api)
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n"
            f"Strict-Transport-Security: max-age={settings.SECURE_HSTS_SECONDS}\r\n"
            f"Content-Security-Policy: {settings.CONTENT_SECURITY_POLICY}\r\n\r\n"
        )
        self.transport.write(head.encode() + body)
        self.loseConnection()
        # Read no more of what the peer keeps sending, and give the answer a moment to
        # leave before the socket is cut.
        self._networkProducer.pauseProducing()
        self.site.reactor.callLater(REFUSAL_LINGER_S, abort, self)

    # --- facts for the application --------------------------------------------------
    def _is_api(self, target: bytes | None) -> bool:
        return is_api_path((target or b"").split(b"?", 1)[0].decode("iso-8859-1"))

    def _peer_host(self) -> str:
        peer = self.transport.getPeer() if self.transport is not None else None
        return str(getattr(peer, "host", None) or "unix socket")

    def peer_certificate(self) -> x509.Certificate | None:
        """The certificate the TLS peer presented, unverified; read once per connection."""
        if not self._peer_certificate_read:
            self._peer_certificate_read = True
            tls = interfaces.ISSLTransport(self.transport, None)
            cert: Any = tls.getPeerCertificate() if tls is not None else None  # pyOpenSSL's X509
            self._peer_certificate = cert.to_cryptography() if cert is not None else None
        return self._peer_certificate


def abort(channel: ControllerChannel) -> None:
    """Close at once, without the TLS goodbye: for peers that stall or are being dropped.

    A no-op once the connection is gone: a refusal's linger may outlive it.
    """
    transport: Any = channel.transport  # TLS and TCP transports both can abort
    if transport is not None and not channel.connection_lost:
        transport.abortConnection()


def refusal_body(status: int, message: str, *, api: bool) -> tuple[str, bytes]:
    """What a refused request reads: the API's error envelope, or a short page."""
    if api:
        code = {413: "REQUEST_TOO_LARGE", 414: "URI_TOO_LONG", 431: "HEADERS_TOO_LARGE"}.get(
            status, "BAD_REQUEST"
        )
        return "application/json", json.dumps(error_envelope(code, message)).encode()
    # Written here, in the event loop, before Django sees the request: the console's
    # stylesheets and theme give it the console's look, with no template to render.
    static = "/" + settings.STATIC_URL.strip("/")
    page = (
        '<!doctype html><html lang="en" data-bs-theme="light"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<script src="{static}/js/theme.js"></script>'
        f'<link rel="stylesheet" href="{static}/vendor/bootstrap/bootstrap.min.css">'
        f'<link rel="stylesheet" href="{static}/css/console.css">'
        "<title>Request refused · Ziti Controller</title>"
        '<body class="bg-body-tertiary"><main class="container py-4"><div class="card shadow-sm">'
        '<div class="card-body p-4">'
        f'<h1 class="h4">Request refused</h1><p>The server did not process this request: {message}.'
        " Nothing was saved.</p>"
        '<p class="mb-0">Go back and try again with less data.</p></div></div></main>'
    )
    return "text/html; charset=utf-8", page.encode()


def _detach_body(request: ControllerRequest) -> Any:
    """The complete request body, for Django alone.

    Twisted closes a request's body when the client goes away; Django may still be
    reading it in its thread then, and a device that hung up still deserves the work it
    asked for done (see `redeem_ott`'s retry). The pool thread closes it when done.
    """
    content = request.content
    request.content = io.BytesIO()  # type: ignore[assignment]  # Twisted types it as None
    return content


# The request headers a shared answer may vary on; one that varies on any other is not kept.
# Cookie: Django's login check reads the session on every request and says so in Vary;
# devices send no cookie, so they all share the one answer.
SHARED_VARY = (b"accept", b"accept-encoding", b"cookie")
SHARED_VARY_NAMES = {name.decode() for name in SHARED_VARY}
SHARED_MAX_AGE_S = 60.0  # the longest we replay an answer, whatever the view allows
SHARED_MAX_ENTRIES = 64


@dataclass(frozen=True)
class SharedAnswer:
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    stored: float
    expires: float

    def replayed(self, now: float) -> list[tuple[str, str]]:
        """The headers of a replay: Age says a shared cache answered (RFC 9111 §5.1)."""
        return [*self.headers, ("Age", str(int(now - self.stored)))]


def _max_age(cache_control: str) -> float | None:
    """max-age of a `public` Cache-Control without no-store or private, else None."""
    directives = {
        d.strip().lower().partition("=")[0]: d.strip().partition("=")[2] for d in cache_control.split(",")
    }
    if "public" not in directives or {"private", "no-store", "no-cache"} & directives.keys():
        return None
    try:
        return float(directives.get("max-age", ""))
    except ValueError:
        return None


class SharedAnswers:
    """Answers the application marked the same for every client, replayed from the event loop.

    The C SDK fetches the CA bundle (and often /version) on a new connection before each
    enrollment. Those answers are the same for everyone, so a view says so with
    `Cache-Control: public, max-age=N` and this small shared cache (RFC 9111's, for GET
    without a body) answers repeats without a trip through the thread pool and Django,
    for at most SHARED_MAX_AGE_S. Nothing with a cookie, another status than 200, or a
    Vary on anything but SHARED_VARY is kept.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.answers: dict[tuple[bytes, ...], SharedAnswer] = {}

    @staticmethod
    def key(request: http.Request) -> tuple[bytes, ...] | None:
        """What a request's answer may depend on; None when it may not be shared."""
        headers = request.requestHeaders
        if request.method != b"GET" or headers.hasHeader(b"transfer-encoding"):
            return None
        if headers.getRawHeaders(b"content-length", [b"0"]) != [b"0"]:
            return None
        # The Host too: Django refuses hosts it does not serve, and a replay must not skip that.
        return (
            request.uri,
            *(b",".join(headers.getRawHeaders(name, [])) for name in (b"host", *SHARED_VARY)),
        )

    def lookup(self, key: tuple[bytes, ...] | None) -> SharedAnswer | None:
        answer = self.answers.get(key) if key is not None else None
        if answer is not None and answer.expires <= self.clock():
            del self.answers[key]  # type: ignore[arg-type]
            return None
        return answer

    def keep(
        self, key: tuple[bytes, ...] | None, status: str, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        if key is None or not status.startswith("200 "):
            return
        named = {name.lower(): value for name, value in headers}
        max_age = _max_age(named.get("cache-control", ""))
        varies = {v.strip().lower() for v in named.get("vary", "").split(",") if v.strip()}
        if not max_age or max_age <= 0 or "set-cookie" in named or not varies <= SHARED_VARY_NAMES:
            return
        if len(self.answers) >= SHARED_MAX_ENTRIES:
            self.answers.clear()  # a few fixed paths fill it; a flood of query strings must not grow it
        now = self.clock()
        self.answers[key] = SharedAnswer(status, headers, body, now, now + min(max_age, SHARED_MAX_AGE_S))


class DjangoResource(resource.Resource):
    """Django in a thread pool, answering each request with one hop back to the reactor.

    Twisted's own WSGI bridge blocks the pool thread on the reactor for every chunk it
    writes; Django answers in one piece, so the thread builds the whole answer and hands
    it over once. That spares a round trip between threads per request, which on a
    2-core machine costs as much as Django's /version view itself.
    """

    isLeaf = True

    def __init__(self, reactor: Any, app: Any, *, threads: int, via_proxy: bool) -> None:
        super().__init__()
        self.reactor = reactor
        self.app = app
        self.via_proxy = via_proxy
        self.pool = futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="django")
        self.active = 0
        self._idle_waiters: list[defer.Deferred[None]] = []
        self.shared = SharedAnswers(reactor.seconds)

    def render(self, request: server.Request) -> Any:
        assert isinstance(request, ControllerRequest)
        key = self.shared.key(request)
        answer = self.shared.lookup(key)
        if answer is not None:
            self._write(request, answer.status, answer.replayed(self.shared.clock()), answer.body)
            return server.NOT_DONE_YET
        environ = self._environ(request)
        self.active += 1
        request.notifyFinish().addBoth(self._finished)
        self.pool.submit(self._respond, request, environ, key)
        return server.NOT_DONE_YET

    def _environ(self, request: ControllerRequest) -> dict[str, Any]:
        """PEP 3333's environ; the client speaks HTTPS to us or to the proxy in front."""
        peer, host = request.getClientAddress(), request.getHost()
        uri = request.uri.decode("iso-8859-1")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method.decode("iso-8859-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": "/" + "/".join(p.decode("iso-8859-1") for p in request.postpath or []),
            "QUERY_STRING": uri.partition("?")[2],
            "CONTENT_TYPE": (request.getHeader(b"content-type") or b"").decode("iso-8859-1"),
            "CONTENT_LENGTH": (request.getHeader(b"content-length") or b"").decode("iso-8859-1"),
            "REMOTE_ADDR": str(peer.host),
            "REMOTE_PORT": str(peer.port),
            "SERVER_NAME": request.getRequestHostname().decode("iso-8859-1"),
            "SERVER_PORT": str(host.port),
            "SERVER_PROTOCOL": request.clientproto.decode("iso-8859-1"),
            "HTTPS": "on",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https",
            "wsgi.input": _detach_body(request),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "ziti.via_proxy_socket": self.via_proxy,
            "ziti.peer_certificate": request.channel.peer_certificate(),
        }
        for name, values in request.requestHeaders.getAllRawHeaders():
            key = "HTTP_" + name.decode("iso-8859-1").upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = ",".join(v.decode("iso-8859-1") for v in values)
        return environ

    def _respond(
        self, request: ControllerRequest, environ: dict[str, Any], key: tuple[bytes, ...] | None
    ) -> None:
        """In a pool thread: run Django to the end, then hand the answer to the reactor."""
        started: list[tuple[str, list[tuple[str, str]]]] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [(status, headers)]
            return lambda _data: None  # the legacy write(); Django never calls it

        body_file = environ["wsgi.input"]
        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()  # request_finished: Django releases this thread's connection
            status, headers = started[0]
        except Exception:
            log.exception("the application failed")
            status, headers, body = "500 Internal Server Error", [("Content-Type", "text/plain")], b"error\n"
        finally:
            body_file.close()
        self.reactor.callFromThread(self._deliver, request, key, status, headers, body)

    def _deliver(
        self,
        request: ControllerRequest,
        key: tuple[bytes, ...] | None,
        status: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        self.shared.keep(key, status, headers, body)
        if request.finished or request.channel is None:
            return  # the client is gone; nothing to say
        self._write(request, status, headers, body)

    @staticmethod
    def _write(request: server.Request, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code, _, reason = status.partition(" ")
        request.setResponseCode(int(code), reason.encode("iso-8859-1"))
        request.setHeader(b"server", b"ziti-controller")
        for name, value in headers:
            request.responseHeaders.addRawHeader(name.encode("iso-8859-1"), value.encode("iso-8859-1"))
        if not request.responseHeaders.hasHeader(b"content-length"):
            request.setHeader(b"content-length", str(len(body)).encode())
        request.write(body)
        request.finish()

    def _finished(self, _result: object) -> None:
        self.active -= 1
        if not self.active:
            waiters, self._idle_waiters = self._idle_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    def idle(self) -> defer.Deferred[None]:
        """Fires when no request is in the thread pool."""
        if not self.active:
            return defer.succeed(None)
        waiter: defer.Deferred[None] = defer.Deferred()
        self._idle_waiters.append(waiter)
        return waiter


class ControllerSite(server.Site):
    protocol = ControllerChannel  # type: ignore[assignment]  # HTTP/1.1 only, no HTTP/2 negotiation
    requestFactory = ControllerRequest

    def __init__(self, resource: DjangoResource, limits: Limits, peer_log: PeerLog, reactor: Any) -> None:
        # Our own deadlines replace Twisted's idle timeout. Django reads bodies itself;
        # Twisted parsing forms too would cost twice and refuse, as a bare 400, bodies
        # (a malformed multipart) that Django answers in words.
        super().__init__(resource, timeout=None, reactor=reactor, parsePOSTFormSubmission=False)
        self.limits = limits
        self.peer_log = peer_log
        self.channels: set[ControllerChannel] = set()

    def log(self, request: http.Request) -> None:
        # No access log: one line per request would cost more than the request.
        return


def listening_socket(bind: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A bound, listening TCP socket; SO_REUSEPORT lets every worker bind the same port."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((bind, port))
    # A fleet connects in bursts; a short queue costs each dropped SYN a 1 s retransmit.
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


class ControllerServer:
    """The console and API over HTTPS, and optionally plain HTTP on a proxy's Unix socket.

    `listen()` and `close()` run in the reactor's thread.
    """

    def __init__(
        self,
        reactor: Any,
        app: Any,
        tls: ServerTLS,
        *,
        threads: int,
        tcp: socket.socket,
        proxy_socket: socket.socket | None = None,
    ) -> None:
        self.reactor = reactor
        self.threads = threads
        self.peer_log = PeerLog()
        self._sockets = [(tcp, False), *([(proxy_socket, True)] if proxy_socket is not None else [])]
        self.port = int(tcp.getsockname()[1])
        self._tls = tls
        self._app = app
        self.sites: list[ControllerSite] = []
        self.ports: list[Any] = []

    def listen(self) -> None:
        try:
            self._listen()
        finally:
            for sock, _ in self._sockets:
                sock.close()  # the reactor holds its own copy of each descriptor

    def _listen(self) -> None:
        for sock, via_proxy in self._sockets:
            limits = Limits.from_settings(
                idle_timeout_s=settings.ZITI_PROXY_IDLE_TIMEOUT if via_proxy else None
            )
            django = DjangoResource(self.reactor, self._app, threads=self.threads, via_proxy=via_proxy)
            site = ControllerSite(django, limits, self.peer_log, self.reactor)
            factory: Any = site if via_proxy else TLSMemoryBIOFactory(self._tls, False, site)
            self.ports.append(self._adopt(sock, factory))
            self.sites.append(site)

    def _adopt(self, sock: socket.socket, factory: Any) -> Any:
        """Serve on an already listening socket, as it was made."""
        if sock.family != socket.AF_UNIX:
            return self.reactor.adoptStreamPort(sock.fileno(), sock.family, factory)
        # reactor.adoptStreamPort, unrolled: for a Unix socket Twisted listens again
        # with its own backlog (50) and chmods the path to its own mode (0666, anyone
        # could then speak for a device), so both are set to ours before it starts.
        port = unix.Port._fromListeningDescriptor(self.reactor, sock.fileno(), factory)
        port.backlog, port.mode = LISTEN_BACKLOG, PROXY_SOCKET_MODE
        port.startListening()
        return port

    @defer.inlineCallbacks
    def close(self, grace_s: float = 10.0) -> Generator[defer.Deferred[Any], Any, None]:
        """Stop accepting, let requests in the pool finish (bounded), then drop the rest."""
        yield defer.DeferredList([defer.maybeDeferred(port.stopListening) for port in self.ports])
        idle = defer.DeferredList([site.resource.idle() for site in self.sites])
        idle.addTimeout(grace_s, self.reactor)
        try:
            yield idle
        except defer.TimeoutError:
            log.warning("stopping with requests still running after %.0f s", grace_s)
        for site in self.sites:
            for channel in list(site.channels):
                abort(channel)
        # Joining the pools' threads from another thread keeps the reactor turning for
        # any of them still handing over a response.
        for site in self.sites:
            yield threads.deferToThread(site.resource.pool.shutdown)
