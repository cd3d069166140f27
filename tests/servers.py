"""Real controller processes (`manage.py serve`) for tests that need more than a thread."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from ziticonsole import probe

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("ZITI_TEST_POSTGRES_URL", "postgres://ziti:ziti@127.0.0.1:5432/ziti")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def controller_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a controller process: nothing of this test run leaks in."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("ZITI_", "DJANGO_")) and k != "DATABASE_URL"
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "ziticonsole.settings",
        "ZITI_DATA_DIR": str(data_dir),
        **extra,
    }


def manage(data_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run a management command against that data dir; fails the test if it fails."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=controller_env(data_dir, **extra_env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    stdout_path: Path
    stderr_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> str:
        """SIGTERM, wait, and return what it printed on stdout."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.stdout_path.read_text()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


@contextmanager
def serving(
    data_dir: Path, port: int, *, listen_port: int | None = None, **extra_env: str
) -> Iterator[ServerProcess]:
    """`manage.py serve` on a fresh or existing data dir, until the block ends.

    Output goes to files, not pipes: a chatty server must never block on a full pipe.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    env = controller_env(data_dir, ZITI_CTRL_PORT=str(port), **extra_env)
    listen = listen_port or port
    if listen_port:
        env["ZITI_CTRL_LISTEN_PORT"] = str(listen_port)
    tag = f"serve-{listen}"
    stdout_path, stderr_path = data_dir / f"{tag}.out", data_dir / f"{tag}.err"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve"], cwd=ROOT, env=env, stdout=out, stderr=err
        )
    server = ServerProcess(process, listen, stdout_path, stderr_path)
    try:
        wait_until_serving(server)
        yield server
    finally:
        server.stop()


def wait_until_serving(server: ServerProcess) -> None:
    try:
        probe.wait_until_serving(server.port, server.process)
    except probe.NotServing as exc:
        raise AssertionError(f"{exc}: {server.stderr_path.read_text()[-2000:]}") from exc


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for a test; dropped afterwards.

    Skipped where no PostgreSQL answers, except in CI, which must run these tests.
    """
    import psycopg

    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    name = f"ziti_test_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            parts = urlsplit(POSTGRES_URL)
            yield urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def register_verified_ca(data_dir: Path, test_ca: object, name: str, *flags: str, **extra_env: str) -> dict:
    """Register and verify a CA through the CLI, as an admin of that controller would."""
    import json

    from cryptography.hazmat.primitives.serialization import Encoding

    ca_file, proof_file = data_dir / f"{name}-ca.pem", data_dir / f"{name}-proof.pem"
    ca_file.write_text(test_ca.pem)  # type: ignore[attr-defined]
    created = json.loads(
        manage(data_dir, "create_ca", name, "--cert", str(ca_file), *flags, "--json", **extra_env).stdout
    )
    proof, _key = test_ca.issue(created["verificationToken"], client_auth=False)  # type: ignore[attr-defined]
    proof_file.write_bytes(proof.public_bytes(Encoding.PEM))
    manage(data_dir, "verify_ca", name, "--cert", str(proof_file), **extra_env)
    return created


def identity_names(data_dir: Path, **extra_env: str) -> list[str]:
    """The identity names in that controller's database, read through Django."""
    import json

    script = (
        "import json; from identities.models import Identity; "
        "print(json.dumps(sorted(Identity.objects.values_list('name', flat=True))))"
    )
    return json.loads(manage(data_dir, "shell", "-v", "0", "-c", script, **extra_env).stdout)
