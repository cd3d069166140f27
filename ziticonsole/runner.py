"""Running the HTTPS server until told to stop, in one process or in several.

With several workers, each is a forked process with its own cheroot server bound to the
same port with SO_REUSEPORT; the kernel spreads connections across them, so TLS and
Python work use every core. Each worker builds its own trust store, which reads the
CAs from the shared database on every handshake, so a CA added through any worker (or
any replica) is trusted by all of them at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from types import FrameType

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.db import connections

from authorities.pki import load_pki
from authorities.services import third_party_ca_pems
from authorities.truststore import TrustStore
from ziticonsole.server import ControllerServer

log = logging.getLogger(__name__)

# A worker that dies sooner than this after its start is broken (port taken, bad
# configuration): respawning it would only spin.
MIN_WORKER_LIFETIME = 5.0


def build_server(bind: str, port: int, *, reuse_port: bool = False) -> ControllerServer:
    """An HTTPS server for the Django app on (bind, port); port 0 picks a free one."""
    trust_store = TrustStore(load_pki(), third_party_ca_pems)
    return ControllerServer(
        (bind, port),
        get_wsgi_application(),
        trust_store,
        threads=settings.ZITI_SERVER_THREADS,
        reuse_port=reuse_port,
    )


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _serve_here(bind: str, port: int, *, reuse_port: bool) -> None:
    server = build_server(bind, port, reuse_port=reuse_port)
    signal.signal(signal.SIGTERM, _raise_system_exit)
    try:
        server.safe_start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


def serve(bind: str, port: int, workers: int = 1) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit status."""
    log.info("serving on https://%s:%s with %d worker process(es)", bind, port, workers)
    if workers <= 1:
        _serve_here(bind, port, reuse_port=False)
        return 0
    return _Supervisor(bind, port, workers).run()


class _Supervisor:
    """Forks the workers, replaces any that die, and stops them all on a signal."""

    def __init__(self, bind: str, port: int, workers: int) -> None:
        self.bind, self.port, self.workers = bind, port, workers
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
            _serve_here(self.bind, self.port, reuse_port=True)
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
