"""HTTP over TLS to the controller on 127.0.0.1, with nothing but ssl and http.client.

Every enrollment step opens a new TLS connection, as the OpenZiti C SDK does, so the
server pays a full handshake per request.
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

HOST = "127.0.0.1"
TIMEOUT = 60.0  # seconds; a request slower than this counts as an error


class RequestFailed(Exception):
    """A request that did not get the answer a working server gives."""


@dataclass
class Reply:
    status: int
    body: bytes
    cookies: dict[str, str] = field(default_factory=dict)


def _read(response: http.client.HTTPResponse) -> Reply:
    cookies: dict[str, str] = {}
    for header in response.msg.get_all("Set-Cookie") or []:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        cookies.update({name: morsel.value for name, morsel in jar.items()})
    return Reply(status=response.status, body=response.read(), cookies=cookies)


def request_once(
    port: int,
    context: ssl.SSLContext,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request on a new TLS connection, closed afterwards."""
    connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=TIMEOUT)
    try:
        # `Connection: close` frees the server thread as soon as it has answered.
        connection.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        return _read(connection.getresponse())
    finally:
        connection.close()


def expect(reply: Reply, what: str, status: int = 200) -> Reply:
    if reply.status != status:
        raise RequestFailed(f"{what}: HTTP {reply.status} {reply.body[:200]!r}")
    return reply


def fetch_ca_bundle(port: int, context: ssl.SSLContext) -> None:
    """GET /.well-known/est/cacerts, the first step of every enrollment."""
    reply = expect(request_once(port, context, "GET", "/.well-known/est/cacerts"), "cacerts")
    if not reply.body:
        raise RequestFailed("cacerts: empty body")


def enroll_ott(port: int, context: ssl.SSLContext, token: str, csr_pem: str) -> None:
    """An ott enrollment as the C SDK does it: CA bundle, then the CSR as text/plain."""
    fetch_ca_bundle(port, context)
    reply = request_once(
        port,
        context,
        "POST",
        f"/enroll?method=ott&token={token}",
        body=csr_pem.encode(),
        headers={"Content-Type": "text/plain", "Accept": "application/json"},
    )
    expect(reply, "enroll ott")
    if not json.loads(reply.body)["data"]["cert"].startswith("-----BEGIN CERTIFICATE-----"):
        raise RequestFailed("enroll ott: no certificate in the reply")


def floor_round_trip(port: int, context: ssl.SSLContext) -> None:
    """The enrollment's connection pattern with our cheapest view in place of /enroll."""
    fetch_ca_bundle(port, context)
    expect(request_once(port, context, "GET", "/version"), "version")


def enroll_ca(port: int, device_context: ssl.SSLContext) -> None:
    """Auto enrollment: the device certificate in the handshake, no token, no CSR."""
    reply = request_once(
        port,
        device_context,
        "POST",
        "/enroll?method=ca",
        body=b"{}",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    expect(reply, "enroll ca")


class ConsoleSession:
    """A logged-in console user on one keep-alive connection, as a browser has."""

    def __init__(self, port: int, context: ssl.SSLContext) -> None:
        self.port = port
        self.connection = http.client.HTTPSConnection(HOST, port, context=context, timeout=TIMEOUT)
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        self.connection.close()

    def _send(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Reply:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.connection.request(method, path, body=body, headers={"Cookie": cookie, **headers})
        reply = _read(self.connection.getresponse())
        self.cookies.update(reply.cookies)
        return reply

    def log_in(self, username: str, password: str) -> None:
        page = expect(self._send("GET", "/login/"), "login form").body.decode()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if match is None or "csrftoken" not in self.cookies:
            raise RequestFailed("login form: no CSRF token")
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": match.group(1), "username": username, "password": password}
        )
        reply = self._send(
            "POST",
            "/login/",
            form.encode(),
            **{
                "Content-Type": "application/x-www-form-urlencoded",
                # Django checks the Referer of HTTPS form posts against the Host.
                "Referer": f"https://{HOST}:{self.port}/login/",
            },
        )
        if reply.status != 302 or "sessionid" not in self.cookies:
            raise RequestFailed(f"login: HTTP {reply.status}, no session")

    def timed_get(self, path: str) -> tuple[float, Reply]:
        """Seconds from sending the request to having read the whole page."""
        started = time.perf_counter()
        reply = self._send("GET", path)
        return time.perf_counter() - started, expect(reply, f"GET {path}")
