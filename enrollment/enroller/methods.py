"""Enrollment methods: what is sent to POST /enroll and what ends up in the identity file.

Each method is a small class chosen by the JWT's `em` claim (METHODS). They share the
trust steps in flow.py and differ only in the request and the key material:
- ott:   a fresh key and CSR; the controller returns the signed certificate.
- ottca: the device's own certificate (from a third-party CA) presented in TLS, token in the query.
- ca:    like ottca without a token; the controller creates the identity (name optional).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

from cryptography import x509

from . import keys
from .client import ENROLL_PATH, Channel, Reply, envelope_data
from .errors import ProtocolError, UsageError
from .tokens import EnrollmentToken

Step = Callable[[str, str], None]  # (step name, detail) for -v


@dataclass(frozen=True)
class MethodOptions:
    key_type: str = "ec"
    rsa_bits: int = 2048
    cert: Path | None = None
    key: Path | None = None
    idname: str | None = None


@dataclass(frozen=True)
class KeyMaterial:
    """What goes into the identity file's id.key and id.cert."""

    key_pem: str
    cert_pem: str  # leaf first, then intermediates


class EnrollmentMethod:
    """One `em` value: validates options up front, then performs the enrollment request."""

    name: ClassVar[str]

    def __init__(self, options: MethodOptions) -> None:
        self.options = options

    def client_cert(self) -> tuple[Path, Path] | None:
        """The (cert, key) files to present in the TLS handshake, if any."""
        return None

    def enroll(self, token: EnrollmentToken, channel: Channel, step: Step) -> KeyMaterial:
        raise NotImplementedError


class OttMethod(EnrollmentMethod):
    name = "ott"

    def __init__(self, options: MethodOptions) -> None:
        if options.cert or options.key or options.idname:
            raise UsageError("--cert, --key and --idname are for ottca and ca tokens, not for an ott token")
        super().__init__(options)

    def enroll(self, token: EnrollmentToken, channel: Channel, step: Step) -> KeyMaterial:
        kind = "EC P-256" if self.options.key_type == "ec" else f"RSA {self.options.rsa_bits}"
        step("generate key", f"{kind} key and a CSR for {token.subject}")
        key = keys.generate_key(self.options.key_type, self.options.rsa_bits)
        csr_pem = keys.build_csr(key, token.subject)
        step("enroll", f"POST {ENROLL_PATH} method=ott to {token.controller.url}")
        reply = channel.post(enroll_target("ott", token.token_id), csr_pem.encode(), "text/plain")
        chain_pem = _certificate_chain(reply)
        leaf = _first_certificate(chain_pem)
        if not keys.same_public_key(leaf.public_key(), key.public_key()):
            raise ProtocolError("the controller returned a certificate for a different key than ours")
        return KeyMaterial(key_pem=keys.private_key_pem(key), cert_pem=chain_pem)


class ClientCertMethod(EnrollmentMethod):
    """ottca and ca: the device proves possession of its certificate in the TLS handshake."""

    def __init__(self, options: MethodOptions) -> None:
        if options.cert is None or options.key is None:
            raise UsageError(
                f"the {self.name} token needs the device certificate: pass --cert FILE --key FILE"
            )
        super().__init__(options)
        # Read and cross-check now, so a typo fails before any network work.
        self.credentials = keys.load_credentials(options.cert, options.key)

    def client_cert(self) -> tuple[Path, Path] | None:
        return self.credentials.cert_path, self.credentials.key_path

    def request_body(self) -> bytes | None:
        # wire-protocol.md: application/json with no body, or {"name": ...}.
        if self.options.idname is None:
            return None
        return json.dumps({"name": self.options.idname}).encode()

    def enroll(self, token: EnrollmentToken, channel: Channel, step: Step) -> KeyMaterial:
        step(
            "enroll", f"POST {ENROLL_PATH} method={self.name} to {token.controller.url} with the device cert"
        )
        reply = channel.post(
            enroll_target(self.name, token.token_id), self.request_body(), "application/json"
        )
        envelope_data(reply)  # {"data":{},"meta":{}}; an error envelope raises
        return KeyMaterial(key_pem=self.credentials.key_pem, cert_pem=self.credentials.cert_pem)


class OttCaMethod(ClientCertMethod):
    name = "ottca"


class CaMethod(ClientCertMethod):
    name = "ca"


METHODS: dict[str, type[EnrollmentMethod]] = {m.name: m for m in (OttMethod, OttCaMethod, CaMethod)}


def method_for(token: EnrollmentToken, options: MethodOptions) -> EnrollmentMethod:
    return METHODS[token.method](options)


def enroll_target(method: str, token_id: str | None) -> str:
    """/enroll?method=M&token=T; `ca` has no token."""
    query = {"method": method}
    if method != "ca" and token_id:
        query["token"] = token_id
    return f"{ENROLL_PATH}?{urlencode(query)}"


def _certificate_chain(reply: Reply) -> str:
    """The certificate PEM of an ott reply: JSON envelope data.cert, or a raw PEM body."""
    if reply.status == 200 and reply.content_type == "application/x-pem-file":
        try:
            return reply.body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise ProtocolError("the controller's PEM reply is not ASCII") from exc
    data = envelope_data(reply)
    cert = data.get("cert")
    if not isinstance(cert, str) or not cert.strip():
        raise ProtocolError("the controller's enrollment reply has no certificate")
    return cert


def _first_certificate(chain_pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificates(chain_pem.encode())[0]
    except ValueError as exc:
        raise ProtocolError("the controller's enrollment reply holds no valid PEM certificate") from exc
