"""The one shape of a domain error: a message for whoever caused it and, where it
applies, the input field it concerns. Each app's errors derive from DomainError; the
enrollment API's wire errors add their code on top."""

from __future__ import annotations


class DomainError(ValueError):
    """A request the domain refuses, phrased for the person or device that made it.

    A ValueError, as the identity and CA errors were before they shared this base.
    """

    default_message = "the request could not be carried out"

    def __init__(self, message: str | None = None, field: str | None = None) -> None:
        self.message = message or self.default_message
        # The input the message is about ("name", "certificate", ...); None for the whole request.
        self.field = field
        super().__init__(self.message)
