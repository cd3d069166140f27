"""`manage.py reset_enrollment NAME`: start an enrolled identity over with a new token."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from authorities.models import RevocationReason
from identities.management.lookup import (
    add_new_token_arguments,
    expiry_in,
    hand_out,
    identity_by_name,
    refuse_existing,
)
from identities.services import reset_enrollment
from kernel.commands import ControllerCommand
from kernel.errors import DomainError


class Command(ControllerCommand):
    help = (
        "Reset the enrollment of an enrolled identity (device wiped or replaced): its certificates "
        "are removed (ours revoked) and a new one-time token of the matching method is issued."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the identity's name")
        parser.add_argument(
            "--reason",
            default=RevocationReason.SUPERSEDED.value,
            help="RFC 5280 revocation reason (default superseded)",
        )
        add_new_token_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_existing(options["output"])
        identity = identity_by_name(options["name"])
        try:
            enrollment = reset_enrollment(
                identity, expires_at=expiry_in(options["hours"]), reason=options["reason"]
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        hand_out(enrollment, options["output"], self.stdout, self.stderr)
