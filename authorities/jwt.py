"""Signing enrollment JWTs with the controller's RSA server key (wire-protocol.md).

The claims come from whoever owns the record a JWT stands for: an identity's Enrollment
(identities) or a CA (authorities)."""

from __future__ import annotations

from typing import Any

import jwt

from authorities.pki import controller_url, load_pki
from kernel.certificates import sha1_fingerprint

# Pinned: the C SDK 0.29.3 checks only RS256 correctly, and a verifier must never let
# the token's header choose the algorithm.
ALGORITHM = "RS256"

__all__ = ["ALGORITHM", "controller_url", "sign_enrollment_claims"]


def sign_enrollment_claims(claims: dict[str, Any]) -> str:
    """Sign `claims` (iss is added) with the server key, as the server presents it in TLS."""
    pki = load_pki()
    kid = sha1_fingerprint(pki.server_cert)  # the key id, as Ziti gives it
    payload = {"iss": controller_url(), **claims}
    return jwt.encode(payload, pki.server_key, algorithm=ALGORITHM, headers={"kid": kid})
