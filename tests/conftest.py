"""Fixtures shared by every suite: the controller PKI and a real HTTPS server."""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from twisted.internet import threads

from authorities.pki import ControllerPKI, bootstrap_pki

CHROMIUM = os.environ.get("ZITI_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session", autouse=True)
def pki() -> ControllerPKI:
    """The controller PKI, made once per test session in the throw-away data dir."""
    return bootstrap_pki()


@dataclass
class LiveController:
    url: str  # https://localhost:PORT, the JWT iss
    host: str
    port: int
    ca_bundle_path: Path  # what a client trusts to reach the server

    def ssl_context(self, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_bundle_path))
        if cert is not None:
            context.load_cert_chain(cert, key)
        return context


@pytest.fixture(scope="session")
def reactor() -> Iterator[object]:
    """Twisted's reactor, running in a thread for the whole session (it cannot restart)."""
    from twisted.internet import reactor as twisted_reactor

    thread = threading.Thread(
        target=twisted_reactor.run, kwargs={"installSignalHandlers": False}, name="reactor", daemon=True
    )
    thread.start()
    yield twisted_reactor
    threads.blockingCallFromThread(twisted_reactor, twisted_reactor.stop)
    thread.join(timeout=10)


@pytest.fixture
def controller(
    transactional_db: None,
    settings: object,
    pki: ControllerPKI,
    reactor: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveController]:
    """The real HTTPS server (Twisted + mutual TLS) on a free loopback port, in this process.

    It shares the test database, so tests can arrange data with the ORM and see what
    requests changed.
    """
    from ziticonsole.runner import build_server

    server = build_server(reactor, "127.0.0.1", 0)
    threads.blockingCallFromThread(reactor, server.listen)
    port = server.port
    settings.ZITI_CTRL_PORT = port  # type: ignore[attr-defined]
    bundle = tmp_path_factory.mktemp("trust") / "ca-bundle.pem"
    bundle.write_text(pki.ca_bundle_pem)
    try:
        yield LiveController(
            url=f"https://{django_settings.ZITI_CTRL_ADDRESS}:{port}",
            host=django_settings.ZITI_CTRL_ADDRESS,
            port=port,
            ca_bundle_path=bundle,
        )
    finally:
        threads.blockingCallFromThread(reactor, server.close)
        connections.close_all()


@pytest.fixture(autouse=True)
def _fresh_refusal_budget() -> None:
    """Each test starts with every address's refusal budget full (it is per process)."""
    from audit.services import _refusals

    _refusals.reset()
