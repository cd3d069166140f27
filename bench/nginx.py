"""nginx as a child process of the benchmark: the TLS limit, and the proxy in front of the app.

Both present the controller's own server certificate, so the handshake costs what it
costs a device talking to the controller, and both turn session caches and tickets
off: every connection is a full handshake, as the C SDK makes it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bench.controller import Deployment, free_port, stop_process_group, tree_cpu_seconds

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
START_TIMEOUT_S = 20.0
# Two workers, like the app's ZITI_WORKERS=2: the same share of a 2-core machine.
WORKER_PROCESSES = 2
# Above the 256 clients of the zero-error check, times two for the upstream side.
WORKER_CONNECTIONS = 2048

# Both requests of a TLS-limit unit get a static answer; the first says it is the CA
# bundle's (by content type), so the Lua script tells the two apart as on the app.
STATIC_LOCATIONS = """
        location = /.well-known/est/cacerts {
            default_type application/pkcs7-mime;
            return 200 "static\\n";
        }
        location / {
            default_type text/plain;
            return 200 "ok\\n";
        }
"""


# deploy/nginx-ziti-controller.conf's proxying, to the app's plain-HTTP Unix socket.
PROXY_LOCATIONS = """
        client_max_body_size 64k;
        location / {
            proxy_pass http://ziti_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            # Always set, so a client can never supply its own; empty without a certificate.
            proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            # The CA bundle from nginx's cache, as deploy/ documents it.
            proxy_cache ziti_app;
            proxy_cache_key $scheme$http_host$request_uri;
        }
"""


def app_upstream(app_socket: Path) -> str:
    # Kept-alive connections to the app: the proxy pays no connect per request.
    return f"""
    upstream ziti_app {{
        server unix:{app_socket};
        keepalive 64;
    }}
"""


def available() -> bool:
    return Path(NGINX).exists()


class Nginx:
    """`nginx -p PREFIX -c CONF -g 'daemon off;'` on a free loopback port, stopped on exit."""

    def __init__(
        self, deployment: Deployment, locations: str, *, upstream: str = "", verify_client: bool = False
    ) -> None:
        self.deployment = deployment
        self.locations, self.upstream = locations, upstream
        self.verify_client = verify_client
        self.port = free_port()
        self.prefix = Path(tempfile.mkdtemp(prefix="ziti-bench-nginx-"))
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        p = self.prefix
        # As root, nginx would switch its workers to "nobody", who cannot read the key.
        user = "user root;\n" if os.geteuid() == 0 else ""
        verify = "ssl_verify_client optional_no_ca;" if self.verify_client else ""
        return f"""{user}worker_processes {WORKER_PROCESSES};
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections {WORKER_CONNECTIONS}; }}
http {{
    access_log off;
    client_body_temp_path {p}/body;
    proxy_temp_path {p}/proxy;
    fastcgi_temp_path {p}/fastcgi;
    uwsgi_temp_path {p}/uwsgi;
    scgi_temp_path {p}/scgi;
    proxy_cache_path {p}/cache keys_zone=ziti_app:1m max_size=16m inactive=2m use_temp_path=off;
{self.upstream}
    server {{
        listen 127.0.0.1:{self.port} ssl backlog=1024;
        ssl_certificate     {self.deployment.server_cert};
        ssl_certificate_key {self.deployment.server_key};
        ssl_protocols       TLSv1.2 TLSv1.3;
        # Full handshakes only: no session resumption by cache or by ticket.
        ssl_session_cache   off;
        ssl_session_tickets off;
        {verify}
{self.locations}
    }}
}}
"""

    def __enter__(self) -> Nginx:
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config())
        log = (self.prefix / "stderr.log").open("wb")
        with log:
            self.process = subprocess.Popen(  # noqa: S603 - Debian's nginx, our own config
                [NGINX, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def cpu_seconds(self) -> float:
        """The master and its workers, as for the app server."""
        return 0.0 if self.process is None else tree_cpu_seconds(self.process.pid)

    def log_tail(self, chars: int = 2000) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            with contextlib.suppress(OSError):
                text += (self.prefix / name).read_text(errors="replace")
        return text[-chars:]

    def _wait_until_listening(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port} within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        try:
            stop_process_group(self.process)
        finally:
            shutil.rmtree(self.prefix, ignore_errors=True)


def tls_limit(deployment: Deployment) -> Nginx:
    """Bare nginx with the controller's certificate, answering a static 200."""
    return Nginx(deployment, STATIC_LOCATIONS)


def proxy(deployment: Deployment, app_socket: Path) -> Nginx:
    """nginx terminating TLS in front of the app, as deploy/ documents it."""
    return Nginx(deployment, PROXY_LOCATIONS, upstream=app_upstream(app_socket), verify_client=True)
