"""Console pages of the project as a whole."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import reverse
from django.views.decorators.http import require_safe

from enrollment.errors import RateLimited, error_envelope
from kernel.api import MANAGEMENT_API_PREFIX
from ziticonsole import services
from ziticonsole.middleware import is_api_path, oversized_form

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


# A form refused before any view ran: too many fields or files (Django's limits), or a
# body it could not take. The admin gets the form back with words, as for a large body.
_FORM_TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: the oversized-form words for a console form, else a styled page."""
    if isinstance(exception, _FORM_TOO_LARGE) and request.method == "POST" and not is_api_path(request.path):
        return oversized_form(request)
    if is_api_path(request.path):
        body = error_envelope("COULD_NOT_PARSE_BODY", "the request could not be understood")
        return JsonResponse(body, status=400)
    return render(request, "400.html", status=400)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a stale tab's form. It says what to do and nothing of why (the
    reason names tokens and cookies, which helps no admin and tells an attacker much)."""
    return render(request, "403_csrf.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: the API keeps its envelope; the console gets its own look. Rendered
    without context processors, as Django's own handler does, so nothing that failed is
    asked again."""
    if is_api_path(request.path):
        body = error_envelope("UNHANDLED", "the controller could not answer this request; try again")
        return JsonResponse(body, status=500)
    return HttpResponseServerError(loader.get_template("500.html").render())


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's page; the change itself is the service's, so it is audited."""

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        services.change_admin_password(self.request, form)
        return HttpResponseRedirect(self.get_success_url())


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
