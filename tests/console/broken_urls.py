"""The console's URLs plus one page that fails, to see the 500 page the admin would."""

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from ziticonsole.urls import handler400, handler500

__all__ = ["handler400", "handler500", "urlpatterns"]


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug with a secret: hunter2")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("the rule that refused, with a secret: hunter2")


urlpatterns = [
    path("broken/", broken),
    path("forbidden/", forbidden),
    path("edge/client/v1/broken/", login_not_required(broken)),
    path("", include("ziticonsole.urls")),
]
