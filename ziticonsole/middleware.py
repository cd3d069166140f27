"""Project-wide request middleware."""

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

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
