from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from enrollment.api import API_PREFIX

urlpatterns = [
    # The enrollment API at the root (C SDK) and under the edge client prefix (Go SDKs).
    path("", include(("enrollment.urls", "api"))),
    path(f"{API_PREFIX.strip('/')}/", include(("enrollment.urls", "api"), namespace="api-v1")),
    # The console.
    path("", RedirectView.as_view(pattern_name="identities:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("identities/", include("identities.urls")),
    path("certificate-authorities/", include("authorities.urls")),
]
