"""The management API's authentication: admin accounts by password (throttled with
django-axes, as console logins), admin identities by certificate, the zt-session
header, logging out; and `GET /version` at the management base path."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from enrollment import errors, sessions
from enrollment.api import VERSION_RESPONSES, SessionSerializer, session_data, version_data
from enrollment.middleware import client_certificate_of
from identities.models import Identity
from kernel import api


@dataclass(frozen=True)
class AdminIdentity:
    """request.user for an admin identity's certificate session (no account of its own)."""

    identity: Identity
    is_authenticated: bool = True

    def get_username(self) -> str:
        return self.identity.name


class ManagementSessionAuthentication(BaseAuthentication):
    """zt-session must name a live session of an admin: request.user is the admin
    account (or the admin identity), request.auth the session (kernel.api.Credentials)."""

    def authenticate(self, request: Request) -> tuple[Any, sessions.LiveSession]:
        live = sessions.current_management_session(request.headers.get("zt-session"))
        user = live.user if live.user is not None else AdminIdentity(live.identity)  # type: ignore[arg-type]
        return user, live

    def authenticate_header(self, request: Request) -> str:
        return "zt-session"


class ZtSessionScheme(OpenApiAuthenticationExtension):
    target_class = ManagementSessionAuthentication
    name = "ztSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "zt-session"}


class PasswordInput(serializers.Serializer):
    username = api.Text()
    password = api.Text()


RATE_LIMITED = api.error("too many failed logins for the account or the address: RATE_LIMITED")
INVALID_AUTH = api.error("wrong username or password, or no admin certificate: INVALID_AUTH")


class AuthenticateView(api.PublicManagementApiView):
    @extend_schema(
        operation_id="authenticate",
        parameters=[OpenApiParameter("method", str, enum=["password", "cert"], required=True)],
        request=PasswordInput,
        responses={
            200: api.envelope_of(SessionSerializer),
            400: api.INVALID,
            401: INVALID_AUTH,
            405: api.NOT_ALLOWED,
            429: RATE_LIMITED,
        },
    )
    def post(self, request: Request) -> Response:
        method = request.query_params.get("method", "")
        if method == "password":
            credentials = api.validated(PasswordInput, request.data)
            # The Django request: django-axes marks a lockout on it for its middleware.
            live = sessions.authenticate_admin_with_password(
                request._request, credentials["username"], credentials["password"]
            )
        elif method == "cert":
            live = sessions.authenticate_admin_with_certificate(client_certificate_of(request))
        else:
            raise errors.InvalidAuth(
                f'authentication method "{method}" is not supported; use password or cert'
            )
        response = Response(api.envelope(session_data(live, request.META.get("REMOTE_ADDR"))))
        response["zt-session"] = live.token or ""
        return response


def _live(request: Request) -> sessions.LiveSession:
    return cast(sessions.LiveSession, request.auth)


class CurrentApiSessionView(api.ManagementApiView):
    @api.detail_operation("getCurrentAPISession", SessionSerializer)
    def get(self, request: Request) -> Response:
        # OpenZiti answers with the token too: the caller's own, which it just sent.
        live = replace(_live(request), token=request.headers.get("zt-session"))
        return Response(api.envelope(session_data(live, request.META.get("REMOTE_ADDR"))))

    @api.change_operation("deleteCurrentApiSession", errors=api.SESSION_ERRORS)
    def delete(self, request: Request) -> Response:
        sessions.end_management_session(_live(request))
        return api.empty()


class VersionView(api.PublicManagementApiView):
    @extend_schema(operation_id="listVersion", responses=VERSION_RESPONSES)
    def get(self, request: Request) -> Response:
        return Response(api.envelope(version_data()))


class RootView(VersionView):
    """The base path itself answers as /version does (OpenZiti's listRoot)."""

    @extend_schema(operation_id="listRoot", responses=VERSION_RESPONSES)
    def get(self, request: Request) -> Response:
        return super().get(request)
