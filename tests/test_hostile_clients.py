"""The embedded server against a hostile network: idle and half-open sockets, oversized
requests, log injection. Against the real `manage.py serve`, bounded in sockets and time."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import resource
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ServerProcess, free_port, manage, serving
from tests.test_end_to_end import openziti_enroll

IDLE, HALF_OPEN = 1000, 300
HEADER_TIMEOUT_S = 3
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Path]]:
    data_dir = tmp_path_factory.mktemp("hostile") / "var"
    port = free_port()
    env = {
        "ZITI_WORKERS": "2",
        "ZITI_HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
        "ZITI_BODY_TIMEOUT": str(HEADER_TIMEOUT_S),
        "ZITI_LOG_LEVEL": "INFO",
    }
    with serving(data_dir, port, **env) as server:
        yield server, data_dir


def trust(data_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))


def version_within(port: int, context: ssl.SSLContext, seconds: float) -> int:
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=seconds)
    try:
        connection.request("GET", "/version")
        return connection.getresponse().status
    finally:
        connection.close()


def client_hello_prefix(length: int) -> bytes:
    """The first bytes of a real TLS ClientHello, as a stalled client sends them."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()[:length]


@contextlib.contextmanager
def held_sockets(port: int, count: int, first_bytes: bytes = b"") -> Iterator[list[socket.socket]]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            if first_bytes:
                sock.sendall(first_bytes)
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def closed_by_server(sock: socket.socket) -> bool:
    sock.settimeout(0.05)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except OSError:  # reset: the server aborted it
        return True


@contextlib.contextmanager
def tls_connection(port: int, context: ssl.SSLContext) -> Iterator[ssl.SSLSocket]:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        yield tls


def raw_tls(port: int, request: bytes, context: ssl.SSLContext) -> bytes:
    """Send raw bytes over TLS and read the answer until the server closes."""
    with tls_connection(port, context) as tls:
        with contextlib.suppress(OSError):
            tls.sendall(request)
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := tls.recv(65536):
                answer += chunk
        return answer


def create_jwt(data_dir: Path, server: ServerProcess, name: str) -> str:
    return manage(data_dir, "create_identity", "device", name, ZITI_CTRL_PORT=str(server.port)).stdout.strip()


def server_log(data_dir: Path, port: int) -> str:
    return (data_dir / f"serve-{port}.err").read_text()


@pytest.fixture(autouse=True, scope="module")
def _enough_descriptors() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = IDLE + HALF_OPEN + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, wanted), hard))


def test_idle_and_half_open_connections_do_not_take_the_server_down(hostile_server, tmp_path: Path):
    server, data_dir = hostile_server
    context = trust(data_dir)
    jwt_text = create_jwt(data_dir, server, "under-siege")

    with (
        held_sockets(server.port, IDLE) as idle,
        held_sockets(server.port, HALF_OPEN, client_hello_prefix(10)),
    ):
        statuses = [version_within(server.port, context, 1.0) for _ in range(5)]
        identity_file = openziti_enroll(jwt_text)
        assert not any(closed_by_server(sock) for sock in idle[:20])  # still held, not yet timed out

    assert statuses == [200] * 5
    assert identity_file["id"]["cert"]


def test_a_stalled_connection_is_closed_after_the_header_timeout(hostile_server):
    server, _data_dir = hostile_server

    with (
        held_sockets(server.port, 50) as idle,
        held_sockets(server.port, 50, client_hello_prefix(10)) as stalled,
    ):
        time.sleep(HEADER_TIMEOUT_S + 1.5)
        closed = [closed_by_server(sock) for sock in idle + stalled]

    assert all(closed)


def test_a_slow_header_trickle_is_closed_at_the_deadline_not_kept_alive(hostile_server):
    server, data_dir = hostile_server
    context = trust(data_dir)
    with tls_connection(server.port, context) as tls:
        tls.sendall(b"GET /version HTTP/1.1\r\n")
        started = time.monotonic()
        with contextlib.suppress(OSError):
            # One header byte a second resets no deadline.
            while time.monotonic() - started < HEADER_TIMEOUT_S + 5:
                tls.sendall(b"X")
                time.sleep(0.5)
        lasted = time.monotonic() - started

    assert lasted < HEADER_TIMEOUT_S + 5


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /version HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", 431),
        (b"GET /version HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 200 + b"\r\n", 431),
        # Each line within bounds, the block of 40 KB not.
        (
            b"GET /version HTTP/1.1\r\n"
            + b"".join(b"X-H%d: " % i + b"b" * 4000 + b"\r\n" for i in range(10)),
            431,
        ),
    ],
    ids=["request line", "one huge header", "too many headers", "header block"],
)
def test_oversized_requests_get_the_status_http_defines(hostile_server, request_bytes, status):
    server, data_dir = hostile_server

    answer = raw_tls(server.port, request_bytes, trust(data_dir))

    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]


def test_an_oversized_api_body_gets_the_json_error_envelope(hostile_server):
    server, data_dir = hostile_server
    body = json.dumps({"name": "x" * 3_000_000}).encode()
    head = b"POST /enroll?method=ca HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request = head + b"Content-Length: %d\r\n\r\n" % len(body) + body

    answer = raw_tls(server.port, request, trust(data_dir))

    headers, _, payload = answer.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.1 413 ")
    assert b"Content-Type: application/json" in headers
    assert b"Strict-Transport-Security: max-age=" in headers
    assert json.loads(payload)["error"]["code"] == "REQUEST_TOO_LARGE"


def test_an_oversized_chunked_api_body_is_refused_too(hostile_server):
    server, data_dir = hostile_server
    chunk = b"a" * 65536
    chunks = b"".join(b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(40)) + b"0\r\n\r\n"
    head = b"POST /enroll?method=ott&token=x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
    request = head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks

    answer = raw_tls(server.port, request, trust(data_dir))

    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"REQUEST_TOO_LARGE"' in answer


def worker_memory_kib(server: ServerProcess) -> int:
    """Resident memory of the server's processes, the supervisor and its workers."""
    total = 0
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    for pid in [str(server.pid), *children]:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return total


def test_a_100_mib_header_line_is_refused_without_the_memory_growing(hostile_server):
    server, data_dir = hostile_server
    context = trust(data_dir)
    before = worker_memory_kib(server)

    for _ in range(3):
        with tls_connection(server.port, context) as tls:
            tls.sendall(b"GET /version HTTP/1.1\r\nX-Huge: ")
            block, sent = b"a" * 1024 * 1024, 0
            with contextlib.suppress(OSError):
                while sent < 100 * 1024 * 1024:
                    tls.sendall(block)
                    sent += len(block)
        assert sent < 100 * 1024 * 1024  # refused long before the end

    assert worker_memory_kib(server) - before < 20 * 1024


def test_a_request_cannot_write_a_line_of_its_own_into_the_log(hostile_server):
    server, data_dir = hostile_server
    forged = "x%0A2026-01-01 00:00:00,000 CRITICAL forged.logger the admin password is hunter2".replace(
        " ", "%20"
    )
    connection = http.client.HTTPSConnection("localhost", server.port, context=trust(data_dir), timeout=10)
    connection.request("POST", f"/enroll?method={forged}", body=b"", headers={"Content-Type": "text/plain"})
    assert connection.getresponse().status == 400
    connection.close()
    connection = http.client.HTTPSConnection("localhost", server.port, context=trust(data_dir), timeout=10)
    connection.request("GET", "/no-such-page%0ACRITICAL%20forged")
    connection.getresponse().read()
    connection.close()
    time.sleep(0.5)

    lines = server_log(data_dir, server.port).splitlines()
    assert not [line for line in lines if "forged" in line and not LOG_LINE.match(line)]
    assert not [line for line in lines if line.startswith("2026-01-01")]


def test_refusals_are_one_line_each_rate_limited_per_address_and_never_a_traceback(hostile_server):
    server, data_dir = hostile_server
    context = trust(data_dir)
    before = len(server_log(data_dir, server.port).splitlines())

    for _ in range(40):
        raw_tls(server.port, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n", context)
    for _ in range(20):  # garbage where a ClientHello belongs
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 100)
            with contextlib.suppress(OSError):
                sock.recv(100)
    time.sleep(0.5)

    new_lines = server_log(data_dir, server.port).splitlines()[before:]
    refused = [line for line in new_lines if " refused 127.0.0.1: " in line]
    # Two workers, one window each: a flood of 40 leaves a line or two per worker.
    assert 1 <= len(refused) <= 4, refused
    assert "Traceback" not in server_log(data_dir, server.port)


def test_the_server_still_enrolls_after_the_abuse(hostile_server):
    server, data_dir = hostile_server
    jwt_text = create_jwt(data_dir, server, "after-abuse")

    assert openziti_enroll(jwt_text)["id"]["cert"]
