"""The management API's identities, enrollments and authenticators (OpenZiti's
management.yml): thin views over identities.services, as the console and the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from django.db.models import Exists, Model, OuterRef, Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from authorities.models import CertificateAuthority
from identities import services
from identities.models import Authenticator, Enrollment, EnrollmentMethod, Identity, IdentityType
from kernel import api
from kernel.zitiql import Field, InvalidFilter, Kind

# OpenZiti's zero time: the identity types are built in, never created.
BUILT_IN = "0001-01-01T00:00:00.000Z"

IDENTITY_FIELDS = {
    "id": Field("id"),
    "name": Field("name"),
    "type": Field("identity_type"),
    "isAdmin": Field("is_admin", Kind.BOOLEAN),
    "externalId": Field("external_id", nullable=True),
    "createdAt": Field("created_at", Kind.DATETIME),
    "roleAttributes": Field("role_attributes", Kind.STRING_SET),
}
ENROLLMENT_FIELDS = {
    "id": Field("id"),
    "method": Field("method"),
    "identityId": Field("identity_id"),
    "token": Field("token"),
    "expiresAt": Field("expires_at", Kind.DATETIME),
}
AUTHENTICATOR_FIELDS = {
    "id": Field("id", Kind.NUMBER),
    "identityId": Field("identity_id"),
    "fingerprint": Field("fingerprint"),
    "expiresAt": Field("not_after", Kind.DATETIME),
}
# Service arguments, in the API's words.
FIELD_NAMES = {"identity_type": "type", "external_id": "externalId", "expires_at": "expiresAt", "ca": "caId"}


def _ref(identity: Identity) -> dict[str, Any]:
    return {
        "id": identity.id,
        "name": identity.name,
        "entity": "identities",
        "_links": api.links("identities", identity.id),
    }


class PendingTokenSerializer(serializers.Serializer):
    id = serializers.CharField()
    token = serializers.CharField()
    jwt = serializers.CharField()
    expiresAt = serializers.DateTimeField()
    caId = serializers.CharField(required=False)


class IdentityEnrollmentsSerializer(serializers.Serializer):
    ott = PendingTokenSerializer(required=False)
    ottca = PendingTokenSerializer(required=False)


class IdentityDetailSerializer(api.BaseEntitySerializer):
    url_name = "identities"
    name = serializers.CharField()
    type = serializers.SerializerMethodField()
    typeId = serializers.CharField(source="identity_type")
    isAdmin = serializers.BooleanField(source="is_admin")
    isDefaultAdmin = api.constant(False, OpenApiTypes.BOOL)
    disabled = serializers.BooleanField(source="is_disabled")
    externalId = serializers.CharField(source="external_id", allow_null=True)
    roleAttributes = serializers.ListField(source="role_attributes", child=serializers.CharField())
    authenticators = serializers.SerializerMethodField()
    enrollment = serializers.SerializerMethodField()
    hasApiSession = serializers.SerializerMethodField()
    # Fields of OpenZiti's identity that this controller has no use for: their empty values.
    envInfo = api.constant({}, serializers.DictField())
    sdkInfo = api.constant({}, serializers.DictField())
    hasEdgeRouterConnection = api.constant(False, OpenApiTypes.BOOL)
    edgeRouterConnectionStatus = api.constant(
        "unknown", serializers.ChoiceField(choices=["online", "offline", "unknown"])
    )
    isMfaEnabled = api.constant(False, OpenApiTypes.BOOL)
    serviceHostingPrecedences = api.constant({}, serializers.DictField())
    serviceHostingCosts = api.constant({}, serializers.DictField())
    defaultHostingCost = api.constant(0, OpenApiTypes.INT)
    defaultHostingPrecedence = api.constant("default", OpenApiTypes.STR)
    authPolicyId = api.constant("default", OpenApiTypes.STR)
    authPolicy = api.constant(
        {
            "id": "default",
            "name": "Default",
            "entity": "auth-policies",
            "_links": api.links("auth-policies", "default"),
        },
        api.EntityRefSerializer,
    )
    # OpenZiti's fine-grained permissions; isAdmin already grants everything here.
    permissions = api.constant([], serializers.ListField(child=serializers.CharField()))

    @extend_schema_field(api.EntityRefSerializer)
    def get_type(self, identity: Identity) -> dict[str, Any]:
        kind = identity.identity_type
        return {
            "id": kind,
            "name": kind,
            "entity": "identity-types",
            "_links": api.links("identity-types", kind),
        }

    @extend_schema_field(
        inline_serializer(
            "IdentityAuthenticators",
            {
                "cert": inline_serializer(
                    "IdentityCertAuthenticator",
                    {"id": serializers.CharField(), "fingerprint": serializers.CharField()},
                    required=False,
                )
            },
        )
    )
    def get_authenticators(self, identity: Identity) -> dict[str, Any]:
        latest = next(iter(identity.authenticators.all()), None)  # prefetched, newest first
        return {"cert": {"id": str(latest.pk), "fingerprint": latest.fingerprint}} if latest else {}

    @extend_schema_field(IdentityEnrollmentsSerializer)
    def get_enrollment(self, identity: Identity) -> dict[str, Any]:
        now = self.context.get("now") or dt.datetime.now(dt.UTC)
        pending = [e for e in identity.enrollments.all() if e.is_pending(now)]
        if not pending or identity.is_disabled:
            return {}
        enrollment = pending[0]
        enrollment.identity = identity
        token = {
            "id": enrollment.id,
            "token": enrollment.token,
            "jwt": services.enrollment_jwt(enrollment),
            "expiresAt": api.timestamp(enrollment.expires_at),
        }
        if enrollment.method == EnrollmentMethod.OTTCA:
            token["caId"] = enrollment.ca_id or ""
        return {enrollment.method: token}

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_hasApiSession(self, identity: Identity) -> bool:
        return bool(getattr(identity, "has_api_session", False))


def _identities() -> QuerySet[Identity]:
    # Everything a page of identities shows, in a fixed number of queries. API sessions
    # belong to the enrollment layer: followed by the relation it declares, not imported;
    # an EXISTS per row of the page, not a join and GROUP BY over the whole table.
    sessions = cast(type[Model], Identity._meta.get_field("api_sessions").related_model)
    has_session = Exists(sessions._default_manager.filter(identity=OuterRef("pk")))
    return Identity.objects.annotate(has_api_session=has_session).prefetch_related(
        Prefetch("authenticators", Authenticator.objects.order_by("-created_at")),
        Prefetch("enrollments", Enrollment.objects.unconsumed().order_by("-created_at")),
    )


def _render_identities(rows: Iterable[Identity]) -> list[Any]:
    return list(IdentityDetailSerializer(rows, many=True, context={"now": dt.datetime.now(dt.UTC)}).data)


class EnrollmentChoice(serializers.Serializer):
    ott = api.Flag(required=False)
    ottca = api.Text(required=False)


class IdentityUpdateInput(serializers.Serializer):
    name = api.Text()
    type = serializers.ChoiceField(choices=IdentityType.values)
    isAdmin = api.Flag()
    roleAttributes = api.Strings()
    externalId = api.Text(required=False, allow_null=True)
    tags = api.Tags()


class IdentityCreateInput(IdentityUpdateInput):
    enrollment = EnrollmentChoice(required=False)


def _ottca(ca_id: str | None) -> CertificateAuthority | None:
    if ca_id is None:
        return None
    ca = CertificateAuthority.objects.filter(pk=ca_id).first()
    if ca is None:
        raise serializers.ValidationError({"enrollment.ottca": "no certificate authority with this id"})
    return ca


class IdentityListView(api.ManagementApiView):
    api_field_names = {**FIELD_NAMES, "ca": "enrollment.ottca"}

    @api.list_operation("listIdentities", IdentityDetailSerializer)
    def get(self, request: Request) -> Response:
        return api.listing(request, _identities(), IDENTITY_FIELDS, _render_identities)

    @api.create_operation("createIdentity", IdentityCreateInput)
    def post(self, request: Request) -> Response:
        data = api.validated(IdentityCreateInput, request.data)
        choice = data.get("enrollment") or {"ott": True}
        identity, _ = services.create_identity(
            name=data["name"],
            identity_type=data["type"],
            role_attributes=data.get("roleAttributes") or [],
            ca=_ottca(choice.get("ottca")),
            is_admin=data["isAdmin"],
            external_id=data.get("externalId"),
            tags=data.get("tags") or {},
        )
        return api.created(identity.id, "identities")


class IdentityDetailView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @api.detail_operation("detailIdentity", IdentityDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        identity = api.get_or_404(_identities(), pk, "identity")
        return Response(api.envelope(_render_identities([identity])[0]))

    @api.change_operation("updateIdentity", IdentityUpdateInput)
    def put(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    @api.change_operation("patchIdentity", IdentityUpdateInput(partial=True))
    def patch(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: str, *, partial: bool) -> Response:
        identity = api.get_or_404(Identity.objects.all(), pk, "identity")
        data = api.validated(IdentityUpdateInput, request.data, partial=partial)
        # PUT replaces every field (a left-out optional one is emptied); PATCH keeps
        # those it leaves out.
        given = data.keys() if partial else {"roleAttributes", "externalId", "tags"}
        services.update_identity(
            identity,
            name=data.get("name", identity.name),
            identity_type=data.get("type"),
            role_attributes=data.get("roleAttributes") or []
            if "roleAttributes" in given
            else identity.role_attributes,
            is_admin=data.get("isAdmin"),
            external_id=data.get("externalId") if "externalId" in given else services.KEEP,
            tags=data.get("tags") or {} if "tags" in given else None,
        )
        return api.empty()

    @api.change_operation("deleteIdentity")
    def delete(self, request: Request, pk: str) -> Response:
        services.delete_identity(api.get_or_404(Identity.objects.all(), pk, "identity"))
        return api.empty()


class DisableInput(serializers.Serializer):
    durationMinutes = api.Whole(help_text="0: disabled until enabled (timed disabling is not supported)")

    def validate_durationMinutes(self, minutes: int) -> int:
        if minutes != 0:
            raise serializers.ValidationError("only 0 is supported: disabled until an admin enables it")
        return minutes


class IdentityDisableView(api.ManagementApiView):
    @api.change_operation("disableIdentity", DisableInput)
    def post(self, request: Request, pk: str) -> Response:
        identity = api.get_or_404(Identity.objects.all(), pk, "identity")
        api.validated(DisableInput, request.data)
        services.set_identity_disabled(identity, True)
        return api.empty()


class IdentityEnableView(api.ManagementApiView):
    @api.change_operation("enableIdentity", None)
    def post(self, request: Request, pk: str) -> Response:
        services.set_identity_disabled(api.get_or_404(Identity.objects.all(), pk, "identity"), False)
        return api.empty()


class IdentityTypeSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    createdAt = serializers.DateTimeField()
    updatedAt = serializers.DateTimeField()
    _links = serializers.DictField(child=api.LinkSerializer())


def _identity_type(kind: str) -> dict[str, Any]:
    return {
        "id": kind,
        "name": kind,
        "createdAt": BUILT_IN,
        "updatedAt": BUILT_IN,
        "_links": api.links("identity-types", kind),
    }


def _static_listing(request: Request, items: list[Any]) -> Response:
    """A list the database does not hold: limit and offset; no filter."""
    parameters = api.ListParameters(data=request.query_params)
    parameters.is_valid(raise_exception=True)
    if parameters.validated_data.get("filter", "").strip():
        raise InvalidFilter("this list takes no filter", 0)
    limit, offset = parameters.validated_data["limit"], parameters.validated_data["offset"]
    meta = {
        "pagination": {"limit": limit, "offset": offset, "totalCount": len(items)},
        "filterableFields": [],
    }
    return Response(api.envelope(items[offset : offset + limit], meta))


class IdentityTypeListView(api.ManagementApiView):
    @api.list_operation("listIdentityTypes", IdentityTypeSerializer)
    def get(self, request: Request) -> Response:
        return _static_listing(request, [_identity_type(kind) for kind in IdentityType.values])


class IdentityTypeDetailView(api.ManagementApiView):
    @api.detail_operation("detailIdentityType", IdentityTypeSerializer)
    def get(self, request: Request, pk: str) -> Response:
        if pk not in IdentityType.values:
            raise NotFound("no identity type with this id")
        return Response(api.envelope(_identity_type(pk)))


class IdentityRoleAttributeListView(api.ManagementApiView):
    @extend_schema(
        operation_id="listIdentityRoleAttributes",
        parameters=api.LIST_PARAMETERS,
        responses={
            200: inline_serializer(
                "RoleAttributesListEnvelope",
                {
                    "data": serializers.ListField(child=serializers.CharField()),
                    "meta": api.ListMetaSerializer(),
                },
            ),
            **api.SESSION_ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        attributes: set[str] = set()
        for roles in Identity.objects.values_list("role_attributes", flat=True).iterator():
            attributes.update(roles or [])
        return _static_listing(request, sorted(attributes))


# Enrollments


class EnrollmentDetailSerializer(api.BaseEntitySerializer):
    url_name = "enrollments"
    updatedAt = api.TimestampField(source="created_at")
    method = serializers.CharField()
    token = serializers.CharField()
    expiresAt = api.TimestampField(source="expires_at")
    identityId = serializers.CharField(source="identity_id")
    identity = serializers.SerializerMethodField()
    caId = serializers.CharField(source="ca_id", allow_null=True)
    jwt = serializers.SerializerMethodField()
    details = api.constant({}, serializers.DictField())

    @extend_schema_field(api.EntityRefSerializer)
    def get_identity(self, enrollment: Enrollment) -> dict[str, Any]:
        return _ref(enrollment.identity)

    @extend_schema_field(OpenApiTypes.STR)
    def get_jwt(self, enrollment: Enrollment) -> str:
        return services.enrollment_jwt(enrollment)


def _enrollments() -> QuerySet[Enrollment]:
    # Redeemed tokens are history, not enrollments an admin can act on.
    return Enrollment.objects.unconsumed().select_related("identity")


def _render_enrollments(rows: Iterable[Enrollment]) -> list[Any]:
    return list(EnrollmentDetailSerializer(rows, many=True).data)


class EnrollmentCreateInput(serializers.Serializer):
    method = serializers.ChoiceField(choices=EnrollmentMethod.values)
    identityId = api.Text()
    expiresAt = serializers.DateTimeField()
    caId = api.Text(required=False, allow_null=True)


class ExpiryInput(serializers.Serializer):
    expiresAt = serializers.DateTimeField()


class EnrollmentListView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @api.list_operation("listEnrollments", EnrollmentDetailSerializer)
    def get(self, request: Request) -> Response:
        return api.listing(request, _enrollments(), ENROLLMENT_FIELDS, _render_enrollments)

    @api.create_operation("createEnrollment", EnrollmentCreateInput)
    def post(self, request: Request) -> Response:
        data = api.validated(EnrollmentCreateInput, request.data)
        identity = Identity.objects.filter(pk=data["identityId"]).first()
        if identity is None:
            raise serializers.ValidationError({"identityId": "no identity with this id"})
        ca = None
        if data["method"] == EnrollmentMethod.OTTCA:
            ca = CertificateAuthority.objects.filter(pk=data.get("caId") or "").first()
            if ca is None:
                raise serializers.ValidationError({"caId": "an ottca enrollment needs the id of a CA"})
        enrollment = services.add_enrollment(identity, ca=ca, expires_at=data["expiresAt"])
        return api.created(enrollment.id, "enrollments")


class EnrollmentDetailView(api.ManagementApiView):
    @api.detail_operation("detailEnrollment", EnrollmentDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        enrollment = api.get_or_404(_enrollments(), pk, "enrollment")
        return Response(api.envelope(_render_enrollments([enrollment])[0]))

    @api.change_operation("deleteEnrollment")
    def delete(self, request: Request, pk: str) -> Response:
        services.delete_enrollment(api.get_or_404(_enrollments(), pk, "enrollment"))
        return api.empty()


class EnrollmentRefreshView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @api.change_operation("refreshEnrollment", ExpiryInput, answer=(200, api.CreateEnvelopeSerializer))
    def post(self, request: Request, pk: str) -> Response:
        enrollment = api.get_or_404(_enrollments(), pk, "enrollment")
        data = api.validated(ExpiryInput, request.data)
        refreshed = services.reissue_enrollment(enrollment.identity, expires_at=data["expiresAt"])
        response = api.created(refreshed.id, "enrollments")
        response.status_code = 200
        return response


class IdentityEnrollmentsView(api.ManagementApiView):
    @extend_schema(
        operation_id="getIdentityEnrollments",
        responses={200: api.envelope_of(EnrollmentDetailSerializer, many=True), **api.RESOURCE_ERRORS},
    )
    def get(self, request: Request, pk: str) -> Response:
        identity = api.get_or_404(Identity.objects.all(), pk, "identity")
        return api.listing(
            request, _enrollments().filter(identity=identity), ENROLLMENT_FIELDS, _render_enrollments
        )


# Authenticators


class AuthenticatorDetailSerializer(api.BaseEntitySerializer):
    url_name = "authenticators"
    updatedAt = api.TimestampField(source="created_at")
    method = api.constant("cert", OpenApiTypes.STR)
    identityId = serializers.CharField(source="identity_id")
    identity = serializers.SerializerMethodField()
    fingerprint = serializers.CharField()
    certPem = serializers.CharField(source="certificate_pem")
    expiresAt = api.TimestampField(source="not_after")
    isIssuedByNetwork = serializers.BooleanField(source="is_internal")
    isExtendRequested = serializers.BooleanField(source="is_extend_requested")
    isKeyRollRequested = serializers.BooleanField(source="is_key_roll_requested")

    @extend_schema_field(api.EntityRefSerializer)
    def get_identity(self, authenticator: Authenticator) -> dict[str, Any]:
        return _ref(authenticator.identity)


def _authenticators() -> QuerySet[Authenticator]:
    return Authenticator.objects.select_related("identity")


def _render_authenticators(rows: Iterable[Authenticator]) -> list[Any]:
    return list(AuthenticatorDetailSerializer(rows, many=True).data)


def _authenticator(pk: str) -> Authenticator:
    if not pk.isdigit():
        raise NotFound("no authenticator with this id")
    return api.get_or_404(_authenticators(), pk, "authenticator")


class AuthenticatorListView(api.ManagementApiView):
    @api.list_operation("listAuthenticators", AuthenticatorDetailSerializer)
    def get(self, request: Request) -> Response:
        return api.listing(request, _authenticators(), AUTHENTICATOR_FIELDS, _render_authenticators)


class AuthenticatorDetailView(api.ManagementApiView):
    @api.detail_operation("detailAuthenticator", AuthenticatorDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(api.envelope(_render_authenticators([_authenticator(pk)])[0]))

    @api.change_operation("deleteAuthenticator")
    def delete(self, request: Request, pk: str) -> Response:
        services.delete_authenticator(_authenticator(pk))
        return api.empty()


class AuthenticatorReEnrollView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @api.change_operation("reEnrollAuthenticator", ExpiryInput, answer=api.CREATED)
    def post(self, request: Request, pk: str) -> Response:
        authenticator = _authenticator(pk)
        data = api.validated(ExpiryInput, request.data)
        enrollment = services.reset_enrollment(authenticator.identity, expires_at=data["expiresAt"])
        return api.created(enrollment.id, "enrollments")


class RequestExtendInput(serializers.Serializer):
    rollKeys = api.Flag(required=False, default=False)


class AuthenticatorRequestExtendView(api.ManagementApiView):
    @api.change_operation("requestExtendAuthenticator", RequestExtendInput)
    def post(self, request: Request, pk: str) -> Response:
        authenticator = _authenticator(pk)
        data = api.validated(RequestExtendInput, request.data)
        services.request_certificate_extension(authenticator, roll_keys=data["rollKeys"])
        return api.empty()


class IdentityAuthenticatorsView(api.ManagementApiView):
    @extend_schema(
        operation_id="getIdentityAuthenticators",
        responses={200: api.envelope_of(AuthenticatorDetailSerializer, many=True), **api.RESOURCE_ERRORS},
    )
    def get(self, request: Request, pk: str) -> Response:
        identity = api.get_or_404(Identity.objects.all(), pk, "identity")
        rows = _authenticators().filter(identity=identity)
        return api.listing(request, rows, AUTHENTICATOR_FIELDS, _render_authenticators)
