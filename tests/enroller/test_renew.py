"""`python -m enrollment.enroller renew`: the device renews its certificate against the
real controller, and the identity file is rewritten only when all went well."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from authorities.models import RevokedCertificate
from identities.models import Authenticator
from identities.services import revoke_identity_certificate
from kernel.certificates import sha1_fingerprint
from tests.helpers import https_request

from .conftest import read_identity_file, run_in_process, run_subprocess


def credentials(identity_file: dict, directory: Path, stem: str) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert_path.write_text(identity_file["id"]["cert"].removeprefix("pem:"))
    key_path.write_text(identity_file["id"]["key"].removeprefix("pem:"))
    key_path.chmod(0o600)
    return cert_path, key_path


def authenticates(controller, cert_path: Path, key_path: Path) -> int:
    context = controller.ssl_context(cert_path, key_path)
    return https_request(controller.url, "POST", "/authenticate?method=cert", context=context).status


def leaf(identity_file: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificates(identity_file["id"]["cert"].removeprefix("pem:").encode())[0]


def enrolled(pending, tmp_path: Path) -> Path:
    device = pending(name="laptop")
    out = tmp_path / "laptop.json"
    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(out)])
    assert run.code == 0, run.stderr
    return out


def test_renew_swaps_in_a_new_certificate_and_key_and_the_old_one_is_refused(controller, pending, tmp_path):
    out = enrolled(pending, tmp_path)
    before = read_identity_file(out)
    old_cert, old_key = credentials(before, tmp_path, "old")

    run = run_subprocess(["renew", "--identity", str(out)])

    assert run.code == 0, run.stderr
    assert "renewed" in run.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    after = read_identity_file(out)
    assert after["ztAPI"] == before["ztAPI"]
    assert after["id"]["key"] != before["id"]["key"]  # a new key by default
    assert leaf(after).serial_number != leaf(before).serial_number
    assert Authenticator.objects.get().fingerprint == sha1_fingerprint(leaf(after))
    assert Authenticator.objects.get().key_rolled_at is not None
    assert authenticates(controller, *credentials(after, tmp_path, "new")) == 200
    assert authenticates(controller, old_cert, old_key) == 401
    # No stray staging file beside it.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_renew_keep_key_reuses_the_key(controller, pending, tmp_path):
    out = enrolled(pending, tmp_path)
    before = read_identity_file(out)

    run = run_in_process(["renew", "--identity", str(out), "--keep-key"])

    assert run.code == 0, run.stderr
    after = read_identity_file(out)
    assert after["id"]["key"] == before["id"]["key"]
    assert leaf(after).serial_number != leaf(before).serial_number
    assert Authenticator.objects.get().key_rolled_at is None


def test_a_refused_renewal_leaves_the_identity_file_as_it_was(controller, pending, tmp_path):
    out = enrolled(pending, tmp_path)
    original = out.read_bytes()
    revoke_identity_certificate(Authenticator.objects.get(), "keyCompromise")

    run = run_in_process(["renew", "--identity", str(out)])

    assert run.code == 11, run.stderr  # the controller refused
    assert run.stderr.startswith("error: ")
    assert "INVALID_AUTH" in run.stderr
    assert out.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert RevokedCertificate.objects.count() == 1


def test_an_unreachable_controller_leaves_the_identity_file_as_it_was(controller, pending, tmp_path):
    out = enrolled(pending, tmp_path)
    document = read_identity_file(out)
    from .conftest import closed_port

    document["ztAPI"] = f"https://localhost:{closed_port()}"
    out.write_text(json.dumps(document))
    original = out.read_bytes()

    run = run_in_process(["renew", "--identity", str(out)])

    assert run.code == 7, run.stderr
    assert out.read_bytes() == original
    assert Authenticator.objects.get().pending_certificate_pem == ""


def test_renew_of_a_file_that_is_not_an_identity_file_says_so(tmp_path):
    out = tmp_path / "nonsense.json"
    out.write_text("[]")

    run = run_in_process(["renew", "--identity", str(out)])

    assert run.code == 3
    assert "is not an identity file" in run.stderr


def test_the_reference_clients_identity_renews_with_our_enroller(controller, tmp_path):
    from identities.services import create_identity, enrollment_jwt
    from tests.test_end_to_end import openziti_enroll

    _identity, enrollment = create_identity(name="sdk-device", identity_type="device")
    out = tmp_path / "sdk-device.json"
    out.write_text(json.dumps(openziti_enroll(enrollment_jwt(enrollment))))
    out.chmod(0o600)
    old_cert, old_key = credentials(read_identity_file(out), tmp_path, "old")
    assert authenticates(controller, old_cert, old_key) == 200

    run = run_in_process(["renew", "--identity", str(out)])

    assert run.code == 0, run.stderr
    assert authenticates(controller, *credentials(read_identity_file(out), tmp_path, "new")) == 200
    assert authenticates(controller, old_cert, old_key) == 401
    key = serialization.load_pem_private_key(
        read_identity_file(out)["id"]["key"].removeprefix("pem:").encode(), password=None
    )
    assert key.public_key() == leaf(read_identity_file(out)).public_key()
