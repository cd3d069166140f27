"""Signing enrollment JWTs with the controller's RSA server key (wire-protocol.md).

The claims come from whoever owns the record a JWT stands for: an identity's Enrollment
(identities) or a CA (authorities)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
from django.conf import settings

from authorities.pki import load_pki, pki_dir
from kernel.certificates import sha1_fingerprint
from kernel.secrets import write_private_file

# Pinned: the C SDK 0.29.3 checks only RS256 correctly, and a verifier must never let
# the token's header choose the algorithm.
ALGORITHM = "RS256"


def configured_controller_url() -> str:
    """https://ZITI_CTRL_ADDRESS:ZITI_CTRL_PORT of this process, IPv6 in brackets (RFC 3986)."""
    host = settings.ZITI_CTRL_ADDRESS
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"https://{host}:{settings.ZITI_CTRL_PORT}"


def _recorded_url_path() -> Path:
    return pki_dir() / "controller-url"


def record_controller_url() -> str:
    """At each start, note the address the server advertises, for every other process."""
    url = configured_controller_url()
    write_private_file(_recorded_url_path(), f"{url}\n".encode(), replace=True)
    return url


def controller_url() -> str:
    """The JWT `iss`: the address the server advertised at its last start.

    One place for the server and the CLI, so a command run with other settings (or none)
    cannot mint a JWT for an address the server does not answer on. Before any start,
    this process's own settings.
    """
    try:
        return _recorded_url_path().read_text().strip()
    except FileNotFoundError:
        return configured_controller_url()


def sign_enrollment_claims(claims: dict[str, Any]) -> str:
    """Sign `claims` (iss is added) with the server key, as the server presents it in TLS."""
    pki = load_pki()
    kid = sha1_fingerprint(pki.server_cert)  # the key id, as Ziti gives it
    payload = {"iss": controller_url(), **claims}
    return jwt.encode(payload, pki.server_key, algorithm=ALGORITHM, headers={"kid": kid})


def address_warning() -> str | None:
    """Words for a CLI user whose settings name another address than the server's."""
    recorded, configured = controller_url(), configured_controller_url()
    if recorded == configured:
        return None
    return (
        f"warning: this command's settings say {configured}, but the controller advertises {recorded} "
        "(at its last start); the JWT names the controller's address"
    )
