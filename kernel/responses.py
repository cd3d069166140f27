"""Responses the console pages share."""

import zipfile
from collections.abc import Iterable, Iterator

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header


def jwt_download(token: str, name: str) -> HttpResponse:
    """An enrollment JWT as the file `<name>.jwt`, safely quoted whatever the name holds."""
    return _attachment(HttpResponse(token, content_type="application/jwt"), f"{name}.jwt")


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    # Never None with as_attachment=True; the fallback only satisfies the type.
    disposition = content_disposition_header(as_attachment=True, filename=filename)
    response["Content-Disposition"] = disposition or "attachment"
    return response


class _Chunks:
    """A write-only file for zipfile that hands on what was written since the last look."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def zip_member_name(name: str) -> str:
    """A name as a file at the top of a ZIP: no directories, nothing hidden, no `..`."""
    flat = name.replace("/", "_").replace("\\", "_").lstrip(".")
    return flat or "_"


def zip_stream(files: Iterable[tuple[str, str]]) -> Iterator[bytes]:
    """The bytes of a ZIP of (file name, text), a file at a time; names cannot climb out."""
    chunks = _Chunks()
    with zipfile.ZipFile(chunks, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in files:
            archive.writestr(zip_member_name(name), text)
            yield chunks.take()
    yield chunks.take()


def zip_download(files: Iterable[tuple[str, str]], name: str) -> StreamingHttpResponse:
    """A ZIP of (file name, text) as `<name>.zip`, written while it is sent: the files
    are made one by one, so a large one starts at once and is never held whole."""
    response = StreamingHttpResponse(zip_stream(files), content_type="application/zip")
    disposition = content_disposition_header(as_attachment=True, filename=f"{name}.zip")
    response["Content-Disposition"] = disposition or "attachment"
    return response
