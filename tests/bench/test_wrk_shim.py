"""The bench's wrk shim: a client that waits for a slow handshake does not spin meanwhile.

Against a server that takes the ClientHello and never answers, wrk alone polls its
connecting sockets as writable and retries SSL_connect() without pause, a core's worth
of CPU taken from the server it measures on a shared machine. With the shim it sleeps
until the server speaks.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import wrk

SECONDS = 2
CONNECTIONS = 4


@pytest.fixture
def shim(tmp_path: Path) -> Path:
    built = wrk.build_shim(tmp_path) if wrk.available() else None
    if built is None:
        if os.environ.get("CI"):
            pytest.fail("wrk and a C compiler are required in CI (.ci/run installs them)")
        pytest.skip("wrk or a C compiler is not installed")
    return built


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP server on loopback that reads whatever comes and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stopping.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()


def test_wrk_with_the_shim_sleeps_through_a_handshake_the_server_never_answers(shim, silent_server):
    result = wrk.run(silent_server, "static", CONNECTIONS, SECONDS, shim=shim)

    assert result["units"] == 0
    # Spinning shows as about one core for the run; sleeping as next to nothing.
    assert result["client_cpu_cores"] < 0.2, result
