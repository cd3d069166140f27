"""The management API's routes (OpenZiti's management.yml paths, under
/edge/management/v1) and the OpenAPI documents of both edge APIs.

The resources' views live with their apps; only the routing is here, at the top layer,
the one that may import them all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularJSONAPIView

from authorities import api as ca_api
from enrollment import errors, management_api
from enrollment.api import API_PREFIX
from enrollment.errors import error_envelope
from identities import api as identity_api
from kernel.api import MANAGEMENT_API_PREFIX

resources: list[URLPattern | URLResolver] = [
    path("", management_api.RootView.as_view(), name="root"),
    path("version", management_api.VersionView.as_view(), name="version"),
    path("authenticate", management_api.AuthenticateView.as_view(), name="authenticate"),
    path("current-api-session", management_api.CurrentApiSessionView.as_view(), name="current-api-session"),
    path("identities", identity_api.IdentityListView.as_view(), name="identities"),
    path("identities/<str:pk>", identity_api.IdentityDetailView.as_view(), name="identity"),
    path("identities/<str:pk>/disable", identity_api.IdentityDisableView.as_view(), name="identity-disable"),
    path("identities/<str:pk>/enable", identity_api.IdentityEnableView.as_view(), name="identity-enable"),
    path(
        "identities/<str:pk>/authenticators",
        identity_api.IdentityAuthenticatorsView.as_view(),
        name="identity-authenticators",
    ),
    path(
        "identities/<str:pk>/enrollments",
        identity_api.IdentityEnrollmentsView.as_view(),
        name="identity-enrollments",
    ),
    path("identity-types", identity_api.IdentityTypeListView.as_view(), name="identity-types"),
    path("identity-types/<str:pk>", identity_api.IdentityTypeDetailView.as_view(), name="identity-type"),
    path(
        "identity-role-attributes",
        identity_api.IdentityRoleAttributeListView.as_view(),
        name="identity-role-attributes",
    ),
    path("cas", ca_api.CaListView.as_view(), name="cas"),
    path("cas/<str:pk>", ca_api.CaDetailView.as_view(), name="ca"),
    path("cas/<str:pk>/verify", ca_api.CaVerifyView.as_view(), name="ca-verify"),
    path("cas/<str:pk>/jwt", ca_api.CaJwtView.as_view(), name="ca-jwt"),
    path("enrollments", identity_api.EnrollmentListView.as_view(), name="enrollments"),
    path("enrollments/<str:pk>", identity_api.EnrollmentDetailView.as_view(), name="enrollment"),
    path(
        "enrollments/<str:pk>/refresh",
        identity_api.EnrollmentRefreshView.as_view(),
        name="enrollment-refresh",
    ),
    path("authenticators", identity_api.AuthenticatorListView.as_view(), name="authenticators"),
    path("authenticators/<str:pk>", identity_api.AuthenticatorDetailView.as_view(), name="authenticator"),
    path(
        "authenticators/<str:pk>/re-enroll",
        identity_api.AuthenticatorReEnrollView.as_view(),
        name="authenticator-re-enroll",
    ),
    path(
        "authenticators/<str:pk>/request-extend",
        identity_api.AuthenticatorRequestExtendView.as_view(),
        name="authenticator-request-extend",
    ),
]

# What each OpenAPI document describes: exactly the routes served under its base path.
management_patterns = [path(f"{MANAGEMENT_API_PREFIX.strip('/')}/", include((resources, "mgmt")))]
client_patterns = [path(f"{API_PREFIX.strip('/')}/", include(("enrollment.urls", "api"), namespace="api-v1"))]


def _document(
    patterns: Sequence[URLPattern | URLResolver], title: str, description: str
) -> Callable[..., HttpResponseBase]:
    view = SpectacularJSONAPIView.as_view(
        urlconf=list(patterns),
        custom_settings={"TITLE": title, "DESCRIPTION": description},
    )
    # The documents are public, as OpenZiti's are; they hold no data.
    return login_not_required(view)


management_document = _document(
    management_patterns,
    "Ziti identity controller: edge management API",
    "The part of OpenZiti's edge management API (management.yml, 0.29.0) that this controller serves.",
)
client_document = _document(
    client_patterns,
    "Ziti identity controller: edge client API",
    "The enrollment, authentication and renewal part of OpenZiti's edge client API (client.yml).",
)


@csrf_exempt
@login_not_required
def no_such_resource(request: HttpRequest, rest: str) -> JsonResponse:
    """Any other path under the management base answers in its envelope, not a page."""
    return JsonResponse(error_envelope(errors.NotFound.code, "no such resource"), status=404)


urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{MANAGEMENT_API_PREFIX.strip('/')}/specs", management_document, name="management-specs"),
    path(f"{API_PREFIX.strip('/')}/specs", client_document, name="client-specs"),
    *management_patterns,
    path(f"{MANAGEMENT_API_PREFIX.strip('/')}/<path:rest>", no_such_resource),
]
