"""Project-wide request middleware."""

import re
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat

from kernel.actors import Actor, acting_as

_SLASHES = re.compile(r"/{2,}")


def collapse_slashes(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Resolve `//enroll` as `/enroll`: some SDKs join the base URL and path naively."""

    def middleware(request: HttpRequest) -> HttpResponse:
        if "//" in request.path_info:
            request.path_info = _SLASHES.sub("/", request.path_info)
            request.path = _SLASHES.sub("/", request.path)
        return get_response(request)

    return middleware


@cache
def api_path_prefixes() -> tuple[str, ...]:
    """Where the JSON APIs live: the enrollment routes, at / and under the edge client
    prefix, and the management API."""
    from enrollment import urls as enrollment_urls
    from enrollment.api import API_PREFIX
    from kernel.api import MANAGEMENT_API_PREFIX

    literal = {str(pattern.pattern).split("<", 1)[0] for pattern in enrollment_urls.urlpatterns}
    bases = (API_PREFIX.rstrip("/") + "/", MANAGEMENT_API_PREFIX.rstrip("/"))
    return (*bases, *sorted(f"/{p}" for p in literal))


def is_api_path(path: str) -> bool:
    """Whether `path` (no query) is the JSON API's; `//enroll` is `/enroll` (wire-protocol.md)."""
    return ("/" + path.lstrip("/")).startswith(api_path_prefixes())


def console_body_limit(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A console form too large for Django comes back as the form, with words, not a bare 400.

    Django refuses such a body (DATA_UPLOAD_MAX_MEMORY_SIZE) when the CSRF check first
    reads it; answering before that keeps the admin on the page with a message.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if (
            request.method == "POST"
            and limit is not None
            and length > limit
            and not is_api_path(request.path)
        ):
            return oversized_form(request, length)
        return get_response(request)

    return middleware


def oversized_form(request: HttpRequest, length: int | None = None) -> HttpResponse:
    """Back to the form (a 303 to the same address) with words saying nothing was saved:
    for a body too large and, from the 400 handler, for one with too many fields."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if length:
        sent = (
            f"What you sent was {filesizeformat(length)}, "
            f"more than the {filesizeformat(limit)} a form may hold"
        )
    else:
        sent = "What you sent was more than a form may hold"
    messages.error(
        request,
        f"{sent}, so nothing was saved. A certificate is a few kilobytes: "
        "check that you chose the right file.",
    )
    return HttpResponseRedirect(request.get_full_path(), status=303)


def content_security_policy(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Every response carries the console's Content-Security-Policy (settings)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response

    return middleware


def console_actor(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """A signed-in admin's request runs on their behalf, so what it changes is recorded as theirs.

    After enrollment.middleware.client_certificate, which settles REMOTE_ADDR behind the proxy.
    """

    def middleware(request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or is_api_path(request.path):
            return get_response(request)
        actor = Actor(
            "admin",
            user.get_username(),
            ref=str(user.pk),
            address=request.META.get("REMOTE_ADDR"),
            channel="console",
        )
        with acting_as(actor):
            return get_response(request)

    return middleware
