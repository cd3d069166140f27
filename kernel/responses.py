"""Responses the console pages share."""

import io
import zipfile
from collections.abc import Mapping

from django.http import HttpResponse
from django.utils.http import content_disposition_header


def jwt_download(token: str, name: str) -> HttpResponse:
    """An enrollment JWT as the file `<name>.jwt`, safely quoted whatever the name holds."""
    return _attachment(HttpResponse(token, content_type="application/jwt"), f"{name}.jwt")


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    # Never None with as_attachment=True; the fallback only satisfies the type.
    disposition = content_disposition_header(as_attachment=True, filename=filename)
    response["Content-Disposition"] = disposition or "attachment"
    return response


def zip_member_name(name: str) -> str:
    """A name as a file at the top of a ZIP: no directories, nothing hidden, no `..`."""
    flat = name.replace("/", "_").replace("\\", "_").lstrip(".")
    return flat or "_"


def jwt_zip_download(tokens: Mapping[str, str], filename: str) -> HttpResponse:
    """Enrollment JWTs (name → JWT) as one ZIP of `<name>.jwt` files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, token in tokens.items():
            archive.writestr(f"{zip_member_name(name)}.jwt", token + "\n")
    return _attachment(HttpResponse(buffer.getvalue(), content_type="application/zip"), filename)
