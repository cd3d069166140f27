"""The signing CA's revocation status for relying parties: its CRL and an OCSP responder.

Public, like the CRL distribution point and the OCSP URL that every certificate of the
signing CA carries (authorities.pki.CRL_PATH, OCSP_PATH): no login, no CSRF (an OCSP
client posts DER, not a form).
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from authorities.revocation import current_crl_der, ocsp_response
from identities.querysets import holds_internal_serial

# An OCSP request is a few hundred bytes; anything near this is not one.
MAX_OCSP_REQUEST = 16 * 1024


@login_not_required
@require_safe
def signing_ca_crl(request: HttpRequest) -> HttpResponse:
    """RFC 5280 §5: the DER CRL, as RFC 2585 §3 names its media type."""
    response = HttpResponse(current_crl_der(), content_type="application/pkix-crl")
    # Fetched afresh each time: a revocation shows in the next fetch, not after a cache lifetime.
    response["Cache-Control"] = "no-cache"
    return response


@csrf_exempt
@login_not_required
@require_http_methods(["GET", "POST"])
def ocsp_responder(request: HttpRequest, encoded: str = "") -> HttpResponse:
    """RFC 6960 Appendix A.1: a DER request in a POST body, or base64 in the GET path."""
    if request.method == "POST":
        der = request.body[: MAX_OCSP_REQUEST + 1]
    else:
        try:
            der = base64.b64decode(urllib.parse.unquote(encoded), validate=True)
        except (binascii.Error, ValueError):
            der = b""
    if len(der) > MAX_OCSP_REQUEST:
        der = b""  # answered as malformedRequest
    return HttpResponse(ocsp_response(der, holds_internal_serial), content_type="application/ocsp-response")
