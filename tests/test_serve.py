"""`manage.py serve`, the command behind `make run`, as a real process on a fresh data dir."""

from __future__ import annotations

import http.client
import re
import sqlite3
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.verification import PolicyBuilder, Store

from tests.helpers import form_csrf_token, make_ca, write_cert_and_key
from tests.servers import (
    ROOT,
    ServerProcess,
    controller_env,
    free_port,
    manage,
    register_verified_ca,
    serving,
)


def stdout_so_far(server: ServerProcess) -> str:
    return server.stop()


def root_ca_fingerprint(data_dir: Path) -> bytes:
    return (data_dir / "pki" / "root-ca.crt").read_bytes()


def test_first_start_makes_the_pki_and_admin_and_serves_https(tmp_path: Path):
    data_dir, port = tmp_path / "var", free_port()

    with serving(data_dir, port) as process:
        bundle = data_dir / "pki"
        root = x509.load_pem_x509_certificate((bundle / "root-ca.crt").read_bytes())
        context = ssl.create_default_context(cadata=(bundle / "root-ca.crt").read_text())
        connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
        connection.request("GET", "/version")
        assert connection.getresponse().status == 200
        server_cert = x509.load_der_x509_certificate(connection.sock.getpeercert(binary_form=True))
        verifier = PolicyBuilder().store(Store([root])).build_server_verifier(x509.DNSName("localhost"))
        verifier.verify(server_cert, [])
        connection.close()
        out = stdout_so_far(process)

    password_file = data_dir / "admin-password"
    assert f"password in {password_file}" in out
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert len(password_file.read_text().strip()) >= 16
    for key in ("root-ca.key", "signing-ca.key", "server.key"):
        assert (data_dir / "pki" / key).stat().st_mode & 0o777 == 0o600


def test_a_restart_keeps_the_pki_and_the_data_and_does_not_repeat_the_password(tmp_path: Path):
    data_dir, port = tmp_path / "var", free_port()
    with serving(data_dir, port) as process:
        stdout_so_far(process)
    root_before = root_ca_fingerprint(data_dir)
    manage(data_dir, "create_identity", "device", "kept")

    with serving(data_dir, port) as process:
        out = stdout_so_far(process)

    assert "password in" not in out
    assert root_ca_fingerprint(data_dir) == root_before
    with sqlite3.connect(data_dir / "controller.sqlite3") as db:
        assert db.execute("select name from identities_identity").fetchall() == [("kept",)]


def test_the_admin_password_can_come_from_the_environment(tmp_path: Path):
    data_dir, port = tmp_path / "var", free_port()

    with serving(data_dir, port, ZITI_ADMIN_PASSWORD="correct horse battery staple") as process:
        status = console_login(port, "admin", "correct horse battery staple")
        wrong = console_login(port, "admin", "wrong")
        out = stdout_so_far(process)

    assert status == 302
    assert wrong == 200  # the form again, with an error
    assert not (data_dir / "admin-password").exists()
    assert "password in" not in out


def console_login(port: int, username: str, password: str) -> int:
    """Log in through the real login form, CSRF cookie and all."""
    context = ssl._create_unverified_context()  # noqa: S323 - the PKI is checked elsewhere
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    connection.request("GET", "/login/")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", "")).group(1)
    token = form_csrf_token(page)
    body = f"csrfmiddlewaretoken={token}&username={username}&password={password.replace(' ', '+')}"
    connection.request(
        "POST",
        "/login/",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie}",
            "Referer": f"https://localhost:{port}/login/",
        },
    )
    reply = connection.getresponse()
    reply.read()
    connection.close()
    return reply.status


@pytest.mark.parametrize("address", ["ctrl.example.test", "10.20.30.40"])
def test_the_server_certificate_covers_the_advertised_address(tmp_path: Path, address: str):
    data_dir, port = tmp_path / "var", free_port()

    with serving(data_dir, port, ZITI_CTRL_ADDRESS=address) as process:
        stdout_so_far(process)

    cert = x509.load_pem_x509_certificate((data_dir / "pki" / "server.crt").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = [str(v) for v in san.get_values_for_type(x509.DNSName) + san.get_values_for_type(x509.IPAddress)]
    assert set(names) == {"localhost", "127.0.0.1", address}


def worker_pids(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(stat.parent.name))
    return children


def test_workers_share_the_port_and_all_trust_a_ca_added_a_moment_ago(tmp_path: Path):

    data_dir, port = tmp_path / "var", free_port()
    fleet = make_ca("Fleet CA")

    with serving(data_dir, port, ZITI_WORKERS="2") as process:
        assert len(worker_pids(process.pid)) == 2
        register_verified_ca(data_dir, fleet, "Fleet", "--auto-enrollment", "--auth")
        cert, key = fleet.issue("sensor")
        context = ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))
        context.load_cert_chain(*write_cert_and_key(tmp_path, "sensor", cert, key))

        # Every request is a new connection, so the kernel spreads them over both workers.
        statuses = [https_post(port, context, "/enroll?method=ca")]
        statuses += [https_post(port, context, "/authenticate?method=cert") for _ in range(20)]
        out = stdout_so_far(process)

    assert statuses == [200] * 21, out
    assert process.returncode == 0


def https_post(port: int, context: ssl.SSLContext, path: str) -> int:
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    try:
        connection.request("POST", path, headers={"Content-Type": "application/json"}, body="{}")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_sqlite_takes_a_burst_of_concurrent_enrollments_without_locking_errors(tmp_path: Path):
    """48 devices enroll at once through two worker processes writing one SQLite file."""
    from concurrent.futures import ThreadPoolExecutor

    import jwt

    from tests.helpers import csr_pem

    data_dir, port = tmp_path / "var", free_port()
    jwt_dir = tmp_path / "jwts"
    with serving(data_dir, port, ZITI_WORKERS="2") as server:
        manage(data_dir, "seed_identities", "48", "--prefix", "burst", "--jwt-dir", str(jwt_dir))
        tokens = [
            jwt.decode(p.read_text().strip(), options={"verify_signature": False})["jti"]
            for p in jwt_dir.iterdir()
        ]
        context = ssl.create_default_context(cafile=str(data_dir / "pki" / "root-ca.crt"))

        def enroll(token: str) -> int:
            connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=60)
            try:
                connection.request(
                    "POST",
                    f"/enroll?method=ott&token={token}",
                    body=csr_pem(),
                    headers={"Content-Type": "text/plain"},
                )
                response = connection.getresponse()
                response.read()
                return response.status
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=48) as pool:
            statuses = list(pool.map(enroll, tokens))
        server.stop()

    assert statuses == [200] * 48
    assert "locked" not in server.stderr_path.read_text()
    with sqlite3.connect(data_dir / "controller.sqlite3") as db:
        assert db.execute("select count(*) from identities_authenticator").fetchone() == (48,)


def test_a_weak_admin_password_from_the_environment_stops_the_first_start(tmp_path: Path):
    data_dir = tmp_path / "var"
    env = controller_env(data_dir, ZITI_ADMIN_PASSWORD="a", ZITI_CTRL_PORT=str(free_port()))

    result = subprocess.run(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert "ZITI_ADMIN_PASSWORD is too weak: This password is too short." in result.stderr
    assert "Traceback" not in result.stderr
    with sqlite3.connect(data_dir / "controller.sqlite3") as db:
        assert db.execute("select count(*) from auth_user").fetchone() == (0,)


def secret_modes(data_dir: Path) -> dict[str, int]:
    names = [
        "controller.sqlite3",
        "secret-key",
        "admin-password",
        *(f"pki/{k}" for k in ("root-ca.key", "signing-ca.key", "server.key")),
    ]
    return {name: (data_dir / name).stat().st_mode & 0o777 for name in names}


def test_a_loose_data_directory_is_tightened_and_every_secret_made_0600(tmp_path: Path):
    data_dir = tmp_path / "var"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)

    with serving(data_dir, free_port()) as process:
        stdout_so_far(process)

    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert set(secret_modes(data_dir).values()) == {0o600}
    wal = data_dir / "controller.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_mode & 0o777 == 0o600


def test_a_first_start_with_the_secret_key_set_and_no_data_directory(tmp_path: Path):
    data_dir = tmp_path / "nested" / "var"

    with serving(data_dir, free_port(), DJANGO_SECRET_KEY="s" * 50) as process:
        stdout_so_far(process)

    assert data_dir.stat().st_mode & 0o777 == 0o700
    assert not (data_dir / "secret-key").exists()


def test_a_secret_file_open_to_others_stops_the_start_with_the_fix(tmp_path: Path):
    data_dir = tmp_path / "var"
    with serving(data_dir, free_port()) as process:
        stdout_so_far(process)
    key = data_dir / "pki" / "server.key"
    key.chmod(0o644)

    env = controller_env(data_dir, ZITI_CTRL_PORT=str(free_port()))
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode != 0
    assert f"{key} holds a secret and is open to other users (mode 0644)" in result.stderr
    assert f"chmod 600 {key}" in result.stderr
    assert "Traceback" not in result.stderr
    assert key.stat().st_mode & 0o777 == 0o644  # not silently changed
