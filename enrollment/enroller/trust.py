"""Deciding whether to trust the controller: its leaf certificate and the CA bundle.

Order matters (wire-protocol.md): the leaf is taken unverified, the JWT signature
authenticates its key, and only then is the CA bundle fetched and the leaf checked to
chain to it. From there on, TLS is verified against that bundle.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509 import verification

from .errors import ControllerNotTrusted, ProtocolError
from .tokens import ControllerAddress


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ServerLeaf:
    """The certificate the controller presented: DER to pin later connections, parsed to check."""

    der: bytes
    cert: x509.Certificate


def load_leaf(der: bytes) -> ServerLeaf:
    try:
        return ServerLeaf(der, x509.load_der_x509_certificate(der))
    except ValueError as exc:
        raise ControllerNotTrusted(f"the controller's TLS certificate cannot be parsed: {exc}") from exc


def check_leaf(leaf: x509.Certificate, controller: ControllerAddress, at: dt.datetime) -> None:
    """The leaf must be current and name the host we connected to, as SDKs require."""
    if at < leaf.not_valid_before_utc:
        raise ControllerNotTrusted(
            f"the controller's certificate is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )
    if at > leaf.not_valid_after_utc:
        raise ControllerNotTrusted(
            f"the controller's certificate expired at {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    if not sans_cover(leaf, controller.host):
        raise ControllerNotTrusted(
            f"the controller's certificate does not name {controller.host} in its subject alternative names"
        )


def sans_cover(leaf: x509.Certificate, host: str) -> bool:
    """RFC 6125: an IP host must be an IP SAN; a DNS host a DNS SAN (one leading wildcard)."""
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return any(_dns_matches(pattern, host) for pattern in sans.get_values_for_type(x509.DNSName))
    return address in sans.get_values_for_type(x509.IPAddress)


def _dns_matches(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        # A wildcard stands for exactly one whole left-most label.
        label, _, rest = host.partition(".")
        return bool(label) and rest == pattern[2:]
    return pattern == host


def parse_ca_bundle(body: bytes) -> list[x509.Certificate]:
    """The certificates of /.well-known/est/cacerts: base64 of a DER certs-only PKCS#7."""
    try:
        der = base64.b64decode(body)  # non-alphabet bytes (line breaks) are skipped
        certs = pkcs7.load_der_pkcs7_certificates(der)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(
            f"the controller's CA bundle is not a base64 PKCS#7 certificate set: {exc}"
        ) from exc
    if not certs:
        raise ProtocolError("the controller's CA bundle holds no certificates")
    return certs


def check_chain(
    leaf: x509.Certificate, bundle: list[x509.Certificate], controller: ControllerAddress
) -> None:
    """The authenticated leaf must chain to the bundle for the iss host, else the bundle is wrong."""
    subject: verification.DNSName | verification.IPAddress
    if controller.is_ip:
        subject = verification.IPAddress(ipaddress.ip_address(controller.host))
    else:
        subject = verification.DNSName(controller.host)
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(bundle))
        .time(now())
        .build_server_verifier(subject)
    )
    try:
        verifier.verify(leaf, [])
    except verification.VerificationError as exc:
        raise ControllerNotTrusted(
            f"the controller's certificate does not chain to its CA bundle: {exc}"
        ) from exc


def certs_to_pem(certs: list[x509.Certificate]) -> str:
    return "".join(cert.public_bytes(serialization.Encoding.PEM).decode() for cert in certs)
