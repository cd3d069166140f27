"""Two controller processes on one PostgreSQL database and the same PKI files.

Each replica here is a real `manage.py serve` process; nothing is shared between them
but the database and the key files, as between hosts.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Reply, csr_pem, https_request, make_ca, write_cert_and_key
from tests.servers import free_port, manage, postgres_database, register_verified_ca, serving


@dataclass
class Replicas:
    data_dir: Path
    ports: tuple[int, int]
    database_url: str

    def context(self, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.data_dir / "pki" / "root-ca.crt"))
        if cert is not None:
            context.load_cert_chain(cert, key)
        return context

    def post(self, replica: int, path: str, body: str | None = None, **context_args: Path) -> Reply:
        return https_request(
            f"https://localhost:{self.ports[replica]}",
            "POST",
            path,
            context=self.context(**context_args),
            body=body,
            headers={"Content-Type": "text/plain" if body else "application/json"},
        )


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Replicas]:
    with postgres_database() as database_url:
        data_dir = tmp_path / "shared"
        ports = (free_port(), free_port())
        env = {"DATABASE_URL": database_url, "ZITI_WORKERS": "1"}
        # The first replica migrates and makes the PKI; the second finds both in place.
        with serving(data_dir, ports[0], **env), serving(data_dir, ports[1], **env):
            yield Replicas(data_dir, ports, database_url)


def mint(replicas: Replicas, name: str, *, via: int = 0) -> str:
    """The token (jti) of a new identity, minted with replica `via`'s address."""
    import jwt

    token = manage(
        replicas.data_dir,
        "create_identity",
        "device",
        name,
        DATABASE_URL=replicas.database_url,
        ZITI_CTRL_PORT=str(replicas.ports[via]),
    ).stdout.strip()
    return jwt.decode(token, options={"verify_signature": False})["jti"]


def test_a_token_minted_through_one_replica_redeems_through_the_other(replicas):
    token = mint(replicas, "roaming", via=0)

    reply = replicas.post(1, f"/enroll?method=ott&token={token}", csr_pem())

    assert reply.status == 200, reply.body
    again = replicas.post(0, f"/enroll?method=ott&token={token}", csr_pem())
    assert (again.status, again.error_code) == (400, "INVALID_ENROLLMENT_TOKEN")


def test_concurrent_redemptions_through_two_replicas_give_one_certificate(replicas):
    token = mint(replicas, "contested")
    attempts = [(n % 2, csr_pem()) for n in range(16)]

    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = list(
            pool.map(lambda a: replicas.post(a[0], f"/enroll?method=ott&token={token}", a[1]), attempts)
        )

    assert sorted(r.status for r in replies) == [200] + [400] * 15
    assert {r.error_code for r in replies if r.status != 200} == {"INVALID_ENROLLMENT_TOKEN"}
    count = manage(
        replicas.data_dir,
        "shell",
        "-v",
        "0",
        "-c",
        "from identities.models import Authenticator; print(Authenticator.objects.count())",
        DATABASE_URL=replicas.database_url,
    ).stdout.strip()
    assert count == "1"


def test_a_ca_verified_once_is_trusted_by_every_replica(replicas, tmp_path: Path):
    fleet = make_ca("Fleet CA")
    # Both replicas are already running: neither was restarted for this CA.
    register_verified_ca(
        replicas.data_dir, fleet, "Fleet", "--auto-enrollment", "--auth", DATABASE_URL=replicas.database_url
    )
    cert, key = fleet.issue("sensor")
    cert_path, key_path = write_cert_and_key(tmp_path, "sensor", cert, key)

    enrolled = replicas.post(1, "/enroll?method=ca", cert=cert_path, key=key_path)
    authenticated = replicas.post(0, "/authenticate?method=cert", cert=cert_path, key=key_path)

    assert enrolled.status == 200, enrolled.body
    assert authenticated.status == 200, authenticated.body
    assert authenticated.json()["data"]["identity"]["name"] == "Fleet-sensor"


def test_a_renewal_through_one_replica_counts_on_the_other_at_once(replicas, tmp_path: Path):
    import json

    from cryptography.hazmat.primitives import serialization

    from tests.enroller.conftest import run_subprocess
    from tests.helpers import ec_key

    key = ec_key()
    token = mint(replicas, "renewing", via=0)
    enrolled = replicas.post(0, f"/enroll?method=ott&token={token}", csr_pem(key))
    assert enrolled.status == 200, enrolled.body
    data = enrolled.json()["data"]
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    old_cert, old_key = tmp_path / "old.crt", tmp_path / "old.key"
    old_cert.write_text(data["cert"])
    old_key.write_text(key_pem)
    identity = tmp_path / "renewing.json"
    identity.write_text(
        json.dumps(
            {
                "ztAPI": f"https://localhost:{replicas.ports[1]}",
                "id": {"cert": data["cert"], "key": key_pem, "ca": data["ca"]},
            }
        )
    )
    identity.chmod(0o600)

    run = run_subprocess(["renew", "--identity", str(identity)])

    assert run.code == 0, run.stderr
    renewed = json.loads(identity.read_text())["id"]
    new_cert, new_key = tmp_path / "new.crt", tmp_path / "new.key"
    new_cert.write_text(renewed["cert"])
    new_key.write_text(renewed["key"])
    for replica in (0, 1):
        assert replicas.post(replica, "/authenticate?method=cert", cert=new_cert, key=new_key).status == 200
        refused = replicas.post(replica, "/authenticate?method=cert", cert=old_cert, key=old_key)
        assert (refused.status, refused.error_code) == (401, "INVALID_AUTH")
