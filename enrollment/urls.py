from django.urls import path

from enrollment import api

# Mounted twice by the root URLconf: at / (C SDK) and at /edge/client/v1/ (Go SDKs).
urlpatterns = [
    path("version", api.VersionView.as_view(), name="version"),
    path(".well-known/est/cacerts", api.CaCertsView.as_view(), name="cacerts"),
    path("enroll", api.EnrollView.as_view(), name="enroll"),
    path("cas/<str:ca_id>/jwt", api.CaJwtView.as_view(), name="ca-jwt"),
    path("authenticate", api.AuthenticateView.as_view(), name="authenticate"),
    path("current-api-session", api.CurrentApiSessionView.as_view(), name="current-api-session"),
    path("current-identity", api.CurrentIdentityView.as_view(), name="current-identity"),
    path(
        "current-identity/authenticators",
        api.CurrentIdentityAuthenticatorsView.as_view(),
        name="current-identity-authenticators",
    ),
    path(
        "current-identity/authenticators/<str:authenticator_id>/extend",
        api.ExtendView.as_view(),
        name="extend",
    ),
    path(
        "current-identity/authenticators/<str:authenticator_id>/extend-verify",
        api.ExtendVerifyView.as_view(),
        name="extend-verify",
    ),
]
