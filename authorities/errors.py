"""Errors of certificate-authority management, phrased for the admin who caused them."""

from __future__ import annotations

from kernel.errors import DomainError


class CertificateAuthorityError(DomainError):
    """A CA request that cannot be carried out; `field` names the input at fault."""


class PrivateKeyRefused(CertificateAuthorityError):
    """A private key was sent with a certificate: refused; the input must be neither kept
    nor shown again (a form clears it)."""


class KeyUnavailable(DomainError):
    """A key of the controller's PKI cannot be used: encrypted without the passphrase,
    or taken offline while an operation needs it."""


class RevocationRefused(DomainError):
    """A certificate that cannot be revoked here, or a reason that is not one."""


class CertificateAlreadyRevoked(RevocationRefused):
    default_message = "the certificate is already revoked"
