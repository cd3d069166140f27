"""Request body parsers for the enrollment API."""

from __future__ import annotations

from enrollment.csr import MAX_CSR_BYTES
from enrollment.errors import CouldNotProcessCsr
from kernel.api import PemTextParser


class PemCsrParser(PemTextParser):
    """A CSR in PEM as the whole body (the C SDK sends text/plain)."""

    max_bytes = MAX_CSR_BYTES
    noun = "the CSR"

    def refusal(self, message: str) -> Exception:
        return CouldNotProcessCsr(message)


class PemFileParser(PemCsrParser):
    media_type = "application/x-pem-file"


class Pkcs10Parser(PemCsrParser):
    media_type = "application/pkcs10"
