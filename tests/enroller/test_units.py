"""Small pieces of the enroller, without a controller."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509

from enrollment.enroller import cli, errors, identity_file, methods, tokens, trust
from enrollment.enroller.client import Reply, envelope_data

from .fake_controller import self_signed_identity


class TestControllerUrl:
    def test_host_and_port(self):
        address = tokens.parse_controller_url("https://ctrl.example:1280")
        assert (address.url, address.host, address.port, address.is_ip) == (
            "https://ctrl.example:1280",
            "ctrl.example",
            1280,
            False,
        )

    def test_default_port_and_trailing_slash(self):
        address = tokens.parse_controller_url("https://ctrl.example/")
        assert (address.url, address.port) == ("https://ctrl.example", 443)

    def test_ipv6(self):
        address = tokens.parse_controller_url("https://[::1]:1280")
        assert (address.host, address.is_ip, address.netloc) == ("::1", True, "[::1]:1280")

    @pytest.mark.parametrize(
        "iss",
        ["ctrl.example:1280", "https://", "https://user@ctrl:1280", "https://ctrl:1280?x=1", "ftp://ctrl"],
    )
    def test_rejected(self, iss: str):
        with pytest.raises(errors.TokenMalformed):
            tokens.parse_controller_url(iss)


@pytest.fixture(scope="module")
def leaf(tmp_path_factory: pytest.TempPathFactory) -> x509.Certificate:
    sans = [
        x509.DNSName("ctrl.example"),
        x509.DNSName("*.edge.example"),
        x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    identity = self_signed_identity(tmp_path_factory.mktemp("sans"), sans=sans)
    return x509.load_pem_x509_certificate(identity.cert_path.read_bytes())


class TestSans:
    @pytest.mark.parametrize("host", ["ctrl.example", "CTRL.example.", "a.edge.example", "10.0.0.1", "::1"])
    def test_covered(self, leaf: x509.Certificate, host: str):
        assert trust.sans_cover(leaf, host)

    @pytest.mark.parametrize(
        "host", ["other.example", "edge.example", "a.b.edge.example", "10.0.0.2", "ctrl.example.evil"]
    )
    def test_not_covered(self, leaf: x509.Certificate, host: str):
        assert not trust.sans_cover(leaf, host)


class TestIdentityFile:
    def test_created_private_even_with_a_permissive_umask(self, tmp_path: Path):
        path = tmp_path / "id.json"
        old = os.umask(0)
        try:
            identity_file.write_new(path, identity_file.render("https://c:1", "K", "C", "A"))
        finally:
            os.umask(old)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert json.loads(path.read_text()) == {
            "ztAPI": "https://c:1",
            "id": {"key": "K", "cert": "C", "ca": "A"},
        }
        assert list(tmp_path.iterdir()) == [path]

    def test_never_overwrites_a_file_that_appeared_meanwhile(self, tmp_path: Path):
        path = tmp_path / "id.json"
        path.write_text("theirs")
        with pytest.raises(errors.OutputExists):
            identity_file.write_new(path, b"ours")
        assert path.read_text() == "theirs"
        assert list(tmp_path.iterdir()) == [path]

    def test_file_systems_without_hard_links(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        def no_links(source: object, target: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(identity_file.os, "link", no_links)
        path = tmp_path / "id.json"
        identity_file.write_new(path, b"{}")
        assert path.read_bytes() == b"{}"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert list(tmp_path.iterdir()) == [path]

    def test_fallback_removes_a_partial_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        def no_links(source: object, target: object) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        real_fsync = os.fsync
        calls = iter(range(10))

        def fsync_fails_the_second_time(fd: int) -> None:
            if next(calls) == 1:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_fsync(fd)

        monkeypatch.setattr(identity_file.os, "link", no_links)
        monkeypatch.setattr(identity_file.os, "fsync", fsync_fails_the_second_time)
        with pytest.raises(errors.OutputError, match="No space left"):
            identity_file.write_new(tmp_path / "id.json", b"{}")
        assert list(tmp_path.iterdir()) == []

    def test_unwritable_directory(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
        # Simulated: the suite may run as root, who writes anywhere.
        monkeypatch.setattr(identity_file.os, "access", lambda path, mode: False)
        with pytest.raises(errors.OutputError, match="not writable"):
            identity_file.ensure_can_create(tmp_path / "id.json")


class TestEnvelope:
    def test_success_data(self):
        assert envelope_data(Reply(200, "application/json", b'{"data":{"a":1},"meta":{}}')) == {"a": 1}

    def test_error_envelope(self):
        body = b'{"error":{"code":"CERT_IN_USE","message":"taken"},"meta":{}}'
        with pytest.raises(errors.EnrollmentRefused) as caught:
            envelope_data(Reply(409, "application/json", body))
        assert (caught.value.code, caught.value.message, caught.value.status) == ("CERT_IN_USE", "taken", 409)

    def test_error_envelope_without_words(self):
        with pytest.raises(errors.EnrollmentRefused, match="UNKNOWN: no message"):
            envelope_data(Reply(400, "application/json", b'{"error":{}}'))


@pytest.mark.parametrize(
    ("method", "token_id", "target"),
    [
        ("ott", "abc", "/enroll?method=ott&token=abc"),
        ("ottca", "a b&c", "/enroll?method=ottca&token=a+b%26c"),
        ("ca", "ca-id", "/enroll?method=ca"),
    ],
)
def test_enroll_target(method: str, token_id: str, target: str):
    assert methods.enroll_target(method, token_id) == target


def test_every_method_of_the_protocol_has_a_class():
    assert set(methods.METHODS) == set(tokens.KNOWN_METHODS)


def test_every_error_has_its_own_exit_code():
    classes = [entry.error for entry in cli.EXIT_CODES]
    codes = [entry.code for entry in cli.EXIT_CODES]
    leaves = {
        obj
        for obj in vars(errors).values()
        if isinstance(obj, type) and issubclass(obj, errors.EnrollerError) and obj is not errors.EnrollerError
    }
    assert set(classes) == leaves
    assert len(set(codes)) == len(codes)
    assert cli.EXIT_OK not in codes
    assert cli.EXIT_INTERNAL not in codes
    # A subclass must come before its base class, or it would never match.
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, base) for base in classes[:i]), cls


def test_subclass_maps_to_its_own_code():
    assert cli.exit_code(errors.TokenForged("x")) != cli.exit_code(errors.ControllerNotTrusted("x"))
    assert cli.exit_code(errors.OutputExists("x")) != cli.exit_code(errors.OutputError("x"))
