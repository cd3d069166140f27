"""Enrollment JWTs, signed with the controller's RSA server key (wire-protocol.md)."""

from __future__ import annotations

from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from django.conf import settings

from authorities.pki import load_pki

# Pinned: the C SDK 0.29.3 checks only RS256 correctly, and a verifier must never let
# the token's header choose the algorithm.
ALGORITHM = "RS256"


def controller_url() -> str:
    """The JWT `iss`: https://ADDRESS:PORT, with an IPv6 address in brackets (RFC 3986)."""
    host = settings.ZITI_CTRL_ADDRESS
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{settings.ZITI_CTRL_PORT}"


def sign_enrollment_claims(claims: dict[str, Any]) -> str:
    """Sign `claims` (iss is added) with the server key, as the server presents it in TLS."""
    pki = load_pki()
    kid = pki.server_cert.fingerprint(hashes.SHA1()).hex()  # noqa: S303 - a key id, as Ziti uses
    payload = {"iss": controller_url(), **claims}
    return jwt.encode(payload, pki.server_key, algorithm=ALGORITHM, headers={"kid": kid})
