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
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from tests.helpers import make_ca, write_cert_and_key
from tests.servers import ROOT, free_port, identity_names, manage, register_verified_ca, serving
from tests.test_end_to_end import openziti_enroll, pem_value

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx-ziti-controller.conf"


def nginx_available() -> None:
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is required in CI (.ci/run installs it)")
        pytest.skip("nginx is not installed")


def write_nginx_config(directory: Path, data_dir: Path, port: int, upstreams: tuple[int, int]) -> Path:
    """The documented site, pointed at this test's files and ports, inside a minimal nginx.conf."""
    site = SITE.read_text()
    site = site.replace("/var/lib/ziti", str(data_dir))
    site = site.replace("listen 1280 ssl", f"listen 127.0.0.1:{port} ssl")
    site = site.replace("127.0.0.1:1281", f"127.0.0.1:{upstreams[0]}")
    site = site.replace("127.0.0.1:1282", f"127.0.0.1:{upstreams[1]}")
    (directory / "site.conf").write_text(site)
    config = directory / "nginx.conf"
    config.write_text(
        f"""daemon off;
pid {directory}/nginx.pid;
error_log {directory}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {directory}/site.conf;
}}
"""
    )
    return config


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[Path, int, tuple[int, int]]]:
    """Two controller processes on one data dir (same PKI and database) behind nginx."""
    nginx_available()
    data_dir, port = tmp_path / "var", free_port()
    app_ports = (free_port(), free_port())
    env = {"ZITI_TRUSTED_PROXIES": "127.0.0.1", "ZITI_WORKERS": "1"}
    with (
        serving(data_dir, port, listen_port=app_ports[0], **env),
        serving(data_dir, port, listen_port=app_ports[1], **env),
    ):
        config = write_nginx_config(tmp_path, data_dir, port, app_ports)
        subprocess.run([NGINX, "-t", "-c", str(config)], check=True, capture_output=True)
        nginx = subprocess.Popen(
            [NGINX, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(port)
            yield data_dir, port, app_ports
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
    data_dir, port, _apps = proxied
    jwt_text = manage(data_dir, "create_identity", "device", "behind-proxy", ZITI_CTRL_PORT=str(port)).stdout

    identity_file = openziti_enroll(jwt_text.strip())

    assert identity_file["ztAPI"] == f"https://localhost:{port}"
    leaf = x509.load_pem_x509_certificates(pem_value(identity_file["id"]["cert"]).encode())[0]
    assert leaf.subject.rfc4514_string().startswith("CN=")


def test_the_reference_client_auto_enrolls_through_nginx_and_authenticates(proxied, tmp_path: Path):
    data_dir, port, _apps = proxied
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


def test_the_forwarded_header_is_ignored_from_other_addresses(proxied):
    """A client that reaches an app process directly cannot claim a certificate by header."""
    data_dir, _port, (app_port, _other) = proxied
    fleet = make_ca("Fleet CA")
    register_verified_ca(data_dir, fleet, "Fleet", "--auto-enrollment", "--auth")
    cert, _key = fleet.issue("spoofed")
    forged_header = urllib.parse.quote(cert.public_bytes(Encoding.PEM).decode())
    context = ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))
    # 127.0.0.2 is loopback too, but not the trusted proxy 127.0.0.1.
    connection = http.client.HTTPSConnection(
        "localhost", app_port, context=context, timeout=10, source_address=("127.0.0.2", 0)
    )
    connection.request("POST", "/enroll?method=ca", headers={"X-Client-Cert": forged_header})
    reply = connection.getresponse()
    body = json.loads(reply.read())
    connection.close()

    assert (reply.status, body["error"]["code"]) == (400, "CERT_FAILED_VALIDATION")
    assert identity_names(data_dir) == []
