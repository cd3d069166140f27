"""`renew`: a new certificate for an enrolled identity, over mutual TLS with the current one.

OpenZiti's client API: authenticate with the certificate, extend with a fresh CSR (a
new key unless told to keep it), and verify. The identity file is replaced only after
the controller has taken up the new certificate, and the new file is on disk (mode
0600, same directory) before that: a failure at any step leaves the old file, and its
certificate, working.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from . import client, identity_file, keys, tokens
from .errors import InputUnreadable, OutputError, ProtocolError
from .flow import Reporter

AUTHENTICATE_PATH = "/authenticate?method=cert"


@dataclass(frozen=True)
class RenewOptions:
    identity: Path
    keep_key: bool = False
    key_type: str = "ec"
    rsa_bits: int = 2048
    timeout: float = 30.0


@dataclass(frozen=True)
class IdentityFile:
    zt_api: str
    cert_pem: str
    key_pem: str
    ca_pem: str


def _pem(value: object, what: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputUnreadable(f"the identity file {path} has no {what}")
    # The Go tooling writes "pem:<PEM>"; the C SDK raw PEM (wire-protocol.md).
    return value.removeprefix("pem:")


def read_identity_file(path: Path) -> IdentityFile:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputUnreadable(f"cannot read the identity file {path}: {exc}") from exc
    ids = document.get("id") if isinstance(document, dict) else None
    if not isinstance(ids, dict) or not isinstance(document.get("ztAPI"), str):
        raise InputUnreadable(f"{path} is not an identity file (no ztAPI and id)")
    return IdentityFile(
        zt_api=document["ztAPI"],
        cert_pem=_pem(ids.get("cert"), "certificate", path),
        key_pem=_pem(ids.get("key"), "key", path),
        ca_pem=_pem(ids.get("ca"), "CA bundle", path),
    )


@contextlib.contextmanager
def _credentials_on_disk(cert_pem: str, key_pem: str) -> Iterator[tuple[Path, Path]]:
    """TLS in the standard library loads a client key from a file: a private directory."""
    with tempfile.TemporaryDirectory(prefix="ziti-renew-") as directory:  # mode 0700
        cert_path, key_path = Path(directory) / "cert.pem", Path(directory) / "key.pem"
        for target, text in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
        yield cert_path, key_path


def _json_post(
    channel: client.Channel, target: str, body: dict[str, Any] | None, session: str | None
) -> client.Reply:
    data = json.dumps(body).encode() if body is not None else None
    return channel.post(target, data, "application/json", session)


def renew(options: RenewOptions, report: Reporter) -> Path:
    """Renew the certificate in `options.identity`; raises EnrollerError subclasses."""
    current = read_identity_file(options.identity)
    if not os.access(options.identity.parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot rewrite {options.identity}: its directory is not writable")
    controller = tokens.parse_controller_url(current.zt_api)
    try:
        old_key = serialization.load_pem_private_key(current.key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise InputUnreadable(f"the key in {options.identity} is not an unencrypted PEM private key") from exc
    key = old_key if options.keep_key else keys.generate_key(options.key_type, options.rsa_bits)
    report.say(f"renewing the certificate of {options.identity} with controller {controller.url}")

    with _credentials_on_disk(current.cert_pem, current.key_pem) as credentials:
        channel = client.Channel(controller, current.ca_pem, options.timeout, credentials)
        report.step("authenticate", f"POST {AUTHENTICATE_PATH} with the current certificate")
        authenticated = _json_post(channel, AUTHENTICATE_PATH, {}, None)
        data = client.envelope_data(authenticated)
        session = authenticated.headers.get("zt-session") or data.get("token")
        authenticator_id = data.get("authenticatorId")
        if not isinstance(session, str) or not isinstance(authenticator_id, str):
            raise ProtocolError("the controller's session carries no zt-session token or authenticatorId")
        base = f"/current-identity/authenticators/{authenticator_id}"

        report.step("extend", "sending a CSR for " + ("the same key" if options.keep_key else "a new key"))
        csr = keys.build_csr(key, str(data.get("identityId") or "renew"))  # type: ignore[arg-type]
        extended = client.envelope_data(
            _json_post(channel, f"{base}/extend", {"clientCertCsr": csr}, session)
        )
        cert_pem, ca_pem = extended.get("clientCert"), extended.get("ca") or current.ca_pem
        if not isinstance(cert_pem, str) or not isinstance(ca_pem, str):
            raise ProtocolError("the controller's extend reply has no clientCert")
        try:
            leaf = x509.load_pem_x509_certificates(cert_pem.encode())[0]
        except (ValueError, IndexError) as exc:
            raise ProtocolError("the controller's clientCert is not a PEM certificate") from exc
        if not keys.same_public_key(leaf.public_key(), key.public_key()):  # type: ignore[arg-type]
            raise ProtocolError("the renewed certificate is not for our key")

        # On disk before the swap: once verified, the old certificate is revoked.
        staged = _stage(
            options.identity,
            identity_file.render(current.zt_api, keys.private_key_pem(key), cert_pem, ca_pem),
        )
        try:
            report.step("extend-verify", "taking up the new certificate")
            leaf_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
            client.envelope_data(
                _json_post(channel, f"{base}/extend-verify", {"clientCert": leaf_pem}, session)
            )
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
    try:
        os.replace(staged, options.identity)
    except OSError as exc:
        raise OutputError(
            f"the controller took up the new certificate, but {options.identity} could not be replaced "
            f"({exc.strerror or exc}); the renewed identity is in {staged}"
        ) from exc
    report.say(
        f"renewed: {options.identity} holds a certificate valid until {leaf.not_valid_after_utc:%Y-%m-%d}"
    )
    return options.identity


def _stage(path: Path, data: bytes) -> Path:
    """The new identity file next to the old one, mode 0600, complete and synced."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".renewed")
    except OSError as exc:
        raise OutputError(f"cannot write next to {path}: {exc.strerror or exc}") from exc
    staged = Path(name)
    try:
        identity_file.fill(fd, data, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged
