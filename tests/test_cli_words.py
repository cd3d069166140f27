"""Management commands speak to people: before the first start, with other settings, on success."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from tests.helpers import make_ca
from tests.servers import ROOT, controller_env, free_port, manage, register_verified_ca, serving

COMMANDS = [
    ("create_identity", "device", "early"),
    ("delete_identity", "early"),
    ("create_ca", "Fleet", "--cert", "ca.pem"),
    ("verify_ca", "Fleet", "--cert", "proof.pem"),
    ("ca_jwt", "Fleet"),
    ("seed_identities", "3"),
    ("proxy_certificate", "nginx", "--out", "proxy"),
    ("export_root_key", "root.key"),
    ("reissue_enrollment", "early"),
    ("reset_enrollment", "early"),
    ("revoke_certificate", "early"),
    ("request_extend", "early"),
]


def run(data_dir: Path, *args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=cwd,
        env=controller_env(data_dir, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_before_the_first_start_every_command_says_so_in_one_line_and_leaves_nothing(
    tmp_path: Path, command: tuple[str, ...]
):
    data_dir = tmp_path / "never-started"

    result = run(data_dir, *command, cwd=tmp_path)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"has not been started with the data directory {data_dir}" in lines[0]
    assert "manage.py serve" in lines[0]
    assert list(tmp_path.iterdir()) == []  # no data directory, no stray file in the working one


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    data_dir, port = tmp_path_factory.mktemp("cli") / "var", free_port()
    with serving(data_dir, port, ZITI_CTRL_ADDRESS="127.0.0.1") as process:
        process.stop()
    return data_dir, port


def iss(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["iss"]


def test_the_jwt_names_the_address_the_server_advertised_whatever_the_cli_settings(started):
    data_dir, port = started

    plain = run(data_dir, "create_identity", "device", "no-settings")
    other = run(data_dir, "create_identity", "device", "other-port", ZITI_CTRL_PORT="9999")

    assert plain.returncode == other.returncode == 0
    assert iss(plain.stdout.strip()) == iss(other.stdout.strip()) == f"https://127.0.0.1:{port}"
    assert "warning: this command's settings say https://localhost:9999" in other.stderr
    assert f"the controller advertises https://127.0.0.1:{port}" in other.stderr


def test_ca_jwt_says_what_it_wrote_and_verify_ca_does_not_contradict_itself(started, tmp_path: Path):
    data_dir, port = started
    fleet = make_ca("Fleet CA")
    register_verified_ca(data_dir, fleet, "Fleet", "--auto-enrollment", ZITI_CTRL_ADDRESS="127.0.0.1")
    proof = tmp_path / "proof.pem"
    proof.write_text(fleet.pem)

    wrote = run(data_dir, "ca_jwt", "Fleet", "-o", str(tmp_path / "fleet.jwt"), ZITI_CTRL_ADDRESS="127.0.0.1")
    again = manage(data_dir, "verify_ca", "Fleet", "--cert", str(proof), ZITI_CTRL_ADDRESS="127.0.0.1")

    assert wrote.returncode == 0
    assert f'wrote the auto-enrollment JWT of CA "Fleet" to {tmp_path / "fleet.jwt"}' in wrote.stderr
    assert iss((tmp_path / "fleet.jwt").read_text().strip()) == f"https://127.0.0.1:{port}"
    assert again.stdout.strip() == 'CA "Fleet" is already verified; nothing to do'


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ZITI_CTRL_PORT", "not-a-port"), ("ZITI_WORKERS", "many"), ("DATABASE_URL", "nosuchdb://x")],
)
def test_a_wrong_setting_is_one_line_naming_it(tmp_path: Path, variable: str, value: str):
    result = run(tmp_path / "var", "create_identity", "device", "x", cwd=tmp_path, **{variable: value})

    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("configuration error:")
    assert variable in result.stderr or value in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_django_s_own_commands_before_the_first_start_are_one_line_too(tmp_path: Path):
    result = run(tmp_path / "var", "migrate", cwd=tmp_path)

    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("database error: unable to open database file; start the controller once")
    assert list(tmp_path.iterdir()) == []
