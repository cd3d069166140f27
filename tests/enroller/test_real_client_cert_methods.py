"""The enroller's ottca and ca methods against the real controller, over mutual TLS."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from authorities.models import CertificateAuthority
from authorities.services import ca_enrollment_jwt, create_certificate_authority, verify_certificate_authority
from identities.models import Identity
from tests.enroller.conftest import assert_one_line_error, read_identity_file, run_subprocess
from tests.helpers import make_ca, write_cert_and_key


@pytest.fixture
def fleet():
    return make_ca("Fleet Issuing CA")


def registered(test_ca, **flags):
    ca = create_certificate_authority(name="Fleet", certificate_pem=test_ca.pem, auth_enabled=True, **flags)
    proof, _ = test_ca.issue(ca.verification_token, client_auth=False)
    return verify_certificate_authority(ca, proof.public_bytes(Encoding.PEM))


def authenticates(controller, cert: Path, key: Path) -> bool:
    connection = http.client.HTTPSConnection(
        "localhost", controller.port, context=controller.ssl_context(cert, key), timeout=10
    )
    try:
        connection.request("POST", "/authenticate?method=cert")
        return connection.getresponse().status == 200
    finally:
        connection.close()


def test_ottca_through_the_cli_then_authenticates(controller, pending, fleet, tmp_path: Path):
    ca = registered(fleet, ott_ca_enrollment=True)
    device = pending(name="ottca-cli-device", ca=ca)
    cert_path, key_path = write_cert_and_key(tmp_path, "device", *fleet.issue("ottca-cli-device"))
    out = tmp_path / "identity.json"

    run = run_subprocess(
        ["--jwt", str(device.jwt_path), "--cert", str(cert_path), "--key", str(key_path), "--out", str(out)]
    )

    assert run.code == 0, run.stderr
    identity_file = read_identity_file(out)
    assert identity_file["ztAPI"] == controller.url
    assert identity_file["id"]["cert"].strip() == cert_path.read_text().strip()
    assert out.stat().st_mode & 0o777 == 0o600
    assert device.identity.authenticators.get().ca == ca
    assert authenticates(controller, cert_path, key_path)


def test_ca_auto_enrollment_through_the_cli_with_a_requested_name(controller, fleet, tmp_path: Path):
    ca = registered(fleet, auto_ca_enrollment=True, identity_name_format="[requestedName]")
    jwt_path = tmp_path / "fleet.jwt"
    jwt_path.write_text(ca_enrollment_jwt(ca))
    cert_path, key_path = write_cert_and_key(tmp_path, "device", *fleet.issue("thermostat"))
    out = tmp_path / "identity.json"

    run = run_subprocess(
        [
            "--jwt",
            str(jwt_path),
            "--cert",
            str(cert_path),
            "--key",
            str(key_path),
            "--idname",
            "kitchen-thermostat",
            "--out",
            str(out),
        ]
    )

    assert run.code == 0, run.stderr
    assert Identity.objects.get().name == "kitchen-thermostat"
    assert json.loads(out.read_text())["id"]["key"].strip() == key_path.read_text().strip()
    assert authenticates(controller, cert_path, key_path)


def test_a_refused_ottca_enrollment_is_one_line_and_writes_nothing(
    controller, pending, fleet, tmp_path: Path
):
    ca = registered(fleet, ott_ca_enrollment=True)
    device = pending(ca=ca)
    CertificateAuthority.objects.filter(pk=ca.pk).update(is_ott_ca_enrollment_enabled=False)
    cert_path, key_path = write_cert_and_key(tmp_path, "device", *fleet.issue("x"))
    out = tmp_path / "identity.json"

    run = run_subprocess(
        ["--jwt", str(device.jwt_path), "--cert", str(cert_path), "--key", str(key_path), "--out", str(out)]
    )

    assert_one_line_error(run, "ENROLLMENT_CA_NOT_VALID")
    assert not out.exists()
