"""The enrollment API of wire-protocol.md, as thin DRF views over enrollment.services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.decorators import method_decorator
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from authorities.errors import CertificateAuthorityError
from authorities.models import CertificateAuthority
from authorities.services import ca_enrollment_jwt
from enrollment import errors, services, sessions
from enrollment.middleware import client_certificate_of
from enrollment.models import ApiSession
from enrollment.parsers import PemCsrParser, PemFileParser, Pkcs10Parser
from identities.models import Authenticator
from kernel.actors import Actor, acting_as
from kernel.api import (
    MANAGEMENT_API_PREFIX,
    AnyContentNegotiation,
    ApiErrorEnvelopeSerializer,
    EmptyEnvelopeSerializer,
    EntityRefSerializer,
    LinkSerializer,
    MetaSerializer,
    envelope,
    envelope_of,
    links,
    timestamp,
)

VERSION = "1.0.0"
API_PREFIX = "/edge/client/v1"
PEM_CONTENT_TYPE = "application/x-pem-file"


@method_decorator(login_not_required, name="dispatch")
class EnrollmentApiView(APIView):
    """Public API: devices authenticate by token or certificate, never by cookie."""

    content_negotiation_class = AnyContentNegotiation

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # A device, known by its address until its token or certificate says which identity it is.
        actor = Actor("device", "", address=request.META.get("REMOTE_ADDR"), channel="client-api")
        with acting_as(actor):
            return super().dispatch(request, *args, **kwargs)


# Both answers are the same for every client until the controller restarts, and a device
# asks for them on a new connection before each enrollment: the server may replay them.
SAME_FOR_EVERYONE = {"public": True, "max_age": 60}


def version_data() -> dict[str, Any]:
    """What `GET /version` says on both APIs: the base paths clients discover, under
    OpenZiti's names (`edge` is the client API's older one)."""
    client = {"v1": {"path": API_PREFIX, "version": VERSION}}
    return {
        "version": VERSION,
        "revision": "",
        "buildDate": "",
        "apiVersions": {
            "edge": client,
            "edge-client": client,
            "edge-management": {"v1": {"path": MANAGEMENT_API_PREFIX, "version": VERSION}},
        },
    }


VERSION_RESPONSES = {
    200: inline_serializer("VersionEnvelope", {"data": serializers.DictField(), "meta": MetaSerializer()}),
    405: OpenApiResponse(ApiErrorEnvelopeSerializer, description="METHOD_NOT_ALLOWED"),
}
# What the client API's operations may refuse with (wire-protocol.md's codes).
REFUSED = OpenApiResponse(ApiErrorEnvelopeSerializer, description="refused: the error's code says why")
CLIENT_ERRORS = {400: REFUSED, 401: REFUSED, 403: REFUSED, 404: REFUSED, 405: REFUSED, 409: REFUSED}
DATA = inline_serializer("DataEnvelope", {"data": serializers.DictField(), "meta": MetaSerializer()})
TEXT = OpenApiTypes.STR


def _address(request: Request) -> str | None:
    return request.META.get("REMOTE_ADDR")


class VersionView(EnrollmentApiView):
    @extend_schema(operation_id="listVersion", responses=VERSION_RESPONSES)
    def get(self, request: Request) -> Response:
        response = Response(envelope(version_data()))
        patch_cache_control(response, **SAME_FOR_EVERYONE)
        return response


class CaCertsView(EnrollmentApiView):
    """RFC 7030 §4.1.3: base64 of a certs-only PKCS#7 holding the CA bundle."""

    @extend_schema(operation_id="listWellKnownCas", responses={(200, "application/pkcs7-mime"): TEXT})
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(services.ca_bundle_base64(), content_type="application/pkcs7-mime")
        response["Content-Transfer-Encoding"] = "base64"
        patch_cache_control(response, **SAME_FOR_EVERYONE)
        return response


def prefers_pem(accept: str) -> bool:
    """True when the client ranks application/x-pem-file above JSON (RFC 9110 §12.5.1)."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept.split(",")):
        media_type, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, media_type.lower()))
    for negative_quality, _, media_type in sorted(ranked):
        if negative_quality == 0:
            break
        if media_type == PEM_CONTENT_TYPE:
            return True
        if media_type in ("application/json", "application/*", "*/*"):
            return False
    return False


class EnrollView(EnrollmentApiView):
    parser_classes = [JSONParser, PemCsrParser, PemFileParser, Pkcs10Parser]

    @extend_schema(
        operation_id="enroll",
        parameters=[
            OpenApiParameter("method", str, enum=["ott", "ottca", "ca"], required=True),
            OpenApiParameter("token", str),
        ],
        request={
            "application/json": inline_serializer(
                "EnrollRequest",
                {
                    "name": serializers.CharField(required=False),
                    "clientCsr": serializers.CharField(required=False),
                },
            ),
            "text/plain": TEXT,
            "application/x-pem-file": TEXT,
            "application/pkcs10": TEXT,
        },
        responses={200: DATA, (200, PEM_CONTENT_TYPE): TEXT, **CLIENT_ERRORS},
    )
    def post(self, request: Request) -> Response | HttpResponse:
        method = request.query_params.get("method", "")
        with services.refusals_recorded(method, request.query_params.get("token")):
            return self._enroll(request, method)

    def _enroll(self, request: Request, method: str) -> Response | HttpResponse:
        if method == "ott":
            return self._enroll_ott(request)
        if method == "ottca":
            _json_object(request)  # no body is needed, but a malformed one is refused
            services.redeem_ottca(request.query_params.get("token"), client_certificate_of(request))
            return Response(envelope({}))
        if method == "ca":
            name = _json_object(request).get("name")
            if name is not None and not isinstance(name, str):
                raise errors.CouldNotValidate("name must be a string")
            services.enroll_with_ca(client_certificate_of(request), name)
            return Response(envelope({}))
        raise errors.InvalidEnrollMethod(f'"{method}" is not an enrollment method')

    def _enroll_ott(self, request: Request) -> Response | HttpResponse:
        issued = services.redeem_ott(request.query_params.get("token"), _csr_from(request))
        if prefers_pem(request.headers.get("Accept", "")):
            return HttpResponse(issued.chain_pem, content_type=PEM_CONTENT_TYPE)
        return Response(envelope({"cert": issued.chain_pem, "ca": issued.ca_bundle_pem}))


def _csr_from(request: Request) -> str | None:
    """The CSR from a PEM body or from `clientCsr` of a JSON object; None if there is none."""
    data = request.data
    if isinstance(data, str):
        return data
    if not data:
        return None
    if not isinstance(data, dict):
        raise errors.CouldNotProcessCsr("a JSON body must be an object with clientCsr")
    csr = data.get("clientCsr")
    if csr is not None and not isinstance(csr, str):
        raise errors.CouldNotProcessCsr("clientCsr must be a PEM string")
    return csr


def _json_object(request: Request) -> dict[str, Any]:
    """The JSON object body of an ottca or ca request; none or empty counts as {}."""
    data = request.data
    if isinstance(data, str):
        raise errors.InvalidContentType(f'content type "{request.content_type}" is not supported here')
    if not data:
        return {}
    if not isinstance(data, dict):
        raise errors.CouldNotValidate("the body must be a JSON object")
    return data


class CaJwtView(EnrollmentApiView):
    """The reusable auto-enrollment JWT of a verified CA."""

    @extend_schema(operation_id="getCaJwt", responses={(200, "application/jwt"): TEXT, **CLIENT_ERRORS})
    def get(self, request: Request, ca_id: str) -> HttpResponse:
        ca = CertificateAuthority.objects.filter(pk=ca_id).first()
        if ca is None:
            raise NotFound("no certificate authority with this id")
        try:
            token = ca_enrollment_jwt(ca)
        except CertificateAuthorityError as exc:
            raise errors.EnrollmentCaNotValid(exc.message) from exc
        return HttpResponse(token, content_type="application/jwt")


class SessionSerializer(serializers.Serializer):
    id = serializers.CharField()
    token = serializers.CharField()
    identityId = serializers.CharField()
    identity = EntityRefSerializer()
    authenticatorId = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    expiresAt = serializers.DateTimeField()
    expirationSeconds = serializers.IntegerField()
    ipAddress = serializers.CharField()
    isMfaRequired = serializers.BooleanField()
    isMfaComplete = serializers.BooleanField()
    isCertExtendable = serializers.BooleanField()
    configTypes = serializers.ListField(child=serializers.CharField())
    authQueries = serializers.ListField(child=serializers.DictField())
    _links = serializers.DictField(child=LinkSerializer())


def session_data(managed: sessions.LiveSession, address: str | None = None) -> dict[str, Any]:
    """An API session as OpenZiti's currentApiSessionDetail (both edge APIs)."""
    session = managed.session
    if managed.user is not None:
        # An admin account is no identity here; it stands in as one, by its id and username.
        identity_id, name = str(managed.user.pk), managed.user.get_username()
        authenticator = None
    else:
        identity = session.identity  # type: ignore[union-attr]
        identity_id, name = identity.id, identity.name
        authenticator = getattr(session, "authenticator", None)
    data: dict[str, Any] = {
        "id": session.id,
        "_links": links("current-api-session", session.id),
        "identityId": identity_id,
        "identity": {"id": identity_id, "name": name, "_links": links("identities", identity_id)},
        "createdAt": timestamp(session.created_at),
        "updatedAt": timestamp(session.last_activity_at),
        "cachedUpdatedAt": timestamp(session.last_activity_at),
        "lastActivityAt": timestamp(session.last_activity_at),
        "expiresAt": timestamp(session.expires_at),
        "expirationSeconds": int(ApiSession.idle_timeout().total_seconds()),
        "authQueries": [],
        "configTypes": [],
        "ipAddress": address or "",
        "isMfaRequired": False,
        "isMfaComplete": False,
        "authenticatorId": str(authenticator.pk) if authenticator else "",
        "isCertExtendable": bool(authenticator and authenticator.is_internal),
        "isCertExtendRequested": bool(authenticator and authenticator.is_extend_requested),
        "isCertKeyRollRequested": bool(authenticator and authenticator.is_key_roll_requested),
    }
    if managed.token is not None:
        data["token"] = managed.token
    return data


def _device_session(opened: sessions.OpenedSession | None, session: ApiSession) -> sessions.LiveSession:
    return sessions.LiveSession(
        session=session, user=None, identity=session.identity, token=opened.token if opened else None
    )


class AuthenticateView(EnrollmentApiView):
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="authenticate",
        parameters=[OpenApiParameter("method", str, enum=["cert"], required=True)],
        request=None,
        responses={200: envelope_of(SessionSerializer), **CLIENT_ERRORS},
    )
    def post(self, request: Request) -> Response:
        method = request.query_params.get("method", "")
        if method != "cert":
            raise errors.InvalidAuth(f'authentication method "{method}" is not supported; use cert')
        opened = sessions.authenticate_with_certificate(client_certificate_of(request))
        response = Response(
            envelope(session_data(_device_session(opened, opened.session), _address(request)))
        )
        response["zt-session"] = opened.token
        if opened.authenticator.is_extend_requested:
            # How OpenZiti tells a device, at authentication, that the admin wants it to renew.
            response["ziti-authenticator-extend-requested"] = "true"
            if opened.authenticator.is_key_roll_requested:
                response["ziti-authenticator-roll-key-requested"] = "true"
        return response


class CurrentApiSessionView(EnrollmentApiView):
    @extend_schema(
        operation_id="getCurrentAPISession", responses={200: envelope_of(SessionSerializer), **CLIENT_ERRORS}
    )
    def get(self, request: Request) -> Response:
        session = sessions.current_api_session(request.headers.get("zt-session"))
        return Response(envelope(session_data(_device_session(None, session), _address(request))))


class CurrentIdentityView(EnrollmentApiView):
    @extend_schema(operation_id="getCurrentIdentity", responses={200: DATA, **CLIENT_ERRORS})
    def get(self, request: Request) -> Response:
        identity = sessions.current_api_session(request.headers.get("zt-session")).identity
        return Response(
            envelope(
                {
                    "id": identity.id,
                    "name": identity.name,
                    "type": {"id": identity.identity_type, "name": identity.identity_type},
                    "typeId": identity.identity_type,
                    "roleAttributes": identity.role_attributes,
                    "disabled": identity.is_disabled,
                    "createdAt": timestamp(identity.created_at),
                    "updatedAt": timestamp(identity.updated_at),
                }
            )
        )


def _authenticator_data(authenticator: Authenticator) -> dict[str, Any]:
    return {
        "id": str(authenticator.pk),
        "method": "cert",
        "identityId": authenticator.identity_id,
        "fingerprint": authenticator.fingerprint,
        "certPem": authenticator.certificate_pem,
        "isIssuedByNetwork": authenticator.is_internal,
        "isExtendRequested": authenticator.is_extend_requested,
        "isKeyRollRequested": authenticator.is_key_roll_requested,
        "expiresAt": timestamp(authenticator.not_after),
        "createdAt": timestamp(authenticator.created_at),
    }


class CurrentIdentityAuthenticatorsView(EnrollmentApiView):
    @extend_schema(
        operation_id="listCurrentIdentityAuthenticators",
        responses={
            200: inline_serializer(
                "AuthenticatorsEnvelope",
                {
                    "data": serializers.ListField(child=serializers.DictField()),
                    "meta": serializers.DictField(),
                },
            ),
            **CLIENT_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        identity = sessions.current_api_session(request.headers.get("zt-session")).identity
        authenticators = [_authenticator_data(a) for a in identity.authenticators.order_by("pk")]
        meta = {"pagination": {"limit": len(authenticators), "offset": 0, "totalCount": len(authenticators)}}
        return Response({"data": authenticators, "meta": meta})


def _string_field(request: Request, field: str) -> str | None:
    data = request.data
    if not isinstance(data, dict):
        raise errors.CouldNotValidate(f"the body must be a JSON object with {field}")
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise errors.CouldNotValidate(f"{field} must be a PEM string")
    return value


class ExtendView(EnrollmentApiView):
    """Renewal, step one: a new certificate for the CSR, held until extend-verify."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="extendCurrentIdentityAuthenticator",
        request=inline_serializer("ExtendRequest", {"clientCertCsr": serializers.CharField()}),
        responses={200: DATA, **CLIENT_ERRORS},
    )
    def post(self, request: Request, authenticator_id: str) -> Response:
        issued = services.extend_certificate(
            request.headers.get("zt-session"),
            client_certificate_of(request),
            authenticator_id,
            _string_field(request, "clientCertCsr"),
        )
        return Response(envelope({"clientCert": issued.chain_pem, "ca": issued.ca_bundle_pem}))


class ExtendVerifyView(EnrollmentApiView):
    """Renewal, step two: the device shows it holds the new certificate; the swap."""

    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="extendVerifyCurrentIdentityAuthenticator",
        request=inline_serializer("ExtendVerifyRequest", {"clientCert": serializers.CharField()}),
        responses={200: EmptyEnvelopeSerializer, **CLIENT_ERRORS},
    )
    def post(self, request: Request, authenticator_id: str) -> Response:
        services.verify_extended_certificate(
            request.headers.get("zt-session"),
            client_certificate_of(request),
            authenticator_id,
            _string_field(request, "clientCert"),
        )
        return Response(envelope({}))
