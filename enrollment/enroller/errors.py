"""Failures of the enroller, each reported to the user as one sentence.

The CLI maps these classes to exit codes in one place (cli.EXIT_CODES); code that
detects a failure only chooses the class and words the sentence.
"""

from __future__ import annotations


class EnrollerError(Exception):
    """A failure the user can act on; str() is the sentence to show."""


class UsageError(EnrollerError):
    """The options do not fit the token (e.g. --cert for an ott token)."""


class InputUnreadable(EnrollerError):
    """The JWT, certificate or key file cannot be read."""


class TokenMalformed(EnrollerError):
    """The text is not an enrollment JWT we understand (bad encoding, claims, method)."""


class OutputError(EnrollerError):
    """The identity file cannot be created where asked."""


class OutputExists(OutputError):
    """The identity file exists already; it holds a key, so it is never overwritten."""


class ControllerUnreachable(EnrollerError):
    """No connection to the controller: DNS, refused, timed out, reset."""


class ControllerNotTrusted(EnrollerError):
    """The controller could not be authenticated: bad leaf, chain or TLS verification."""


class TokenForged(ControllerNotTrusted):
    """The JWT signature does not verify with the key the controller presents."""


class TokenExpired(EnrollerError):
    """The JWT's exp has passed (checked after its signature verified)."""


class EnrollmentRefused(EnrollerError):
    """The controller answered with an error envelope; carries its code and message."""

    def __init__(self, code: str, message: str, status: int) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"the controller refused the enrollment: {code}: {message}")


class ProtocolError(EnrollerError):
    """The controller answered something the wire protocol does not allow."""
