"""Every failure: one "error: ..." line naming the cause, a non-zero exit, no identity file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jwt
import pytest
from django.utils import timezone

from authorities.jwt import sign_enrollment_claims
from enrollment.enroller import cli
from enrollment.enroller.errors import (
    ControllerUnreachable,
    EnrollmentRefused,
    InputUnreadable,
    OutputError,
    OutputExists,
    TokenExpired,
    TokenForged,
    TokenMalformed,
    UsageError,
)
from identities.models import Authenticator
from identities.services import enrollment_jwt
from tests.helpers import rsa_key

from .conftest import assert_one_line_error, closed_port, run_in_process, run_subprocess


def code_of(error: type) -> int:
    return cli.EXIT_CODE_OF[error]


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def write_jwt(directory: Path, text: str) -> Path:
    path = directory / "token.jwt"
    path.write_text(text)
    return path


def assert_untouched(directory: Path, *expected: Path) -> None:
    """Nothing but the given files in `directory`: no output, no temporary leftovers."""
    assert sorted(directory.iterdir()) == sorted(expected)


def test_forged_jwt_is_rejected_before_anything_is_sent(controller, pending, tmp_path: Path):
    device = pending()
    forged = write_jwt(tmp_path, jwt.encode(claims_of(device.jwt), rsa_key(), algorithm="RS256"))
    out = tmp_path / "id.json"

    run = run_subprocess(["--jwt", str(forged), "--out", str(out)])

    assert_one_line_error(run, "signature does not verify with the controller's key")
    assert run.code == code_of(TokenForged)
    assert not out.exists()
    device.enrollment.refresh_from_db()
    assert device.enrollment.consumed_at is None


def test_jwt_with_a_symmetric_algorithm_is_not_accepted(controller, pending, tmp_path: Path):
    # Algorithm confusion: an HS256 token keyed with anything must never pass.
    device = pending()
    secret = "a-public-value-that-is-long-enough-for-hs256"
    token = write_jwt(tmp_path, jwt.encode(claims_of(device.jwt), secret, algorithm="HS256"))
    out = tmp_path / "id.json"

    run = run_in_process(["--jwt", str(token), "--out", str(out)])

    assert_one_line_error(run, "not signed with RS256")
    assert run.code == code_of(TokenForged)
    assert not out.exists()


def test_expired_jwt(controller, pending, tmp_path: Path):
    device = pending(enrollment_minutes=1)
    device.enrollment.expires_at = timezone.now() - dt.timedelta(minutes=5)
    device.enrollment.save(update_fields=["expires_at"])
    # The JWT's exp comes from expires_at: mint it again.
    token = write_jwt(tmp_path, enrollment_jwt(device.enrollment))
    out = tmp_path / "id.json"

    run = run_subprocess(["--jwt", str(token), "--out", str(out)])

    exp = dt.datetime.fromtimestamp(int(device.enrollment.expires_at.timestamp()), dt.UTC)
    assert_one_line_error(run, f"token expired at {exp:%Y-%m-%d %H:%M:%S} UTC")
    assert run.code == code_of(TokenExpired)
    assert_untouched(tmp_path, token, device.jwt_path)


def test_unreachable_controller(db, settings, pending, tmp_path: Path):
    port = closed_port()
    settings.ZITI_CTRL_PORT = port
    device = pending()
    out = tmp_path / "id.json"

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(out)])

    assert_one_line_error(run, f"cannot reach the controller at localhost:{port}", "refused")
    assert run.code == code_of(ControllerUnreachable)
    assert_untouched(tmp_path, device.jwt_path)


def test_controller_host_that_does_not_resolve(db, settings, pending, tmp_path: Path):
    settings.ZITI_CTRL_ADDRESS = "no-such-controller.invalid"  # RFC 6761: never resolves
    device = pending()
    out = tmp_path / "id.json"

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(out), "--timeout", "5"])

    assert_one_line_error(run, "no-such-controller.invalid", "does not resolve")
    assert run.code == code_of(ControllerUnreachable)
    assert not out.exists()


def test_refused_token_shows_the_servers_code_and_message(controller, pending, tmp_path: Path):
    device = pending()
    assert run_in_process(["--jwt", str(device.jwt_path), "--out", str(tmp_path / "first.json")]).code == 0
    again = tmp_path / "again.json"

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(again)])

    assert_one_line_error(run, "INVALID_ENROLLMENT_TOKEN", "the enrollment token is not valid")
    assert run.code == code_of(EnrollmentRefused)
    assert not again.exists()
    assert Authenticator.objects.filter(identity=device.identity).count() == 1


def test_existing_output_file_is_left_alone_and_nothing_is_redeemed(controller, pending, tmp_path: Path):
    device = pending()
    out = tmp_path / "id.json"
    out.write_text("precious")
    out.chmod(0o644)

    run = run_subprocess(["--jwt", str(device.jwt_path), "--out", str(out)])

    assert_one_line_error(run, "already exists", str(out))
    assert run.code == code_of(OutputExists)
    assert out.read_text() == "precious"
    assert out.stat().st_mode & 0o777 == 0o644
    device.enrollment.refresh_from_db()
    assert device.enrollment.consumed_at is None
    assert_untouched(tmp_path, device.jwt_path, out)


def test_existing_output_file_is_checked_before_any_network_work(db, settings, pending, tmp_path: Path):
    settings.ZITI_CTRL_PORT = closed_port()  # were the network tried, this would say "refused"
    device = pending()
    out = tmp_path / "id.json"
    out.symlink_to(tmp_path / "elsewhere.json")  # dangling: writing through it is as bad

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(out)])

    assert_one_line_error(run, "already exists")
    assert run.code == code_of(OutputExists)
    assert not (tmp_path / "elsewhere.json").exists()


def test_missing_output_directory(db, settings, pending, tmp_path: Path):
    settings.ZITI_CTRL_PORT = closed_port()
    device = pending()

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(tmp_path / "nowhere" / "id.json")])

    assert_one_line_error(run, "does not exist")
    assert run.code == code_of(OutputError)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("garbage", "malformed"),
        ("a.b.c", "malformed"),
        ("", "empty"),
        ("\u00ff" * 10, "malformed"),
    ],
)
def test_garbage_jwt(text: str, fragment: str, tmp_path: Path):
    token = write_jwt(tmp_path, text)
    out = tmp_path / "id.json"

    run = run_in_process(["--jwt", str(token), "--out", str(out)])

    assert_one_line_error(run, fragment)
    assert run.code == code_of(TokenMalformed)
    assert_untouched(tmp_path, token)


def test_garbage_jwt_through_a_subprocess(tmp_path: Path):
    token = write_jwt(tmp_path, "this is not a JWT\nat all\n")

    run = run_subprocess(["--jwt", str(token), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, "malformed")
    assert run.code == code_of(TokenMalformed)


def test_binary_jwt_file(tmp_path: Path):
    token = tmp_path / "token.jwt"
    token.write_bytes(b"\xff\xfe\x00garbage")

    run = run_in_process(["--jwt", str(token), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, "not text")
    assert run.code == code_of(TokenMalformed)


def test_unknown_enrollment_method(db, pending, tmp_path: Path):
    device = pending()
    claims = claims_of(device.jwt)
    claims.pop("iss")
    token = write_jwt(tmp_path, sign_enrollment_claims({**claims, "em": "updb"}))

    run = run_in_process(["--jwt", str(token), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, '"updb" is not supported')
    assert run.code == code_of(TokenMalformed)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"iss": "http://localhost:1280"}, "not an https:// controller URL"),
        ({"iss": "https://localhost:1280/edge/client/v1"}, "bare https://HOST:PORT"),
        ({"iss": "https://localhost:99999"}, "not a valid URL"),
        ({"sub": None}, 'lacks the "sub" claim'),
        ({"jti": None}, 'lacks the "jti" claim'),
        ({"exp": None}, '"exp"'),
        ({"em": None}, 'lacks the "em" claim'),
    ],
)
def test_claims_that_do_not_make_an_ott_token(db, pending, tmp_path: Path, change: dict, fragment: str):
    claims = {**claims_of(pending().jwt), **change}
    claims = {k: v for k, v in claims.items() if v is not None}
    token = write_jwt(tmp_path, jwt.encode(claims, rsa_key(), algorithm="RS256"))

    run = run_in_process(["--jwt", str(token), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, fragment)
    assert run.code == code_of(TokenMalformed)


def test_unreadable_jwt_file(tmp_path: Path):
    missing = tmp_path / "missing.jwt"

    run = run_subprocess(["--jwt", str(missing), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, f"cannot read the JWT file {missing}", "no such file")
    assert run.code == code_of(InputUnreadable)
    assert list(tmp_path.iterdir()) == []


def test_cert_options_do_not_fit_an_ott_token(db, pending, tmp_path: Path):
    device = pending()

    run = run_in_process(
        ["--jwt", str(device.jwt_path), "--out", str(tmp_path / "id.json"), "--cert", "c.pem", "--key", "k"]
    )

    assert_one_line_error(run, "--cert", "ott token")
    assert run.code == code_of(UsageError)


def test_failed_write_leaves_no_file(controller, pending, tmp_path: Path, monkeypatch):
    device = pending()
    out = tmp_path / "id.json"

    def broken_link(source: object, target: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("enrollment.enroller.identity_file.os.link", broken_link)

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(out)])

    assert_one_line_error(run, f"cannot write {out}", "input/output error")
    assert run.code == code_of(OutputError)
    assert_untouched(tmp_path, device.jwt_path)


def test_unexpected_bug_is_still_one_line(db, pending, tmp_path: Path, monkeypatch):
    device = pending()

    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise\nwith a second line")

    monkeypatch.setattr("enrollment.enroller.flow.client.fetch_leaf", bug)

    run = run_in_process(["--jwt", str(device.jwt_path), "--out", str(tmp_path / "id.json")])

    assert_one_line_error(run, "unexpected KeyError")
    assert run.code == cli.EXIT_INTERNAL


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--out", "id.json"], "required: --jwt"),
        (["--jwt", "t.jwt", "--out", "id.json", "--key-type", "dsa"], "--key-type"),
        (["--jwt", "t.jwt", "--out", "id.json", "--timeout", "0"], "positive number of seconds"),
    ],
)
def test_usage_mistakes_are_one_line_too(argv: list[str], fragment: str):
    run = run_subprocess(argv)

    assert_one_line_error(run, fragment)
    assert run.code == code_of(UsageError)


def test_empty_stdin(tmp_path: Path):
    run = run_in_process(["--jwt", "-", "--out", str(tmp_path / "id.json")], stdin="\n")

    assert_one_line_error(run, "empty")
    assert run.code == code_of(TokenMalformed)
