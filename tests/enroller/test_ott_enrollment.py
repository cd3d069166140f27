"""The enroller's ott flow against the real controller (cheroot, mTLS, shared DB)."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import verification

from identities.models import Authenticator
from kernel.certificates import sha1_fingerprint
from tests.helpers import mtls_version_request

from .conftest import read_identity_file, run_in_process, run_subprocess


def _chain(identity_file: dict) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(identity_file["id"]["cert"].encode())


def test_subprocess_enrolls_and_writes_a_private_identity_file(controller, pki, pending, tmp_path: Path):
    device = pending(name="thermostat")
    out = tmp_path / "thermostat.json"

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(out)])

    assert run.code == 0, run.stderr
    assert run.stderr == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    identity_file = read_identity_file(out)
    assert set(identity_file) == {"ztAPI", "id"}
    assert set(identity_file["id"]) == {"key", "cert", "ca"}
    assert identity_file["ztAPI"] == controller.url
    # No stray temporary files beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([device.jwt_path.name, out.name])

    chain = _chain(identity_file)
    key = serialization.load_pem_private_key(identity_file["id"]["key"].encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    assert key.public_key() == chain[0].public_key()
    assert chain[0].subject.rfc4514_string() == f"CN={device.identity.id}"

    bundle = x509.load_pem_x509_certificates(identity_file["id"]["ca"].encode())
    assert set(bundle) == set(pki.ca_bundle)
    verifier = verification.PolicyBuilder().store(verification.Store(bundle)).build_client_verifier()
    verifier.verify(chain[0], chain[1:])

    authenticator = Authenticator.objects.get(identity=device.identity)
    assert authenticator.fingerprint == sha1_fingerprint(chain[0])
    device.enrollment.refresh_from_db()
    assert device.enrollment.consumed_at is not None


def test_announces_identity_and_controller_before_enrolling(controller, pending, tmp_path: Path):
    device = pending(name="front-door")

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(tmp_path / "id.json")])

    assert run.code == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert '"front-door"' in first
    assert device.identity.id in first
    assert controller.url in first
    assert "identity file written" in run.stdout.splitlines()[-1]


def test_verbose_prints_every_step_in_order(controller, pending, tmp_path: Path):
    device = pending()

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(tmp_path / "id.json"), "-v"])

    assert run.code == 0, run.stderr
    steps = [line.split("]")[0].lstrip("[") for line in run.stdout.splitlines() if line.startswith("[")]
    assert steps == [
        "parse",
        "fetch controller cert",
        "verify JWT",
        "fetch CA bundle",
        "generate key",
        "enroll",
        "write",
    ]


def test_quiet_run_prints_no_steps(controller, pending, tmp_path: Path):
    device = pending()

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(tmp_path / "id.json")])

    assert run.code == 0, run.stderr
    assert not any(line.startswith("[") for line in run.stdout.splitlines())


def test_rsa_key_type(controller, pending, tmp_path: Path):
    device = pending()
    out = tmp_path / "id.json"

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(out), "--key-type", "rsa"])

    assert run.code == 0, run.stderr
    identity_file = read_identity_file(out)
    key = serialization.load_pem_private_key(identity_file["id"]["key"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    assert key.public_key() == _chain(identity_file)[0].public_key()


def test_rsa_bits(controller, pending, tmp_path: Path):
    device = pending()
    out = tmp_path / "id.json"

    run = run_in_process(
        ["--jwt", str(device.jwt_path), "--out", str(out), "--key-type", "rsa", "--rsa-bits", "3072"]
    )

    assert run.code == 0, run.stderr
    key = serialization.load_pem_private_key(read_identity_file(out)["id"]["key"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 3072


def test_reads_the_jwt_from_stdin(controller, pending, tmp_path: Path):
    device = pending()
    out = tmp_path / "id.json"

    run = run_subprocess(["--jwt", "-", "--out", str(out)], stdin=device.jwt)

    assert run.code == 0, run.stderr
    assert read_identity_file(out)["ztAPI"] == controller.url
    assert Authenticator.objects.filter(identity=device.identity).count() == 1


def test_enrolled_certificate_completes_mutual_tls(controller, pending, tmp_path: Path):
    device = pending()
    out = tmp_path / "id.json"
    assert run_in_process(["--jwt", str(device.jwt_path), "--out", str(out)]).code == 0
    identity_file = read_identity_file(out)
    cert_path, key_path = tmp_path / "device.crt", tmp_path / "device.key"
    cert_path.write_text(identity_file["id"]["cert"])
    key_path.write_text(identity_file["id"]["key"])

    # Trust exactly what the identity file says, as an SDK would.
    bundle_path = tmp_path / "bundle.pem"
    bundle_path.write_text(identity_file["id"]["ca"])
    context = controller.ssl_context(cert_path, key_path)
    context.load_verify_locations(cafile=str(bundle_path))

    assert mtls_version_request(controller.host, controller.port, context) == b"HTTP/1.1 200 OK"


def test_controller_addressed_by_ip(controller, settings, pending, tmp_path: Path):
    # An IP iss: the SAN check, the chain check and TLS verification all match an IP SAN.
    settings.ZITI_CTRL_ADDRESS = "127.0.0.1"
    device = pending()
    out = tmp_path / "id.json"

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(out)])

    assert run.code == 0, run.stderr
    assert read_identity_file(out)["ztAPI"] == f"https://127.0.0.1:{controller.port}"
