"""Reading, parsing and verifying the enrollment JWT (wire-protocol.md, "Enrollment JWT").

Parsing happens before anything is trusted: the claims only tell us where the
controller is. Verification then checks the signature against the public key of the
certificate the controller presents in TLS, with the algorithm pinned.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from .errors import InputUnreadable, TokenExpired, TokenForged, TokenMalformed

# Pinned, never taken from the token's header: the controller signs with its RSA
# server key, and letting the header choose would invite algorithm confusion.
ALGORITHMS = ["RS256"]
# Methods whose tokens are one-time (carry jti and exp); "ca" tokens are reusable.
ONE_TIME_METHODS = ("ott", "ottca")
KNOWN_METHODS = (*ONE_TIME_METHODS, "ca")
# A real JWT is a few hundred bytes; refuse to slurp an arbitrary file.
MAX_JWT_BYTES = 64 * 1024


@dataclass(frozen=True)
class ControllerAddress:
    url: str  # the iss, as the identity file's ztAPI
    host: str  # without IPv6 brackets
    port: int

    @property
    def is_ip(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class EnrollmentToken:
    raw: str
    method: str  # em
    controller: ControllerAddress  # from iss
    subject: str  # sub: identity id (ott/ottca) or CA id (ca)
    token_id: str | None  # jti: the one-time token
    expires_at: dt.datetime | None  # exp
    name: str | None  # our own claim: identity or CA name


def read_jwt(source: str, stdin: TextIO | None = None) -> str:
    """The JWT text from a file, or from stdin when `source` is "-"."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin
        try:
            text = stream.read(MAX_JWT_BYTES + 1)
        except UnicodeDecodeError as exc:
            raise TokenMalformed("the JWT on standard input is not text") from exc
        except OSError as exc:
            raise InputUnreadable(f"cannot read the JWT from standard input: {exc.strerror or exc}") from exc
        return _checked_size(text, "standard input")
    try:
        with Path(source).open(encoding="utf-8") as handle:
            text = handle.read(MAX_JWT_BYTES + 1)
    except UnicodeDecodeError as exc:
        raise TokenMalformed(f"the JWT file {source} is not text") from exc
    except OSError as exc:
        raise InputUnreadable(f"cannot read the JWT file {source}: {exc.strerror or exc}") from exc
    return _checked_size(text, f"the JWT file {source}")


def _checked_size(text: str, origin: str) -> str:
    if len(text) > MAX_JWT_BYTES:
        raise TokenMalformed(f"{origin} is too large to be an enrollment JWT")
    return text.strip()


def parse_token(raw: str) -> EnrollmentToken:
    """The claims of `raw`, checked for shape but NOT yet for authenticity."""
    if not raw:
        raise TokenMalformed("the enrollment JWT is empty")
    try:
        claims = jwt.decode(raw, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise TokenMalformed(f"the enrollment JWT is malformed: {exc}") from exc
    method = _string_claim(claims, "em")
    if method not in KNOWN_METHODS:
        raise TokenMalformed(
            f'the enrollment method "{method}" is not supported (expected one of {", ".join(KNOWN_METHODS)})'
        )
    one_time = method in ONE_TIME_METHODS
    return EnrollmentToken(
        raw=raw,
        method=method,
        controller=parse_controller_url(_string_claim(claims, "iss")),
        subject=_string_claim(claims, "sub"),
        token_id=_string_claim(claims, "jti") if one_time else _optional_string(claims, "jti"),
        expires_at=_expiry(claims, required=one_time),
        name=_optional_string(claims, "name"),
    )


def _string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise TokenMalformed(f'the enrollment JWT lacks the "{name}" claim')
    return value


def _optional_string(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _expiry(claims: dict[str, Any], *, required: bool) -> dt.datetime | None:
    value = claims.get("exp")
    if value is None and not required:
        return None
    # bool is an int subclass; a JSON true is not a time.
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise TokenMalformed('the enrollment JWT lacks a numeric "exp" claim')
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise TokenMalformed('the "exp" claim of the enrollment JWT is out of range') from exc


def parse_controller_url(iss: str) -> ControllerAddress:
    """The controller address of an iss: https://HOST[:PORT] with no path or query."""
    try:
        parts = urlsplit(iss)
        port = parts.port
    except ValueError as exc:
        raise TokenMalformed(f'the issuer "{iss}" is not a valid URL') from exc
    if parts.scheme != "https" or not parts.hostname:
        raise TokenMalformed(f'the issuer "{iss}" is not an https:// controller URL')
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise TokenMalformed(f'the issuer "{iss}" must be a bare https://HOST:PORT URL')
    return ControllerAddress(url=iss.rstrip("/"), host=parts.hostname, port=port or 443)


def verify_token(token: EnrollmentToken, public_key: CertificatePublicKeyTypes) -> None:
    """Check the signature with the controller's key (RS256 only), then the expiry."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise TokenForged(
            "the controller's certificate has no RSA key, so it cannot have signed an RS256 enrollment JWT"
        )
    required = ["em", "iss", "sub", *(["exp", "jti"] if token.method in ONE_TIME_METHODS else [])]
    try:
        # PyJWT checks the signature before any claim, so an expiry error below
        # is about a genuine token.
        jwt.decode(token.raw, key=public_key, algorithms=ALGORITHMS, options={"require": required})
    except jwt.InvalidSignatureError as exc:
        raise TokenForged(
            "the enrollment JWT's signature does not verify with the controller's key "
            "(forged, or issued by another controller)"
        ) from exc
    except jwt.InvalidAlgorithmError as exc:
        raise TokenForged(f"the enrollment JWT is not signed with {ALGORITHMS[0]}: {exc}") from exc
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired(f"the enrollment token expired at {_expiry_text(token)}") from exc
    except jwt.PyJWTError as exc:
        raise TokenMalformed(f"the enrollment JWT is not valid: {exc}") from exc


def _expiry_text(token: EnrollmentToken) -> str:
    if token.expires_at is None:
        return "an unknown time"
    return token.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC")
