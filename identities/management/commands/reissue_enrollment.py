"""`manage.py reissue_enrollment NAME`: a new one-time token for an identity not yet enrolled."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from identities.errors import IdentityError
from identities.management.lookup import (
    add_new_token_arguments,
    expiry_in,
    hand_out,
    identity_by_name,
    refuse_existing,
)
from identities.services import reissue_enrollment
from kernel.commands import ControllerCommand


class Command(ControllerCommand):
    help = "Give an identity whose token expired (or is unused) a new token; the old one stops working."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the identity's name")
        add_new_token_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_existing(options["output"])
        identity = identity_by_name(options["name"])
        try:
            enrollment = reissue_enrollment(identity, expires_at=expiry_in(options["hours"]))
        except IdentityError as exc:
            raise CommandError(exc.message) from exc
        hand_out(enrollment, options["output"], self.stdout, self.stderr)
