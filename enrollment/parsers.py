"""Request body parsers for the enrollment API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from enrollment.csr import MAX_CSR_BYTES
from enrollment.errors import CouldNotProcessCsr


class PemCsrParser(BaseParser):
    """A CSR in PEM as the whole body (the C SDK sends text/plain)."""

    media_type = "text/plain"

    # DRF passes whatever a parser returns on as request.data; a str marks a PEM body.
    def parse(  # type: ignore[override]
        self, stream: Any, media_type: str | None = None, parser_context: Any = None
    ) -> str:
        body = stream.read(MAX_CSR_BYTES + 1)
        if len(body) > MAX_CSR_BYTES:
            raise CouldNotProcessCsr("the CSR is too large")
        try:
            return body.decode("ascii")
        except UnicodeDecodeError as exc:
            raise CouldNotProcessCsr("a PEM CSR is ASCII text; the body is not") from exc


class PemFileParser(PemCsrParser):
    media_type = "application/x-pem-file"


class Pkcs10Parser(PemCsrParser):
    media_type = "application/pkcs10"


class AnyContentNegotiation(DefaultContentNegotiation):
    """Always render JSON errors; the ott view chooses PEM itself from the Accept header.

    DRF's default would answer 406 before the view runs when a client accepts only
    application/x-pem-file, which the C SDK may do.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type
