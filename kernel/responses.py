"""Responses the console pages share."""

from django.http import HttpResponse
from django.utils.http import content_disposition_header


def jwt_download(token: str, name: str) -> HttpResponse:
    """An enrollment JWT as the file `<name>.jwt`, safely quoted whatever the name holds."""
    response = HttpResponse(token, content_type="application/jwt")
    # Never None with as_attachment=True; the fallback only satisfies the type.
    disposition = content_disposition_header(as_attachment=True, filename=f"{name}.jwt")
    response["Content-Disposition"] = disposition or "attachment"
    return response
