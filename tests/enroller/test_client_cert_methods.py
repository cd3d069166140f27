"""ottca and ca: the device's own certificate in the TLS handshake (against the fake controller,
since the real one does not serve these methods yet)."""

from __future__ import annotations

import json
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from enrollment.enroller import cli
from enrollment.enroller.errors import EnrollmentRefused, InputUnreadable, UsageError
from tests.helpers import make_ca, write_cert_and_key

from .conftest import assert_one_line_error, read_identity_file, run_in_process, run_subprocess
from .fake_controller import FakeController, ScriptedReply, real_server_identity, running


def code_of(error: type) -> int:
    return cli.EXIT_CODE_OF[error]


def args(jwt_path: Path, out: Path, *extra: str | Path) -> list[str]:
    return ["--jwt", str(jwt_path), "--out", str(out), *map(str, extra)]


@pytest.fixture
def fleet_ca():
    return make_ca("Fleet CA")


@pytest.fixture
def device_files(fleet_ca, tmp_path: Path) -> tuple[Path, Path]:
    cert, key = fleet_ca.issue("sensor-7")
    return write_cert_and_key(tmp_path, "sensor-7", cert, key)


@pytest.fixture
def fake(pki, fleet_ca) -> Iterator[FakeController]:
    with running(
        FakeController(real_server_identity(pki), pki.ca_bundle, client_cas_pem=fleet_ca.pem)
    ) as fake:
        yield fake


def ottca_token(fake: FakeController) -> str:
    return fake.sign(
        {
            "em": "ottca",
            "sub": "identity-1",
            "jti": "one-time-token",
            "exp": int(time.time()) + 600,
            "name": "s7",
        }
    )


def ca_token(fake: FakeController) -> str:
    # Reusable: no jti, no exp.
    return fake.sign({"em": "ca", "sub": "ca-id-1", "name": "Fleet CA"})


def test_ottca_presents_the_device_certificate_and_keeps_it(fake, pki, device_files, tmp_path: Path):
    cert_path, key_path = device_files
    jwt_path, out = tmp_path / "ottca.jwt", tmp_path / "id.json"
    jwt_path.write_text(ottca_token(fake))

    run = run_subprocess(args(jwt_path, out, "--cert", cert_path, "--key", key_path, "-v"))

    assert run.code == 0, run.stderr
    [request] = fake.enroll_requests()
    query = parse_qs(urlsplit(request.path).query)
    assert query == {"method": ["ottca"], "token": ["one-time-token"]}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.body == b""
    assert request.client_cert_der is not None
    assert request.client_cert_der == _der(cert_path)

    identity_file = read_identity_file(out)
    assert identity_file["ztAPI"] == fake.url
    assert identity_file["id"]["cert"] == cert_path.read_text()
    assert identity_file["id"]["key"] == key_path.read_text()
    assert set(x509.load_pem_x509_certificates(identity_file["id"]["ca"].encode())) == set(pki.ca_bundle)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "generate key" not in run.stdout


def test_ca_sends_the_requested_name_and_no_token(fake, device_files, tmp_path: Path):
    cert_path, key_path = device_files
    jwt_path, out = tmp_path / "ca.jwt", tmp_path / "id.json"
    jwt_path.write_text(ca_token(fake))

    run = run_in_process(
        args(jwt_path, out, "--cert", cert_path, "--key", key_path, "--idname", "sensor seven")
    )

    assert run.code == 0, run.stderr
    assert "a new identity through CA" in run.stdout.splitlines()[0]
    [request] = fake.enroll_requests()
    assert parse_qs(urlsplit(request.path).query) == {"method": ["ca"]}
    assert json.loads(request.body) == {"name": "sensor seven"}
    assert request.client_cert_der == _der(cert_path)
    assert read_identity_file(out)["id"]["cert"] == cert_path.read_text()


def test_ca_without_a_name_sends_no_body(fake, device_files, tmp_path: Path):
    cert_path, key_path = device_files
    jwt_path = tmp_path / "ca.jwt"
    jwt_path.write_text(ca_token(fake))

    run = run_in_process(args(jwt_path, tmp_path / "id.json", "--cert", cert_path, "--key", key_path))

    assert run.code == 0, run.stderr
    [request] = fake.enroll_requests()
    assert request.body == b""
    assert request.headers["content-length"] == "0"


def test_refusal_of_the_device_certificate(fake, device_files, tmp_path: Path):
    fake.enroll = lambda seen: ScriptedReply.error("CERT_FAILED_VALIDATION", "not from the expected CA")
    cert_path, key_path = device_files
    jwt_path, out = tmp_path / "ottca.jwt", tmp_path / "id.json"
    jwt_path.write_text(ottca_token(fake))

    run = run_in_process(args(jwt_path, out, "--cert", cert_path, "--key", key_path))

    assert_one_line_error(run, "CERT_FAILED_VALIDATION", "not from the expected CA")
    assert run.code == code_of(EnrollmentRefused)
    assert not out.exists()


def test_ottca_needs_cert_and_key(fake, device_files, tmp_path: Path):
    cert_path, _ = device_files
    jwt_path = tmp_path / "ottca.jwt"
    jwt_path.write_text(ottca_token(fake))

    run = run_in_process(args(jwt_path, tmp_path / "id.json", "--cert", cert_path))

    assert_one_line_error(run, "ottca token needs the device certificate", "--key")
    assert run.code == code_of(UsageError)
    assert fake.seen == []


def test_key_that_does_not_match_the_certificate(fake, fleet_ca, device_files, tmp_path: Path):
    cert_path, _ = device_files
    _, other_key_path = write_cert_and_key(tmp_path, "other", *fleet_ca.issue("other"))
    jwt_path = tmp_path / "ottca.jwt"
    jwt_path.write_text(ottca_token(fake))

    run = run_in_process(args(jwt_path, tmp_path / "id.json", "--cert", cert_path, "--key", other_key_path))

    assert_one_line_error(run, "does not belong to the certificate")
    assert run.code == code_of(UsageError)
    assert fake.seen == []


def test_unreadable_device_certificate(fake, device_files, tmp_path: Path):
    _, key_path = device_files
    jwt_path = tmp_path / "ottca.jwt"
    jwt_path.write_text(ottca_token(fake))
    missing = tmp_path / "missing.crt"

    run = run_in_process(args(jwt_path, tmp_path / "id.json", "--cert", missing, "--key", key_path))

    assert_one_line_error(run, f"cannot read the certificate file {missing}")
    assert run.code == code_of(InputUnreadable)


def _der(cert_path: Path) -> bytes:
    return x509.load_pem_x509_certificate(cert_path.read_bytes()).public_bytes(serialization.Encoding.DER)
