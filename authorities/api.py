"""The management API's certificate authorities (OpenZiti's management.yml `/cas`):
thin views over authorities.services, as the console and the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from authorities import services
from authorities.models import CertificateAuthority
from kernel import api
from kernel.zitiql import Field, Kind

CA_FIELDS = {
    "id": Field("id"),
    "name": Field("name"),
    "fingerprint": Field("fingerprint"),
    "isVerified": Field("is_verified", Kind.BOOLEAN),
    "isAutoCaEnrollmentEnabled": Field("is_auto_ca_enrollment_enabled", Kind.BOOLEAN),
    "isOttCaEnrollmentEnabled": Field("is_ott_ca_enrollment_enabled", Kind.BOOLEAN),
    "isAuthEnabled": Field("is_auth_enabled", Kind.BOOLEAN),
    "createdAt": Field("created_at", Kind.DATETIME),
}
FIELD_NAMES = {"certificate": "certPem", "identity_name_format": "identityNameFormat"}


class CaDetailSerializer(serializers.Serializer):
    id = serializers.CharField()
    createdAt = serializers.SerializerMethodField()
    updatedAt = serializers.SerializerMethodField()
    _links = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    name = serializers.CharField()
    certPem = serializers.CharField(source="certificate_pem")
    fingerprint = serializers.CharField()
    isVerified = serializers.BooleanField(source="is_verified")
    # Not read-only, so that the document does not call it required: it comes and goes.
    verificationToken = serializers.CharField(source="verification_token", required=False)
    isAutoCaEnrollmentEnabled = serializers.BooleanField(source="is_auto_ca_enrollment_enabled")
    isOttCaEnrollmentEnabled = serializers.BooleanField(source="is_ott_ca_enrollment_enabled")
    isAuthEnabled = serializers.BooleanField(source="is_auth_enabled")
    identityRoles = serializers.ListField(source="identity_roles", child=serializers.CharField())
    identityNameFormat = serializers.CharField(source="identity_name_format")

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_createdAt(self, ca: CertificateAuthority) -> str | None:
        return api.timestamp(ca.created_at)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_updatedAt(self, ca: CertificateAuthority) -> str | None:
        return api.timestamp(ca.updated_at)

    @extend_schema_field(serializers.DictField(child=api.LinkSerializer()))
    def get__links(self, ca: CertificateAuthority) -> dict[str, Any]:
        return api.links("cas", ca.id)

    @extend_schema_field(serializers.DictField())
    def get_tags(self, ca: CertificateAuthority) -> dict[str, Any]:
        return {}

    def to_representation(self, instance: CertificateAuthority) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        # The proof-of-possession token is of use only until the CA is verified.
        data.pop("verificationToken")
        if not instance.is_verified and instance.verification_token:
            data["verificationToken"] = instance.verification_token
        return data


def _render(rows: Iterable[CertificateAuthority]) -> list[Any]:
    return list(CaDetailSerializer(rows, many=True).data)


class CaCreateInput(serializers.Serializer):
    name = api.Text()
    certPem = api.Text()
    isAutoCaEnrollmentEnabled = api.Flag()
    isOttCaEnrollmentEnabled = api.Flag()
    isAuthEnabled = api.Flag()
    identityRoles = api.Strings(required=True)
    identityNameFormat = api.Text(required=False)


class CaUpdateInput(serializers.Serializer):
    name = api.Text()
    isAutoCaEnrollmentEnabled = api.Flag()
    isOttCaEnrollmentEnabled = api.Flag()
    isAuthEnabled = api.Flag()
    identityRoles = api.Strings(required=True)
    identityNameFormat = api.Text()


def _ca(pk: str) -> CertificateAuthority:
    return api.get_or_404(CertificateAuthority.objects.all(), pk, "certificate authority")


class CaListView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @extend_schema(
        operation_id="listCas",
        parameters=api.LIST_PARAMETERS,
        responses={200: api.envelope_of(CaDetailSerializer, many=True), **api.SESSION_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return api.listing(request, CertificateAuthority.objects.all(), CA_FIELDS, _render)

    @extend_schema(
        operation_id="createCa",
        request=CaCreateInput,
        responses={201: api.CreateEnvelopeSerializer, **api.SESSION_ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = api.validated(CaCreateInput, request.data)
        ca = services.create_certificate_authority(
            name=data["name"],
            certificate_pem=data["certPem"],
            ott_ca_enrollment=data["isOttCaEnrollmentEnabled"],
            auto_ca_enrollment=data["isAutoCaEnrollmentEnabled"],
            auth_enabled=data["isAuthEnabled"],
            identity_roles=data["identityRoles"] or [],
            identity_name_format=data.get("identityNameFormat"),
        )
        return api.created(ca.id, "cas")


class CaDetailView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @extend_schema(
        operation_id="detailCa",
        responses={200: api.envelope_of(CaDetailSerializer), **api.RESOURCE_ERRORS},
    )
    def get(self, request: Request, pk: str) -> Response:
        return Response(api.envelope(_render([_ca(pk)])[0]))

    @extend_schema(
        operation_id="updateCa",
        request=CaUpdateInput,
        responses={200: api.EmptyEnvelopeSerializer, **api.RESOURCE_ERRORS},
    )
    def put(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="patchCa",
        request=CaUpdateInput(partial=True),
        responses={200: api.EmptyEnvelopeSerializer, **api.RESOURCE_ERRORS},
    )
    def patch(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: str, *, partial: bool) -> Response:
        ca = _ca(pk)
        data = api.validated(CaUpdateInput, request.data, partial=partial)
        services.update_certificate_authority(
            ca,
            name=data.get("name", ca.name),
            ott_ca_enrollment=data.get("isOttCaEnrollmentEnabled", ca.is_ott_ca_enrollment_enabled),
            auto_ca_enrollment=data.get("isAutoCaEnrollmentEnabled", ca.is_auto_ca_enrollment_enabled),
            auth_enabled=data.get("isAuthEnabled", ca.is_auth_enabled),
            identity_roles=data.get("identityRoles", ca.identity_roles) or [],
            identity_name_format=data.get("identityNameFormat", ca.identity_name_format),
        )
        return api.empty()

    @extend_schema(
        operation_id="deleteCa",
        responses={200: api.EmptyEnvelopeSerializer, **api.RESOURCE_ERRORS},
    )
    def delete(self, request: Request, pk: str) -> Response:
        services.delete_certificate_authority(_ca(pk))
        return api.empty()


class CaVerifyView(api.ManagementApiView):
    """Proof of possession: a PEM certificate whose CN is the verificationToken."""

    api_field_names = FIELD_NAMES
    parser_classes = [api.PemTextParser]

    @extend_schema(
        operation_id="verifyCa",
        request={"text/plain": OpenApiTypes.STR},
        responses={200: api.EmptyEnvelopeSerializer, **api.RESOURCE_ERRORS},
    )
    def post(self, request: Request, pk: str) -> Response:
        ca = _ca(pk)
        pem = request.data
        if not isinstance(pem, str):
            raise serializers.ValidationError({"certPem": "send the PEM certificate as text/plain"})
        services.verify_certificate_authority(ca, pem)
        return api.empty()


class CaJwtView(api.ManagementApiView):
    """The CA's reusable auto-enrollment JWT."""

    @extend_schema(
        operation_id="getCaJwt",
        responses={
            (200, "application/jwt"): OpenApiResponse(OpenApiTypes.STR, description="the enrollment JWT"),
            **api.RESOURCE_ERRORS,
        },
    )
    def get(self, request: Request, pk: str) -> HttpResponse:
        return HttpResponse(services.ca_enrollment_jwt(_ca(pk)), content_type="application/jwt")
