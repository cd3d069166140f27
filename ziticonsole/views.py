"""Console pages of the project as a whole."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from enrollment.errors import RateLimited, error_envelope
from kernel.api import MANAGEMENT_API_PREFIX
from ziticonsole.middleware import is_api_path

THROTTLED = "Too many failed logins for this account or from this address. Wait a few minutes and try again."


def login_throttled(request: HttpRequest, credentials: dict[str, Any] | None = None, *_: Any) -> HttpResponse:
    """The login page again, saying why, with 429: django-axes calls this on a lockout.

    The same words whether or not the account exists, so the answer tells nothing. On
    the management API (password authentication) the same, as its error envelope.
    """
    if is_api_path(request.path):
        return JsonResponse(error_envelope(RateLimited.code, THROTTLED), status=RateLimited.status)
    context = {"form": AuthenticationForm(request), "throttled": THROTTLED}
    return render(request, "registration/login.html", context, status=429)


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """The OpenAPI documents of both edge APIs, browsable (Swagger UI, served from here)."""
    apis = [
        {"key": "management", "title": "Edge management API", "url": reverse("management-specs")},
        {"key": "client", "title": "Edge client API", "url": reverse("client-specs")},
    ]
    chosen = next((api for api in apis if api["key"] == request.GET.get("api")), apis[0])
    context = {"apis": apis, "chosen": chosen, "management_prefix": MANAGEMENT_API_PREFIX}
    return render(request, "api_docs.html", context)
