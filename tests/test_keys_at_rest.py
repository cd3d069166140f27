"""Keys at rest: encrypted with a passphrase, and the root CA key taken offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.servers import ROOT, controller_env, free_port, manage, serving
from tests.test_end_to_end import openziti_enroll

PASSPHRASE = "a long passphrase nobody guesses 7"
KEYS = ("root-ca.key", "signing-ca.key", "server.key")


def first_start(data_dir: Path, **env: str) -> None:
    with serving(data_dir, free_port(), **env) as process:
        process.stop()


def serve_fails(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=controller_env(data_dir, ZITI_CTRL_PORT=str(free_port()), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    return result


def test_with_a_passphrase_every_key_is_encrypted_and_the_server_still_enrolls(tmp_path: Path):
    data_dir, port = tmp_path / "var", free_port()

    with serving(data_dir, port, ZITI_KEY_PASSPHRASE=PASSPHRASE) as process:
        jwt_text = manage(
            data_dir,
            "create_identity",
            "device",
            "sealed",
            ZITI_CTRL_PORT=str(port),
            ZITI_KEY_PASSPHRASE=PASSPHRASE,
        ).stdout.strip()
        identity = openziti_enroll(jwt_text)
        out = process.stop()

    assert identity["id"]["cert"]
    for key in KEYS:
        path = data_dir / "pki" / key
        assert path.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert path.stat().st_mode & 0o777 == 0o600
    logs = out + (data_dir / f"serve-{port}.err").read_text()
    assert PASSPHRASE not in logs


def test_the_passphrase_can_come_from_a_file_and_keys_made_before_are_encrypted(tmp_path: Path):
    data_dir = tmp_path / "var"
    first_start(data_dir)
    assert (data_dir / "pki" / "server.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(PASSPHRASE + "\n")

    first_start(data_dir, ZITI_KEY_PASSPHRASE_FILE=str(passphrase_file))

    for key in KEYS:
        assert (data_dir / "pki" / key).read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_encrypted_keys_without_the_passphrase_stop_the_start_in_words(tmp_path: Path):
    data_dir = tmp_path / "var"
    first_start(data_dir, ZITI_KEY_PASSPHRASE=PASSPHRASE)

    missing = serve_fails(data_dir)
    wrong = serve_fails(data_dir, ZITI_KEY_PASSPHRASE="not it at all, sorry")

    assert "is encrypted: set ZITI_KEY_PASSPHRASE or ZITI_KEY_PASSPHRASE_FILE" in missing.stderr
    assert "cannot be decrypted with the configured passphrase" in wrong.stderr


def test_the_root_key_taken_offline_leaves_a_working_controller(tmp_path: Path):
    data_dir, port = tmp_path / "var", free_port()
    first_start(data_dir)
    vault = tmp_path / "offline" / "root-ca.key"
    original = (data_dir / "pki" / "root-ca.key").read_bytes()

    said = manage(data_dir, "export_root_key", str(vault)).stdout

    assert "removed from" in said
    assert "re-issue the server certificate" in said
    assert not (data_dir / "pki" / "root-ca.key").exists()
    assert vault.read_bytes() == original
    assert vault.stat().st_mode & 0o777 == 0o600
    with serving(data_dir, port) as process:
        jwt_text = manage(
            data_dir, "create_identity", "device", "offline-root", ZITI_CTRL_PORT=str(port)
        ).stdout
        assert openziti_enroll(jwt_text.strip())["id"]["cert"]
        out = process.stop()
    assert "the root CA key is offline" in (data_dir / f"serve-{port}.err").read_text() + out


def test_with_the_root_key_offline_a_new_address_asks_for_it_back(tmp_path: Path):
    data_dir = tmp_path / "var"
    first_start(data_dir)
    manage(data_dir, "export_root_key", str(tmp_path / "root.key"))

    result = serve_fails(data_dir, ZITI_CTRL_ADDRESS="controller.example.test")
    again = subprocess.run(
        [sys.executable, "manage.py", "export_root_key", str(tmp_path / "second.key")],
        cwd=ROOT,
        env=controller_env(data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert "issuing the server certificate for localhost, 127.0.0.1, controller.example.test" in result.stderr
    assert f"put it back at {data_dir / 'pki' / 'root-ca.key'}" in result.stderr
    assert again.returncode != 0
    assert "offline already" in again.stderr
    assert not (tmp_path / "second.key").exists()
