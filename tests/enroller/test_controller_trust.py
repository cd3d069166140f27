"""The enroller trusts a controller only as far as it has proven itself (fake controller)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from authorities.pki import issue_identity_certificate
from enrollment.enroller import cli
from enrollment.enroller.errors import ControllerNotTrusted, ProtocolError, TokenForged
from kernel.certificates import to_pem
from tests.helpers import ec_key, rsa_key

from .conftest import assert_one_line_error, read_identity_file, run_in_process
from .fake_controller import (
    FakeController,
    ScriptedReply,
    Seen,
    real_server_identity,
    running,
    self_signed_identity,
)


def code_of(error: type) -> int:
    return cli.EXIT_CODE_OF[error]


def ott_claims() -> dict:
    return {"em": "ott", "sub": "identity-1", "jti": "tok", "exp": int(time.time()) + 600, "name": "dev"}


def enroll_against(fake: FakeController, tmp_path: Path) -> tuple:
    jwt_path, out = tmp_path / "ott.jwt", tmp_path / "id.json"
    with running(fake):
        jwt_path.write_text(fake.sign(ott_claims()))
        run = run_in_process(["--jwt", str(jwt_path), "--out", str(out)])
    return run, out


def sign_csr(reply: Callable[[str], ScriptedReply]) -> Callable[[Seen], ScriptedReply]:
    """An /enroll script that issues a real certificate for the CSR, then shapes the reply."""

    def script(seen: Seen) -> ScriptedReply:
        csr = x509.load_pem_x509_csr(seen.body)
        return reply(to_pem(issue_identity_certificate(csr.public_key(), "identity-1")))

    return script


def test_raw_pem_reply_is_accepted(pki, tmp_path: Path):
    script = sign_csr(lambda pem: ScriptedReply(200, "application/x-pem-file", pem.encode()))
    fake = FakeController(real_server_identity(pki), pki.ca_bundle, enroll=script)

    run, out = enroll_against(fake, tmp_path)

    assert run.code == 0, run.stderr
    identity_file = read_identity_file(out)
    cert = x509.load_pem_x509_certificate(identity_file["id"]["cert"].encode())
    key = serialization.load_pem_private_key(identity_file["id"]["key"].encode(), password=None)
    assert cert.public_key() == key.public_key()
    [request] = fake.enroll_requests()
    assert request.headers["content-type"] == "text/plain"
    assert request.body.startswith(b"-----BEGIN CERTIFICATE REQUEST-----")
    assert x509.load_pem_x509_csr(request.body).subject.rfc4514_string() == "CN=identity-1"


def test_certificate_for_another_key_is_refused(pki, tmp_path: Path):
    stranger = to_pem(issue_identity_certificate(ec_key().public_key(), "identity-1"))
    fake = FakeController(
        real_server_identity(pki),
        pki.ca_bundle,
        enroll=lambda seen: ScriptedReply.json({"data": {"cert": stranger}}),
    )

    run, out = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "certificate for a different key")
    assert run.code == code_of(ProtocolError)
    assert not out.exists()


@pytest.mark.parametrize(
    ("reply", "fragment"),
    [
        (ScriptedReply(500, "text/html", b"<h1>oops</h1>"), "HTTP 500 without an error envelope"),
        (ScriptedReply(200, "text/html", b"<h1>hi</h1>"), "not a JSON envelope"),
        (ScriptedReply.json({"data": {"cert": "not a pem"}}), "no valid PEM certificate"),
        (ScriptedReply.json({"data": {}}), "no certificate"),
        (ScriptedReply.json({"data": []}), "not a JSON envelope"),
    ],
)
def test_replies_outside_the_protocol(pki, tmp_path: Path, reply: ScriptedReply, fragment: str):
    fake = FakeController(real_server_identity(pki), pki.ca_bundle, enroll=lambda seen: reply)

    run, out = enroll_against(fake, tmp_path)

    assert_one_line_error(run, fragment)
    assert run.code == code_of(ProtocolError)
    assert not out.exists()


def test_server_error_text_cannot_inject_terminal_control(pki, tmp_path: Path):
    hostile = ScriptedReply.error("INVALID_ENROLLMENT_TOKEN", "bad\x1b[2J token\nerror: fake second line")
    fake = FakeController(real_server_identity(pki), pki.ca_bundle, enroll=lambda seen: hostile)

    run, _ = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "INVALID_ENROLLMENT_TOKEN", "bad [2J token error: fake second line")
    assert "\x1b" not in run.stderr


def test_jwt_signed_by_another_key_than_the_tls_one(pki, tmp_path: Path):
    fake = FakeController(real_server_identity(pki), pki.ca_bundle)
    jwt_path, out = tmp_path / "ott.jwt", tmp_path / "id.json"
    with running(fake):
        jwt_path.write_text(fake.sign(ott_claims(), key=rsa_key()))
        run = run_in_process(["--jwt", str(jwt_path), "--out", str(out)])

    assert_one_line_error(run, "signature does not verify")
    assert run.code == code_of(TokenForged)
    assert fake.seen == []  # not even the CA bundle was asked for


def test_leaf_that_does_not_chain_to_the_bundle(pki, tmp_path: Path):
    # The JWT verifies (the rogue signs it with its own key), but the bundle it serves
    # does not vouch for its certificate.
    fake = FakeController(self_signed_identity(tmp_path), pki.ca_bundle)

    run, out = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "does not chain to its CA bundle")
    assert run.code == code_of(ControllerNotTrusted)
    assert fake.enroll_requests() == []
    assert not out.exists()


def test_leaf_whose_sans_do_not_cover_the_host(pki, tmp_path: Path):
    identity = self_signed_identity(tmp_path, sans=[x509.DNSName("controller.example")])
    fake = FakeController(identity, pki.ca_bundle)

    run, _ = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "does not name localhost")
    assert run.code == code_of(ControllerNotTrusted)
    assert fake.seen == []


def test_expired_leaf(pki, tmp_path: Path):
    identity = self_signed_identity(tmp_path, not_after=dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    fake = FakeController(identity, pki.ca_bundle)

    run, _ = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "controller's certificate expired at")
    assert run.code == code_of(ControllerNotTrusted)


def test_leaf_without_an_rsa_key(pki, tmp_path: Path):
    fake = FakeController(self_signed_identity(tmp_path, key=ec_key()), pki.ca_bundle)
    jwt_path = tmp_path / "ott.jwt"
    with running(fake):
        jwt_path.write_text(fake.sign(ott_claims(), key=rsa_key()))
        run = run_in_process(["--jwt", str(jwt_path), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, "no RSA key")
    assert run.code == code_of(TokenForged)


def test_a_different_certificate_on_the_next_connection(pki, tmp_path: Path):
    # The first handshake shows the key that signed the JWT; the CA bundle must come
    # from that same certificate, not from whoever answers next.
    fake = FakeController(
        real_server_identity(pki), pki.ca_bundle, later_identity=self_signed_identity(tmp_path)
    )

    run, out = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "different certificate than the one that verified the JWT")
    assert run.code == code_of(ControllerNotTrusted)
    assert fake.seen == []
    assert not out.exists()


def test_garbage_ca_bundle(pki, tmp_path: Path):
    fake = FakeController(real_server_identity(pki), pki.ca_bundle, cacerts_body=b"bm90IHBrY3M3")

    run, _ = enroll_against(fake, tmp_path)

    assert_one_line_error(run, "CA bundle is not a base64 PKCS#7")
    assert run.code == code_of(ProtocolError)
