"""Errors of identity management, phrased for the admin (or device) that caused them."""

from __future__ import annotations

from kernel.errors import DomainError


class IdentityError(DomainError):
    """A request to create, change or enroll an identity that cannot be carried out."""


class IdentityNameTaken(IdentityError):
    def __init__(self, name: str) -> None:
        super().__init__(f'an identity named "{name}" already exists', "name")


class InvalidIdentity(IdentityError):
    pass


class IdentityTypeChangeError(IdentityError):
    default_message = "an identity's type cannot be changed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, "identity_type")


class EnrollmentUsed(IdentityError):
    default_message = "the enrollment token has been used or has expired"


class CertificateTaken(IdentityError):
    default_message = "the certificate is already in use by another identity"


class IdentityDisabled(IdentityError):
    default_message = "the identity is disabled: it cannot enroll or authenticate until an admin enables it"


class LifecycleRefused(IdentityError):
    """A reissue, reset or revocation that does not apply to this identity as it stands."""


class ExtensionRefused(IdentityError):
    """A certificate renewal (extend, extend-verify, request-extend) that cannot be done."""


class KeyInUse(ExtensionRefused):
    default_message = "the CSR's key belongs to another identity"


class NoTokenToHandOut(IdentityError):
    default_message = "this identity has no pending enrollment token to hand out"
