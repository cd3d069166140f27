"""Errors of the enrollment domain and the one place that turns them into the envelope.

Services raise an `EnrollmentError` carrying the wire error code of wire-protocol.md;
`exception_handler` (DRF's hook) renders every error, ours or DRF's, as
`{"error": {...}, "meta": {}}`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from kernel.errors import DomainError
from kernel.zitiql import InvalidFilter

log = logging.getLogger(__name__)


class EnrollmentError(DomainError):
    """A domain error with the wire code and HTTP status the enrollment API answers with."""

    code = "UNHANDLED"
    status: int = status.HTTP_400_BAD_REQUEST
    default_message = "the request could not be processed"

    def __init__(self, message: str | None = None, cause: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.cause = cause or {}


class CouldNotValidate(EnrollmentError):
    code = "COULD_NOT_VALIDATE"
    default_message = "the request is not valid"


class InvalidEnrollmentToken(EnrollmentError):
    code = "INVALID_ENROLLMENT_TOKEN"
    default_message = "the enrollment token is not valid"


class EnrollmentExpired(EnrollmentError):
    code = "ENROLLMENT_EXPIRED"
    default_message = "the enrollment token has expired"


class CouldNotProcessCsr(EnrollmentError):
    code = "COULD_NOT_PROCESS_CSR"
    default_message = "the certificate signing request could not be processed"


class InvalidEnrollMethod(EnrollmentError):
    code = "INVALID_ENROLL_METHOD"
    default_message = "the enrollment method is not supported"


class InvalidContentType(EnrollmentError):
    code = "INVALID_CONTENT_TYPE"
    default_message = "the request content type is not supported"


class EnrollmentCaNotValid(EnrollmentError):
    code = "ENROLLMENT_CA_NOT_VALID"
    default_message = "the certificate authority of this enrollment is not valid"


class EnrollmentNoValidCas(EnrollmentError):
    code = "ENROLLMENT_NO_VALID_CAS"
    default_message = "no verified certificate authority allows auto enrollment"


class CertFailedValidation(EnrollmentError):
    code = "CERT_FAILED_VALIDATION"
    default_message = "the client certificate failed validation"


class CertInUse(EnrollmentError):
    code = "CERT_IN_USE"
    status = status.HTTP_409_CONFLICT
    default_message = "the certificate is already in use by another identity"


class InvalidAuth(EnrollmentError):
    code = "INVALID_AUTH"
    status = status.HTTP_401_UNAUTHORIZED
    default_message = "the authentication request failed"


class Unauthorized(EnrollmentError):
    code = "UNAUTHORIZED"
    status = status.HTTP_401_UNAUTHORIZED
    default_message = "the request requires a valid API session"


class IdentityDisabled(EnrollmentError):
    code = "IDENTITY_DISABLED"
    status = status.HTTP_403_FORBIDDEN
    default_message = "the identity is disabled: it cannot enroll until an admin enables it"


class AuthenticatorCannotBeUpdated(EnrollmentError):
    code = "AUTHENTICATOR_CAN_NOT_BE_UPDATED"
    default_message = "this authenticator cannot be renewed"


class RateLimited(EnrollmentError):
    code = "RATE_LIMITED"
    status = status.HTTP_429_TOO_MANY_REQUESTS
    default_message = (
        "too many failed logins for this account or from this address: wait a few minutes and try again"
    )


class NotFound(EnrollmentError):
    code = "NOT_FOUND"
    status = status.HTTP_404_NOT_FOUND
    default_message = "no such resource"


def error_envelope(code: str, message: str, cause: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "requestId": str(uuid.uuid4()),
            "cause": cause or {},
        },
        "meta": {},
    }


# DRF's own exceptions, in wire codes.
_DRF_CODES: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.UnsupportedMediaType, InvalidContentType.code),
    (exceptions.ParseError, "COULD_NOT_PARSE_BODY"),
    (exceptions.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (exceptions.NotAcceptable, "NOT_ACCEPTABLE"),
    (exceptions.NotFound, "NOT_FOUND"),
    (exceptions.Throttled, "RATE_LIMITED"),
]


def _api_field(field: str | None, context: dict[str, Any]) -> str:
    """A service argument's name as the API calls it (the view's api_field_names)."""
    names = getattr(context.get("view"), "api_field_names", {})
    return names.get(field, field) if field else "(root)"


def _first_problem(detail: Any, path: str = "") -> tuple[str, str]:
    """The first field and message of a DRF ValidationError's nested detail."""
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        return _first_problem(value, f"{path}.{key}" if path else str(key))
    if isinstance(detail, list) and detail:
        return _first_problem(detail[0], path)
    return path or "(root)", str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, EnrollmentError):
        log.info("enrollment API error %s: %s", exc.code, exc.message)
        return Response(error_envelope(exc.code, exc.message, exc.cause), status=exc.status)
    if isinstance(exc, InvalidFilter):
        cause = {"field": "filter", "reason": exc.message, "position": exc.position}
        return Response(
            error_envelope("INVALID_FILTER", exc.message, cause), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, DomainError):
        # A service refused (the management API): the same words as the console's.
        field = _api_field(exc.field, context)
        cause = {"field": field, "reason": exc.message}
        return Response(
            error_envelope(CouldNotValidate.code, f"{field}: {exc.message}", cause),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.ValidationError):
        field, reason = _first_problem(exc.detail)
        cause = {"field": field, "reason": reason}
        return Response(
            error_envelope(CouldNotValidate.code, f"{field}: {reason}", cause),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return Response(error_envelope(Unauthorized.code, Unauthorized.default_message), status=401)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.UnsupportedMediaType):
        # wire-protocol.md: an unsupported content type is a 400, not a 415.
        return Response(
            error_envelope(InvalidContentType.code, str(exc.detail)), status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, exceptions.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "INVALID_REQUEST")
        response = Response(error_envelope(code, str(exc.detail)), status=exc.status_code)
        if isinstance(exc, exceptions.MethodNotAllowed):
            allowed = context.get("view")
            if allowed is not None:
                response["Allow"] = ", ".join(allowed.allowed_methods)
        return response
    return None
