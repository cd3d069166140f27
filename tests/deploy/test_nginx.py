"""deploy/nginx-ziti-controller.conf, for real: Debian's nginx in front of two app processes."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.helpers import make_ca, write_cert_and_key
from tests.servers import ROOT, free_port, identity_names, manage, register_verified_ca, serving
from tests.test_end_to_end import openziti_enroll, pem_value

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITES = {
    "unix": ROOT / "deploy" / "nginx-ziti-controller.conf",
    "tls": ROOT / "deploy" / "nginx-ziti-controller-tls-upstream.conf",
}


@dataclass(frozen=True)
class Proxied:
    data_dir: Path
    port: int  # nginx's: what devices reach
    app_ports: tuple[int, int]  # each replica's own HTTPS port


def nginx_available() -> None:
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is required in CI (.ci/run installs it)")
        pytest.skip("nginx is not installed")


def write_nginx_config(
    directory: Path, site: str, data_dir: Path, port: int, upstreams: tuple[int, int]
) -> Path:
    """The documented site, pointed at this test's files and ports, inside a minimal nginx.conf."""
    text = SITES[site].read_text()
    text = text.replace("/var/lib/ziti", str(data_dir)).replace("/etc/nginx/ziti", str(directory / "proxy"))
    text = text.replace("/run/ziti", str(directory)).replace("/var/cache/nginx", str(directory / "cache"))
    text = text.replace("listen 1280 ssl", f"listen 127.0.0.1:{port} ssl")
    text = text.replace("127.0.0.1:1281", f"127.0.0.1:{upstreams[0]}")
    text = text.replace("127.0.0.1:1282", f"127.0.0.1:{upstreams[1]}")
    (directory / "cache").mkdir()  # as Debian's package makes /var/cache/nginx
    (directory / "site.conf").write_text(text)
    config = directory / "nginx.conf"
    # As root, workers would run as nobody and could not reach the 0660 sockets; in
    # production the controller's group holds nginx's user.
    config.write_text(
        f"""daemon off;
user root;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy-temp;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/site.conf;
}}
"""
    )
    return config


@pytest.fixture(params=["unix", "tls"], ids=["unix-socket upstream", "tls upstream with proxy certificate"])
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Proxied]:
    """Two controller processes on one data dir (same PKI and database) behind nginx."""
    nginx_available()
    data_dir, port = tmp_path / "var", free_port()
    app_ports = (free_port(), free_port())
    # The address check is on too: it narrows a proof, it must not break one.
    env = {"ZITI_WORKERS": "1", "ZITI_TRUSTED_PROXIES": "127.0.0.1"}
    sockets = [{"ZITI_PROXY_SOCKET": str(tmp_path / f"controller-{n}.sock")} for n in (1, 2)]
    if request.param == "tls":
        sockets = [{}, {}]
    with (
        serving(data_dir, port, listen_port=app_ports[0], **env, **sockets[0]),
        serving(data_dir, port, listen_port=app_ports[1], **env, **sockets[1]),
    ):
        if request.param == "tls":
            manage(data_dir, "proxy_certificate", "nginx", "--out", str(tmp_path / "proxy"))
        config = write_nginx_config(tmp_path, request.param, data_dir, port, app_ports)
        subprocess.run([NGINX, "-t", "-c", str(config)], check=True, capture_output=True)
        nginx = subprocess.Popen(
            [NGINX, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(port)
            yield Proxied(data_dir, port, app_ports)
        finally:
            nginx.terminate()
            nginx.wait(timeout=20)


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def test_the_reference_client_enrolls_through_nginx_with_ott(proxied):
    data_dir, port = proxied.data_dir, proxied.port
    jwt_text = manage(data_dir, "create_identity", "device", "behind-proxy", ZITI_CTRL_PORT=str(port)).stdout

    identity_file = openziti_enroll(jwt_text.strip())

    assert identity_file["ztAPI"] == f"https://localhost:{port}"
    leaf = x509.load_pem_x509_certificates(pem_value(identity_file["id"]["cert"]).encode())[0]
    assert leaf.subject.rfc4514_string().startswith("CN=")


def test_the_reference_client_auto_enrolls_through_nginx_and_authenticates(proxied, tmp_path: Path):
    data_dir, port = proxied.data_dir, proxied.port
    fleet = make_ca("Fleet CA")
    created = register_verified_ca(data_dir, fleet, "Fleet", "--auto-enrollment", "--auth")
    jwt_text = manage(data_dir, "ca_jwt", "Fleet", ZITI_CTRL_PORT=str(port)).stdout.strip()
    cert, key = fleet.issue("proxied-sensor")
    cert_path, key_path = write_cert_and_key(tmp_path, "device", cert, key)

    openziti_enroll(jwt_text, key_path, cert_path)

    assert identity_names(data_dir) == ["Fleet-proxied-sensor"]
    context = ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))
    context.load_cert_chain(cert_path, key_path)
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    connection.request("POST", "/authenticate?method=cert")
    reply = connection.getresponse()
    body = json.loads(reply.read())
    connection.close()
    assert reply.status == 200, body
    assert body["data"]["identity"]["name"] == "Fleet-proxied-sensor"
    assert created["name"] == "Fleet"


def test_a_local_process_cannot_claim_a_victims_certificate_by_header(proxied):
    """From 127.0.0.1, a trusted proxy address, but with no proof of being the proxy."""
    data_dir, app_port = proxied.data_dir, proxied.app_ports[0]
    fleet = make_ca("Fleet CA")
    register_verified_ca(data_dir, fleet, "Fleet", "--auto-enrollment", "--auth")
    victim, _key = fleet.issue("victim")
    forged_header = urllib.parse.quote(victim.public_bytes(Encoding.PEM).decode())
    context = ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))

    replies = []
    for path in ("/enroll?method=ca", "/authenticate?method=cert"):
        connection = http.client.HTTPSConnection("localhost", app_port, context=context, timeout=10)
        headers = {"X-Client-Cert": forged_header, "Content-Type": "application/json"}
        connection.request("POST", path, body=b"{}", headers=headers)
        reply = connection.getresponse()
        replies.append((reply.status, json.loads(reply.read())["error"]["code"]))
        connection.close()

    assert replies == [(400, "CERT_FAILED_VALIDATION"), (401, "INVALID_AUTH")]
    assert identity_names(data_dir) == []


def test_the_proxy_socket_is_for_the_proxy_s_group_only(tmp_path: Path):
    """Twisted would chmod an adopted Unix socket to 0666: anyone could speak for a device."""
    data_dir, socket_path = tmp_path / "var", tmp_path / "controller.sock"

    with serving(data_dir, free_port(), ZITI_WORKERS="2", ZITI_PROXY_SOCKET=str(socket_path)):
        mode = socket_path.stat().st_mode & 0o777
        listening = subprocess.run(["ss", "-xlH", "src", str(socket_path)], capture_output=True, text=True)

    assert mode == 0o660
    if listening.returncode == 0 and listening.stdout.strip():
        # ss prints the listen backlog as Send-Q: ours, not Twisted's 50.
        assert listening.stdout.split()[3] == "1024", listening.stdout


def _get_through(proxied: Proxied, path: str, host: str = "localhost") -> tuple[int, str | None, bytes]:
    context = ssl.create_default_context(cafile=str(proxied.data_dir / "pki" / "root-ca.crt"))
    connection = http.client.HTTPSConnection("localhost", proxied.port, context=context, timeout=10)
    connection.request("GET", path, headers={"Host": host})
    reply = connection.getresponse()
    body = reply.read()
    connection.close()
    return reply.status, reply.getheader("X-Cache-Status"), body


def test_nginx_answers_the_ca_bundle_from_its_cache_and_keeps_nothing_private(proxied):
    first, second = (
        _get_through(proxied, "/.well-known/est/cacerts"),
        _get_through(proxied, "/.well-known/est/cacerts"),
    )

    assert (first[0], first[1]) == (200, "MISS")
    assert (second[0], second[1]) == (200, "HIT")
    assert second[2] == first[2]
    # Another host is another key, so the app still refuses it.
    assert _get_through(proxied, "/.well-known/est/cacerts", host="evil.example")[0] == 400
    # An answer about the caller is never kept.
    for _ in range(2):
        status, cache, _body = _get_through(proxied, "/edge/client/v1/current-identity")
        assert (status, cache) == (401, "MISS")
