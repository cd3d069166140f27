"""The management API's certificate authorities (OpenZiti's management.yml `/cas`):
thin views over authorities.services, as the console and the CLI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
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


class CaDetailSerializer(api.BaseEntitySerializer):
    url_name = "cas"
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

    def to_representation(self, instance: CertificateAuthority) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        # The proof-of-possession token is of use only until the CA is verified.
        data.pop("verificationToken")
        if not instance.is_verified and instance.verification_token:
            data["verificationToken"] = instance.verification_token
        return data


def _render(rows: Iterable[CertificateAuthority]) -> list[Any]:
    return list(CaDetailSerializer(rows, many=True).data)


class CaUpdateInput(serializers.Serializer):
    name = api.Text()
    isAutoCaEnrollmentEnabled = api.Flag()
    isOttCaEnrollmentEnabled = api.Flag()
    isAuthEnabled = api.Flag()
    identityRoles = api.Strings(required=True)
    identityNameFormat = api.Text()


class CaCreateInput(CaUpdateInput):
    certPem = api.Text()
    identityNameFormat = api.Text(required=False)  # the default format when left out


def _ca(pk: str) -> CertificateAuthority:
    return api.get_or_404(CertificateAuthority.objects.all(), pk, "certificate authority")


class CaListView(api.ManagementApiView):
    api_field_names = FIELD_NAMES

    @api.list_operation("listCas", CaDetailSerializer)
    def get(self, request: Request) -> Response:
        return api.listing(request, CertificateAuthority.objects.all(), CA_FIELDS, _render)

    @api.create_operation("createCa", CaCreateInput)
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

    @api.detail_operation("detailCa", CaDetailSerializer)
    def get(self, request: Request, pk: str) -> Response:
        return Response(api.envelope(_render([_ca(pk)])[0]))

    @api.change_operation("updateCa", CaUpdateInput)
    def put(self, request: Request, pk: str) -> Response:
        return self._update(request, pk, partial=False)

    @api.change_operation("patchCa", CaUpdateInput(partial=True))
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

    @api.change_operation("deleteCa")
    def delete(self, request: Request, pk: str) -> Response:
        services.delete_certificate_authority(_ca(pk))
        return api.empty()


class CaVerifyView(api.ManagementApiView):
    """Proof of possession: a PEM certificate whose CN is the verificationToken."""

    api_field_names = FIELD_NAMES
    parser_classes = [api.PemTextParser]

    @api.change_operation("verifyCa", {"text/plain": OpenApiTypes.STR})
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
