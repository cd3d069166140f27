from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from authorities.pki import CRL_PATH, OCSP_PATH
from enrollment import pki_api
from enrollment.api import API_PREFIX
from ziticonsole import views

handler400 = "ziticonsole.views.bad_request"
handler500 = "ziticonsole.views.server_error"

urlpatterns = [
    # The management API and both APIs' OpenAPI documents; the specs before the client
    # API's routes, which take the same prefix.
    path("", include("ziticonsole.management_urls")),
    # The enrollment API at the root (C SDK) and under the edge client prefix (Go SDKs).
    path("", include(("enrollment.urls", "api"))),
    path(f"{API_PREFIX.strip('/')}/", include(("enrollment.urls", "api"), namespace="api-v1")),
    # Revocation status of the signing CA's certificates, where those certificates say.
    path(CRL_PATH.lstrip("/"), pki_api.signing_ca_crl, name="crl"),
    path(OCSP_PATH.lstrip("/"), pki_api.ocsp_responder, name="ocsp"),
    path(f"{OCSP_PATH.lstrip('/')}/<path:encoded>", pki_api.ocsp_responder, name="ocsp-get"),
    # The console.
    path("", RedirectView.as_view(pattern_name="identities:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("identities/", include("identities.urls")),
    path("certificate-authorities/", include("authorities.urls")),
    path("audit/", include("audit.urls")),
    path("api-docs/", views.api_docs, name="api-docs"),
]
