"""Use cases for certificate authorities."""

from __future__ import annotations


def third_party_ca_pems() -> list[str]:
    """PEM certificates of every third-party CA the TLS server must accept."""
    return []
