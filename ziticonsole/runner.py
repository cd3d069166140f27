"""Running the HTTPS server until told to stop, in one process or in several.

With several workers, each is a forked process with its own event loop and its own
listening socket, bound to the same port with SO_REUSEPORT; the kernel spreads
connections across them, so TLS and Python work use every core. The proxy's Unix
socket, when configured, is made once by the supervisor and shared by every worker.

The reactor is imported only inside a worker: Twisted's default reactor holds an
epoll descriptor from its import on, and a forked child must not share its parent's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import socket
import stat
import time
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connections

from authorities.pki import load_pki
from ziticonsole.server import (
    LISTEN_BACKLOG,
    PROXY_SOCKET_MODE,
    ControllerServer,
    ServerTLS,
    listening_socket,
)

log = logging.getLogger(__name__)

# A worker that dies sooner than this after its start is broken (port taken, bad
# configuration): respawning it would only spin.
MIN_WORKER_LIFETIME = 5.0


def build_server(
    reactor: Any, bind: str, port: int, *, reuse_port: bool = False, proxy_socket: socket.socket | None = None
) -> ControllerServer:
    """An HTTPS server for the Django app on (bind, port); port 0 picks a free one."""
    pki = load_pki()
    return ControllerServer(
        reactor,
        get_wsgi_application(),
        ServerTLS(str(pki.server_cert_path), pki.server_key),
        threads=settings.ZITI_SERVER_THREADS,
        tcp=listening_socket(bind, port, reuse_port=reuse_port),
        proxy_socket=proxy_socket,
    )


def unix_listening_socket(path: Path) -> socket.socket:
    """The proxy's socket: plain HTTP, trusted to forward the client's certificate.

    Only who can connect to it is trusted, so it is made with mode 0660 and a stale
    socket file is replaced, but never a file of another kind.
    """
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(path.lstat().st_mode):
            raise SystemExit(
                f"ZITI_PROXY_SOCKET: {path} exists and is not a socket; remove it or pick another path"
            )
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o777 & ~PROXY_SOCKET_MODE)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old_umask)
    sock.listen(LISTEN_BACKLOG)
    sock.setblocking(False)
    return sock


def _raise_file_limit() -> None:
    """Idle connections are cheap now; let a worker hold as many as the system allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _serve_here(bind: str, port: int, *, reuse_port: bool, proxy_socket: socket.socket | None) -> None:
    from twisted.internet import reactor
    from twisted.logger import STDLibLogObserver, globalLogBeginner

    # Twisted's own events go to Python logging, where the formatter escapes them.
    globalLogBeginner.beginLoggingTo([STDLibLogObserver(name="twisted")], redirectStandardIO=False)
    _raise_file_limit()
    server = build_server(reactor, bind, port, reuse_port=reuse_port, proxy_socket=proxy_socket)
    server.listen()
    reactor.addSystemEventTrigger("before", "shutdown", server.close)
    reactor.run()  # SIGTERM and SIGINT stop it, after the shutdown trigger


def serve(bind: str, port: int, workers: int = 1) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status."""
    proxy_path = Path(settings.ZITI_PROXY_SOCKET) if settings.ZITI_PROXY_SOCKET else None
    proxy_socket = unix_listening_socket(proxy_path) if proxy_path else None
    where = f" and http+unix://{proxy_path} for the proxy" if proxy_path else ""
    log.info("serving on https://%s:%s%s with %d worker process(es)", bind, port, where, workers)
    try:
        if workers <= 1:
            _serve_here(bind, port, reuse_port=False, proxy_socket=proxy_socket)
            return 0
        return _Supervisor(bind, port, workers, proxy_socket).run()
    finally:
        if proxy_path is not None:
            with contextlib.suppress(FileNotFoundError):
                proxy_path.unlink()


class _Supervisor:
    """Forks the workers, replaces any that die, and stops them all on a signal."""

    def __init__(self, bind: str, port: int, workers: int, proxy_socket: socket.socket | None) -> None:
        self.bind, self.port, self.workers = bind, port, workers
        self.proxy_socket = proxy_socket
        self.children: dict[int, float] = {}
        self.stopping = False
        self.status = 0

    def run(self) -> int:
        # Forked children must not share the parent's database connections.
        connections.close_all()
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for _ in range(self.workers):
            self._spawn()
        while self.children:
            try:
                pid, wait_status = os.wait()
            except ChildProcessError:
                break
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(wait_status)
            if time.monotonic() - started < MIN_WORKER_LIFETIME:
                log.error("worker %d exited at start (status %d); stopping the server", pid, code)
                self.status = 1
                self._stop(signal.SIGTERM, None)
            else:
                log.warning("worker %d exited (status %d); starting a new one", pid, code)
                self._spawn()
        return self.status

    def _spawn(self) -> None:
        pid = os.fork()
        if pid:
            self.children[pid] = time.monotonic()
            return
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor relays it as SIGTERM
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the reactor installs its own
            proxy = self.proxy_socket.dup() if self.proxy_socket is not None else None
            _serve_here(self.bind, self.port, reuse_port=True, proxy_socket=proxy)
        except BaseException:
            log.exception("worker %d failed", os.getpid())
            code = 1
        finally:
            os._exit(code)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):  # it exited meanwhile
                os.kill(pid, signal.SIGTERM)
